package service

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/config"
	"example.com/example-function/internal/proctest"
)

// TestAuthOptionsFromConfig loads each mode from an environment and builds
// its authenticator, so a renamed field on either side fails here.
func TestAuthOptionsFromConfig(t *testing.T) {
	t.Parallel()
	secret := "0123456789abcdef0123456789abcdef"
	envs := map[string]map[string]string{
		"none": {},
		"dev":  {"AUTH_MODE": "dev", "DEV_USER": "me", "DEV_GROUPS": "g"},
		"proxy": {"AUTH_MODE": "proxy", "AUTH_PROXY_SECRET": secret, "AUTH_PROXY_USER_HEADER": "X-Remote-User",
			"AUTH_USER_DOMAIN": "@example.edu", "EDITOR_GROUPS": "admins"},
		"iap":          {"AUTH_MODE": "iap", "IAP_AUDIENCE": "/projects/1/global/backendServices/2", "VIEWER_USERS": "*"},
		"cloudrun-iam": {"AUTH_MODE": "cloudrun-iam", "CLOUDRUN_AUDIENCE": "https://x.a.run.app", "VIEWER_USERS": "*"},
	}
	for mode, env := range envs {
		env["DATABASE_URL"] = "postgres://localhost/x"
		cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		a, err := auth.New(authOptions(cfg.Auth), nil)
		if err != nil {
			t.Fatalf("%s: auth.New: %v", mode, err)
		}
		if mode != "proxy" {
			continue
		}
		r := httptest.NewRequest("POST", "/items", nil)
		r.Header.Set("X-Auth-Proxy-Secret", secret)
		r.Header.Set("X-Remote-User", "alice@example.edu")
		r.Header.Set("X-Forwarded-Groups", "admins")
		u, err := a.Authenticate(r)
		if err != nil || u.Name != "alice" {
			t.Fatalf("proxy user: %+v, %v", u, err)
		}
		if role := authPolicy(cfg.Auth).RoleOf(u); role != auth.RoleEditor {
			t.Errorf("role %s, want editor", role)
		}
	}
}

// "*" with cloudrun-iam is right for a private service and wide open on a
// public one: Start says so in the log, once per wildcard grant, and stays
// quiet for named grants and for the other modes.
func TestStartWarnsAboutWildcardWithCloudRunIAM(t *testing.T) {
	t.Parallel()
	// Key sets on a closed local port: Start warms them in the background.
	iam := map[string]string{"AUTH_MODE": "cloudrun-iam", "CLOUDRUN_AUDIENCE": "https://x.a.run.app", "GOOGLE_CERTS_URL": "http://127.0.0.1:1/certs"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := maps.Clone(base)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name  string
		env   map[string]string
		warns []string
	}{
		{"viewer wildcard", with(iam, "VIEWER_USERS", "*"), []string{"VIEWER_USERS"}},
		{"both wildcards", with(iam, "VIEWER_USERS", "alice@example.edu,*", "EDITOR_USERS", "*"), []string{"VIEWER_USERS", "EDITOR_USERS"}},
		{"named callers", with(iam, "EDITOR_USERS", "caller@p.iam.gserviceaccount.com"), nil},
		{"iap wildcard", map[string]string{"AUTH_MODE": "iap", "IAP_AUDIENCE": "/projects/1/global/backendServices/2",
			"IAP_JWKS_URL": "http://127.0.0.1:1/keys", "VIEWER_USERS": "*"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Nothing listens on port 1: the pool is lazy and Start does not wait for it.
			env := with(tt.env, "DATABASE_URL", "postgres://127.0.0.1:1/x?connect_timeout=1", "DB_MIGRATE", "false")
			var logs proctest.Buffer
			a, err := Start(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &logs)
			if err != nil {
				t.Fatal(err)
			}
			a.Close()
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				// Cloud Logging's JSON: severity and message.
				var e struct {
					Level string `json:"severity"`
					Msg   string `json:"message"`
					Grant string `json:"grant"`
				}
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Fatalf("log line %q: %v", line, err)
				}
				if strings.Contains(e.Msg, "cloudrun-iam with") {
					if e.Level != "WARNING" || !strings.Contains(e.Msg, "--no-allow-unauthenticated") || !strings.Contains(e.Msg, "IAP") {
						t.Errorf("warning %+v", e)
					}
					got = append(got, e.Grant)
				}
			}
			if !slices.Equal(got, tt.warns) {
				t.Errorf("warned about %v, want %v\n%s", got, tt.warns, logs.String())
			}
		})
	}
}

// TestConfigAgreesWithAuth: config checks a few of internal/auth's rules
// itself, so that every problem of a deployment is reported at once; the
// two must not drift apart.
func TestConfigAgreesWithAuth(t *testing.T) {
	t.Parallel()
	modes := []string{auth.ModeNone, auth.ModeDev, auth.ModeProxy, auth.ModeIAP, auth.ModeCloudRunIAM}
	if !slices.Equal(config.AuthModes, modes) {
		t.Errorf("config.AuthModes = %q, internal/auth's modes are %q", config.AuthModes, modes)
	}
	if config.MinProxySecretBytes != auth.MinProxySecretBytes {
		t.Errorf("config.MinProxySecretBytes = %d, auth.MinProxySecretBytes = %d", config.MinProxySecretBytes, auth.MinProxySecretBytes)
	}
	if config.KeysRefreshAge != auth.KeySetRefreshAge {
		t.Errorf("config.KeysRefreshAge = %s, auth.KeySetRefreshAge = %s", config.KeysRefreshAge, auth.KeySetRefreshAge)
	}
}
