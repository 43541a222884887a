package service_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"example.com/example-function/internal/database"
	"example.com/example-function/internal/database/cloudsqltest"
	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
	"example.com/example-function/internal/service"
	"example.com/example-function/internal/web"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The whole service on Cloud SQL: service.Start with INSTANCE_CONNECTION_NAME
// and friends, the connector redirected to a fake instance that forwards to
// a real PostgreSQL.

type cloudSQLApp struct {
	t       *testing.T
	fake    *cloudsqltest.Fake
	handler http.Handler
	logs    *proctest.Buffer
}

// startOnCloudSQL starts the service against a fake instance; env overrides
// the Cloud SQL settings derived from it.
func startOnCloudSQL(t *testing.T, fault cloudsqltest.Fault, env map[string]string) *cloudSQLApp {
	t.Helper()
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	fake := cloudsqltest.New(t, cloudsqltest.Options{Backend: u.Host})
	fake.SetFault(fault)
	vars := map[string]string{
		"INSTANCE_CONNECTION_NAME": fake.ConnectionName(),
		"DB_USER":                  "postgres",
		"DB_PASSWORD":              "secret",
		"DB_NAME":                  strings.TrimPrefix(u.Path, "/"),
		"DB_CONNECT_TIMEOUT":       "20s",
		"AUTH_MODE":                "dev",
		"DEV_USER":                 "alice",
		"DEV_GROUPS":               "editors",
		"EDITOR_GROUPS":            "editors",
		"LOG_FORMAT":               "text",
	}
	for k, v := range env {
		vars[k] = v
	}
	logs := &proctest.Buffer{}
	a, err := service.Start(context.Background(), func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, logs,
		service.WithDatabaseOptions(database.WithDialerOptions(fake.DialerOptions()...)))
	if err != nil {
		t.Fatalf("service.Start must not fail on a database problem: %v", err)
	}
	t.Cleanup(a.Close)
	h, err := web.NewHandler(a.Web)
	if err != nil {
		t.Fatal(err)
	}
	return &cloudSQLApp{t: t, fake: fake, handler: h, logs: logs}
}

func (a *cloudSQLApp) do(method, target, body string) (int, string) {
	a.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	a.handler.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

// eventually polls until cond holds (30 s at most; the first connection
// generates an RSA key, slow under the race detector).
func (a *cloudSQLApp) eventually(what string, cond func() bool) {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			a.t.Fatalf("timed out waiting for %s; logs:\n%s", what, a.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type healthz struct {
	Status   string `json:"status"`
	Database struct {
		Status string `json:"status"`
	} `json:"database"`
}

func (a *cloudSQLApp) healthz() healthz {
	a.t.Helper()
	code, body := a.do("GET", "/healthz", "")
	if code != http.StatusOK {
		a.t.Fatalf("/healthz = %d, want 200 whatever the database does; body %s", code, body)
	}
	var h healthz
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		a.t.Fatalf("/healthz body %q: %v", body, err)
	}
	return h
}

func TestAppOnCloudSQL(t *testing.T) {
	t.Parallel()
	a := startOnCloudSQL(t, cloudsqltest.NoFault, nil)
	// Migrations run through the connector in the background; /readyz
	// turns 200 once they are applied.
	a.eventually("/readyz to report ready", func() bool {
		code, _ := a.do("GET", "/readyz", "")
		return code == http.StatusOK
	})
	code, body := a.do("POST", "/api/items", `{"name":"through the connector","description":"mTLS all the way"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /api/items = %d %s", code, body)
	}
	code, body = a.do("GET", "/api/items", "")
	if code != http.StatusOK || !strings.Contains(body, "through the connector") || !strings.Contains(body, `"created_by":"alice"`) {
		t.Fatalf("GET /api/items = %d %s, want the created item", code, body)
	}
	a.eventually("/healthz to report the database up", func() bool { return a.healthz().Database.Status == "up" })
	if h := a.healthz(); h.Status != "ok" {
		t.Errorf("/healthz status %q, want ok", h.Status)
	}
	if calls := a.fake.Calls(); calls.ConnectSettings == 0 || calls.GenerateEphemeralCert == 0 {
		t.Errorf("Admin API calls %+v: the app did not go through the connector", calls)
	}
}

// TestAppOnBrokenCloudSQL: whatever is wrong with the Cloud SQL setup, the
// process starts and keeps answering /healthz 200 with the database
// reported down, the API answers with an error instead of hanging or
// crashing, and the log says what to fix.
func TestAppOnBrokenCloudSQL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault cloudsqltest.Fault
		env   map[string]string
		log   string
	}{
		{"Admin API not enabled", cloudsqltest.APIDisabled, nil, "gcloud services enable sqladmin.googleapis.com"},
		{"no such instance", cloudsqltest.NoFault, map[string]string{"INSTANCE_CONNECTION_NAME": "test-project:europe-west1:typo"}, `has no Cloud SQL instance \"typo\"`},
		{"region mismatch", cloudsqltest.NoFault, map[string]string{"INSTANCE_CONNECTION_NAME": "test-project:us-east1:test-instance"}, "names region us-east1"},
		{"wrong server certificate", cloudsqltest.RogueServerCert, nil, "did not present this instance's certificate"},
		{"no private IP", cloudsqltest.NoFault, map[string]string{"DB_IP_TYPE": "private"}, "no private IP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := startOnCloudSQL(t, tc.fault, tc.env)
			a.eventually("/healthz to report the database down", func() bool { return a.healthz().Database.Status == "down" })
			if h := a.healthz(); h.Status != "degraded" {
				t.Errorf("/healthz status %q, want degraded", h.Status)
			}
			if code, body := a.do("GET", "/readyz", ""); code != http.StatusServiceUnavailable {
				t.Errorf("/readyz = %d %s, want 503", code, body)
			}
			if code, body := a.do("GET", "/api/items", ""); code < 500 {
				t.Errorf("GET /api/items = %d %s, want a server-side error", code, body)
			}
			a.eventually("the log to explain the failure", func() bool { return strings.Contains(a.logs.String(), tc.log) })
			if h := a.healthz(); h.Status != "degraded" {
				t.Errorf("/healthz status %q after the failures, want degraded", h.Status)
			}
		})
	}
}
