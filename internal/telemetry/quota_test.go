package telemetry

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"example.com/example-function/internal/telemetry/otlptest"
)

// fakeGoogleAuth stands in for Google's OAuth token endpoint and the IAM
// Credentials API's generateAccessToken, as far as the oauth2 library's flows
// for key files, user credentials and impersonation reach them. Each grant
// answers with its own token, so a test sees which flow authorized an export.
type fakeGoogleAuth struct {
	*httptest.Server
	mu     sync.Mutex
	grants []string
}

func newFakeGoogleAuth(t *testing.T) *fakeGoogleAuth {
	t.Helper()
	f := &fakeGoogleAuth{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/token" && r.Method == http.MethodPost:
			if err := r.ParseForm(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			grant := r.PostForm.Get("grant_type")
			f.record(grant)
			token := map[string]string{
				"urn:ietf:params:oauth:grant-type:jwt-bearer": "key-file-token",
				"refresh_token": "user-token",
			}[grant]
			if token == "" {
				http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 3600})
		case strings.HasSuffix(r.URL.Path, ":generateAccessToken") && r.Method == http.MethodPost:
			f.record("generateAccessToken with " + r.Header.Get("Authorization"))
			_ = json.NewEncoder(w).Encode(map[string]string{"accessToken": "impersonated-token", "expireTime": "2099-01-01T00:00:00Z"})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGoogleAuth) record(grant string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grants = append(f.grants, grant)
}

func (f *fakeGoogleAuth) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.grants...)
}

// serviceAccountKeyPEM is a freshly generated RSA key in the PKCS #8 PEM form
// of a downloaded service account key.
func serviceAccountKeyPEM(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestTelemetryAPIQuotaProjectByCredentialKind exports through the real
// exporters with application-default credentials of each kind, found where
// the library looks for them, and checks which token authorized the export
// and whether x-goog-user-project went with it: never for a service account
// (metadata server, key file, impersonation), always for user credentials.
func TestTelemetryAPIQuotaProjectByCredentialKind(t *testing.T) {
	auth := newFakeGoogleAuth(t)
	user := map[string]any{
		"type": "authorized_user", "client_id": "client.apps.googleusercontent.com", "client_secret": "secret",
		"refresh_token": "refresh", "token_uri": auth.URL + "/token",
	}
	withQuota := map[string]any{"quota_project_id": "adc-quota-project"}
	for k, v := range user {
		withQuota[k] = v
	}
	tests := []struct {
		name       string
		file       map[string]any // nil: no ADC file, the metadata server
		env        map[string]string
		wantToken  string
		wantQuota  string   // "" means the header must be absent
		wantGrants []string // the token requests, in order
	}{
		{name: "metadata server (Cloud Run)", wantToken: "test-token"},
		{name: "service account key file", file: map[string]any{
			"type": "service_account", "project_id": "key-project", "private_key_id": "k1",
			"private_key": serviceAccountKeyPEM(t), "client_email": "runner@key-project.iam.gserviceaccount.com",
			"client_id": "1", "token_uri": auth.URL + "/token",
		}, wantToken: "key-file-token", wantGrants: []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"}},
		{name: "impersonated service account", file: map[string]any{
			"type": "impersonated_service_account",
			"service_account_impersonation_url": auth.URL +
				"/v1/projects/-/serviceAccounts/runner@p.iam.gserviceaccount.com:generateAccessToken",
			"source_credentials": user,
		}, wantToken: "impersonated-token", wantGrants: []string{"refresh_token", "generateAccessToken with Bearer user-token"}},
		{name: "user credentials naming a quota project", file: withQuota,
			wantToken: "user-token", wantQuota: "adc-quota-project", wantGrants: []string{"refresh_token"}},
		{name: "user credentials without one", file: user,
			wantToken: "user-token", wantQuota: "meta-proj", wantGrants: []string{"refresh_token"}},
		{name: "user credentials, GOOGLE_CLOUD_QUOTA_PROJECT set", file: withQuota,
			env:       map[string]string{"GOOGLE_CLOUD_QUOTA_PROJECT": "env-quota-project"},
			wantToken: "user-token", wantQuota: "env-quota-project", wantGrants: []string{"refresh_token"}},
		{name: "service account key file, GOOGLE_CLOUD_QUOTA_PROJECT set", file: map[string]any{
			"type": "service_account", "project_id": "key-project", "private_key_id": "k1",
			"private_key": serviceAccountKeyPEM(t), "client_email": "runner@key-project.iam.gserviceaccount.com",
			"client_id": "1", "token_uri": auth.URL + "/token",
		}, env: map[string]string{"GOOGLE_CLOUD_QUOTA_PROJECT": "env-quota-project"},
			wantToken: "key-file-token", wantGrants: []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, _ := fakeMetadata(t)
			t.Setenv("GCE_METADATA_HOST", host)
			t.Setenv("HOME", t.TempDir()) // no well-known ADC file
			t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
			t.Setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "")
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.file != nil {
				path := filepath.Join(t.TempDir(), "adc.json")
				b, _ := json.Marshal(tt.file)
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
			}
			before := len(auth.seen())
			rcv := otlptest.Start(t)
			tel, err := Setup(context.Background(), Options{
				ServiceName: "svc", Exporter: "gcp", ProjectID: "meta-proj", APIEndpoint: rcv.URL,
			})
			if err != nil {
				t.Fatal(err)
			}
			exercise(t, tel)
			assertExported(t, rcv)
			for _, r := range rcv.Requests() {
				if got := r.Header.Get("Authorization"); got != "Bearer "+tt.wantToken {
					t.Errorf("%s export: Authorization %q, want the %s token", r.Signal, got, tt.wantToken)
				}
				got, sent := r.Header.Get("X-Goog-User-Project"), len(r.Header.Values("X-Goog-User-Project")) > 0
				if tt.wantQuota == "" && sent {
					t.Errorf("%s export: x-goog-user-project %q sent for a service account", r.Signal, got)
				}
				if tt.wantQuota != "" && got != tt.wantQuota {
					t.Errorf("%s export: x-goog-user-project %q, want %q", r.Signal, got, tt.wantQuota)
				}
			}
			if grants := auth.seen()[before:]; !slices.Equal(grants, tt.wantGrants) {
				t.Errorf("token requests %q, want %q", grants, tt.wantGrants)
			}
		})
	}
}

// A credentials file of an unknown type is refused by the library, and Setup
// says so instead of exporting without credentials.
func TestTelemetryAPIRefusesUnknownCredentials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(path, []byte(`{"type":"mystery"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	_, err := Setup(context.Background(), Options{ServiceName: "svc", Exporter: "gcp", ProjectID: "p", APIEndpoint: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "application default credentials") {
		t.Fatalf("Setup with an unknown credential type: %v", err)
	}
}
