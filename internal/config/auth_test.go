package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

const testProxySecret = "0123456789abcdef0123456789abcdef"

// authEnv is a complete environment (a database is required) plus env.
func authEnv(env map[string]string) Lookup {
	return func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		if k == "DATABASE_URL" {
			return "postgres://localhost/test", true
		}
		return "", false
	}
}

func TestLoadAuthModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, a Auth)
	}{
		{"default none", nil, func(t *testing.T, a Auth) {
			if a.Mode != "none" || a.IAPJWKSURL != DefaultIAPJWKSURL || a.GoogleCertsURL != DefaultGoogleCertsURL {
				t.Errorf("%+v", a)
			}
		}},
		{"dev grants the dev user editor when no roles set", map[string]string{"AUTH_MODE": "dev", "DEV_USER": "me", "DEV_GROUPS": "a, b"},
			func(t *testing.T, a Auth) {
				if !slices.Equal(a.EditorUsers, []string{"me"}) || !slices.Equal(a.DevGroups, []string{"a", "b"}) {
					t.Errorf("%+v", a)
				}
			}},
		{"dev keeps explicit roles", map[string]string{"AUTH_MODE": "dev", "VIEWER_USERS": "developer@example.com"},
			func(t *testing.T, a Auth) {
				if len(a.EditorUsers) != 0 || !slices.Equal(a.ViewerUsers, []string{"developer@example.com"}) {
					t.Errorf("%+v", a)
				}
			}},
		{"dev on Cloud Run with override", map[string]string{"AUTH_MODE": "dev", "K_SERVICE": "svc", "ALLOW_DEV_AUTH_ON_CLOUD_RUN": "true"},
			func(t *testing.T, a Auth) {
				if !a.AllowDevOnCloudRun || !a.OnCloudRun {
					t.Errorf("%+v", a)
				}
			}},
		{"iap", map[string]string{"AUTH_MODE": "IAP", "IAP_AUDIENCE": "/projects/123/global/backendServices/456",
			"EDITOR_GROUPS": "x", "AUTH_USER_DOMAIN": "example.edu"},
			func(t *testing.T, a Auth) {
				if a.Mode != "iap" || a.IAPAudience != "/projects/123/global/backendServices/456" || a.UserDomain != "@example.edu" {
					t.Errorf("%+v", a)
				}
			}},
		{"iap App Engine audience and local keys", map[string]string{"AUTH_MODE": "iap", "IAP_AUDIENCE": "/projects/123/apps/my-project",
			"IAP_JWKS_URL": "http://127.0.0.1:8081/keys", "VIEWER_USERS": "*"},
			func(t *testing.T, a Auth) {
				if a.IAPJWKSURL != "http://127.0.0.1:8081/keys" || !slices.Equal(a.ViewerUsers, []string{"*"}) {
					t.Errorf("%+v", a)
				}
			}},
		{"iap on Cloud Run directly", map[string]string{"AUTH_MODE": "iap", "IAP_AUDIENCE": "/projects/123/locations/europe-west1/services/items",
			"VIEWER_USERS": "*"},
			func(t *testing.T, a Auth) {}},
		{"proxy", map[string]string{"AUTH_MODE": "proxy", "AUTH_PROXY_SECRET": testProxySecret, "AUTH_PROXY_USER_HEADER": "X-Remote-User",
			"VIEWER_GROUPS": "staff,students", "EDITOR_GROUPS": "admins"},
			func(t *testing.T, a Auth) {
				if string(a.ProxySecret) != testProxySecret || a.ProxySecretHeader != DefaultProxySecretHeader ||
					a.ProxyUserHeader != "X-Remote-User" || a.ProxyGroupsHeader != DefaultProxyGroupsHeader ||
					!slices.Equal(a.ViewerGroups, []string{"staff", "students"}) {
					t.Errorf("%+v", a)
				}
			}},
		{"cloudrun-iam", map[string]string{"AUTH_MODE": "cloudrun-iam", "EDITOR_USERS": "ci@p.iam.gserviceaccount.com",
			"CLOUDRUN_AUDIENCE":    "https://items-123.europe-west1.run.app, https://items-abc-ew.a.run.app",
			"CSRF_TRUSTED_ORIGINS": "https://admin.example.edu"},
			func(t *testing.T, a Auth) {
				if len(a.CloudRunAudiences) != 2 || a.CloudRunAudiences[1] != "https://items-abc-ew.a.run.app" ||
					!slices.Equal(a.TrustedOrigins, []string{"https://admin.example.edu"}) {
					t.Errorf("%+v", a)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(authEnv(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c.Auth)
		})
	}
}

func TestLoadAuthProblems(t *testing.T) {
	t.Parallel()
	roles := "EDITOR_GROUPS"
	tests := []struct {
		name string
		env  map[string]string
		vars []string
	}{
		{"unknown mode", map[string]string{"AUTH_MODE": "saml"}, []string{"AUTH_MODE"}},
		{"dev on Cloud Run", map[string]string{"AUTH_MODE": "dev", "K_SERVICE": "svc"}, []string{"AUTH_MODE"}},
		{"bad override", map[string]string{"AUTH_MODE": "dev", "ALLOW_DEV_AUTH_ON_CLOUD_RUN": "sure"}, []string{"ALLOW_DEV_AUTH_ON_CLOUD_RUN"}},
		{"iap without audience", map[string]string{"AUTH_MODE": "iap", roles: "x"}, []string{"IAP_AUDIENCE"}},
		{"iap with project id", map[string]string{"AUTH_MODE": "iap", "IAP_AUDIENCE": "/projects/my-project/global/backendServices/1", roles: "x"}, []string{"IAP_AUDIENCE"}},
		{"iap keys over plain http", map[string]string{"AUTH_MODE": "iap", "IAP_AUDIENCE": "/projects/1/apps/p", "IAP_JWKS_URL": "http://keys.example.com/", roles: "x"}, []string{"IAP_JWKS_URL"}},
		{"iap without roles", map[string]string{"AUTH_MODE": "iap", "IAP_AUDIENCE": "/projects/1/apps/p"}, []string{"VIEWER_GROUPS"}},
		{"proxy without secret", map[string]string{"AUTH_MODE": "proxy", roles: "x"}, []string{"AUTH_PROXY_SECRET"}},
		{"proxy short secret", map[string]string{"AUTH_MODE": "proxy", "AUTH_PROXY_SECRET": testProxySecret[:31], roles: "x"}, []string{"AUTH_PROXY_SECRET"}},
		{"proxy bad header", map[string]string{"AUTH_MODE": "proxy", "AUTH_PROXY_SECRET": testProxySecret, "AUTH_PROXY_USER_HEADER": "X User", roles: "x"}, []string{"AUTH_PROXY_USER_HEADER"}},
		{"proxy same headers", map[string]string{"AUTH_MODE": "proxy", "AUTH_PROXY_SECRET": testProxySecret, "AUTH_PROXY_GROUPS_HEADER": "x-forwarded-user", roles: "x"}, []string{"AUTH_PROXY_GROUPS_HEADER"}},
		{"cloudrun-iam without audience", map[string]string{"AUTH_MODE": "cloudrun-iam", roles: "x"}, []string{"CLOUDRUN_AUDIENCE"}},
		{"cloudrun-iam bad certs URL", map[string]string{"AUTH_MODE": "cloudrun-iam", "CLOUDRUN_AUDIENCE": "https://a.run.app", "GOOGLE_CERTS_URL": "ftp://x", roles: "x"}, []string{"GOOGLE_CERTS_URL"}},
		{"bad domain", map[string]string{"AUTH_USER_DOMAIN": "@a@b"}, []string{"AUTH_USER_DOMAIN"}},
		{"bad trusted origin", map[string]string{"CSRF_TRUSTED_ORIGINS": "https://a.example/path"}, []string{"CSRF_TRUSTED_ORIGINS"}},
		{"everything wrong at once", map[string]string{"AUTH_MODE": "proxy", "AUTH_PROXY_SECRET": "short", "AUTH_PROXY_SECRET_HEADER": "bad header"},
			[]string{"AUTH_PROXY_SECRET", "AUTH_PROXY_SECRET_HEADER", "VIEWER_GROUPS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(authEnv(tt.env))
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Load = %v, want *Error", err)
			}
			var got []string
			for _, p := range cerr.Problems {
				got = append(got, p.Var)
			}
			if !slices.Equal(got, tt.vars) {
				t.Errorf("problems %q, want %q\n%v", got, tt.vars, err)
			}
			if strings.Contains(err.Error(), testProxySecret[:20]) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

func TestAuthSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	c, err := Load(authEnv(map[string]string{"AUTH_MODE": "proxy", "AUTH_PROXY_SECRET": testProxySecret, "VIEWER_USERS": "*"}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c, "auth", c.Auth, "secret", c.Auth.ProxySecret)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", c)
	for _, s := range []string{buf.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", c.Auth.ProxySecret)} {
		if strings.Contains(s, testProxySecret) {
			t.Fatalf("secret printed: %s", s)
		}
	}
	if !strings.Contains(buf.String(), `"proxy_secret_set":true`) {
		t.Errorf("log does not say the secret is set: %s", buf.String())
	}
}

func TestLoadSignOutURL(t *testing.T) {
	t.Parallel()
	iap := map[string]string{"AUTH_MODE": "iap", "IAP_AUDIENCE": "/projects/1/global/backendServices/2", "EDITOR_USERS": "*"}
	with := func(base map[string]string, kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"iap default", iap, IAPSignOutURL},
		{"iap turned off", with(iap, "SIGN_OUT_URL", "none"), ""},
		{"dev has none", map[string]string{"AUTH_MODE": "dev"}, ""},
		{"proxy logout", map[string]string{"AUTH_MODE": "proxy", "AUTH_PROXY_SECRET": testProxySecret, "EDITOR_USERS": "*",
			"SIGN_OUT_URL": "https://weblogin.example.edu/logout?return=x&y=1"}, "https://weblogin.example.edu/logout?return=x&y=1"},
		{"local path", map[string]string{"AUTH_MODE": "dev", "SIGN_OUT_URL": "/oauth2/sign_out"}, "/oauth2/sign_out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(authEnv(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.Auth.SignOutURL != tc.want {
				t.Fatalf("SignOutURL = %q, want %q", c.Auth.SignOutURL, tc.want)
			}
		})
	}
	for _, bad := range []string{"javascript:alert(1)", "//evil.example/x", `/\evil.example`, "logout", "ftp://x/y", "/a\tb", "https://"} {
		_, err := Load(authEnv(map[string]string{"AUTH_MODE": "dev", "SIGN_OUT_URL": bad}))
		var cerr *Error
		if !errors.As(err, &cerr) || !strings.Contains(err.Error(), "SIGN_OUT_URL") {
			t.Errorf("SIGN_OUT_URL=%q: %v, want a config error naming it", bad, err)
		}
	}
}

func TestProxyPlaceholderUsers(t *testing.T) {
	t.Parallel()
	c, err := Load(authEnv(map[string]string{"AUTH_MODE": "proxy", "AUTH_PROXY_SECRET": testProxySecret, "VIEWER_USERS": "*",
		"AUTH_PROXY_PLACEHOLDER_USERS": "anonymous, guest ,"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"anonymous", "guest"}; !slices.Equal(c.Auth.ProxyPlaceholderUsers, want) {
		t.Errorf("ProxyPlaceholderUsers = %q, want %q", c.Auth.ProxyPlaceholderUsers, want)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "auth", c.Auth)
	if !strings.Contains(buf.String(), `"proxy_placeholder_users":["anonymous","guest"]`) {
		t.Errorf("start-up log lacks the placeholder list: %s", buf.String())
	}
}
