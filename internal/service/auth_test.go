package service

import (
	"net/http/httptest"
	"testing"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/config"
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
