package auth

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestNewBuildsEachMode(t *testing.T) {
	t.Parallel()
	iap := newFakeIssuer(t, jose.ES256)
	google := newFakeIssuer(t, jose.RS256)
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, "auth.None"},
		{Options{Mode: ModeNone}, "auth.None"},
		{Options{Mode: ModeDev, Dev: User{Name: "dev"}}, "auth.Dev"},
		{Options{Mode: ModeProxy, Proxy: ProxyOptions{SecretHeader: "X-Auth-Proxy-Secret", UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", Secret: []byte(testSecret)}}, "*auth.Proxy"},
		{Options{Mode: ModeIAP, IAPAudience: testIAPAudience, IAPKeysURL: iap.url()}, "*auth.IAP"},
		{Options{Mode: ModeCloudRunIAM, CloudRunAudiences: []string{testServiceURL}, GoogleCertsURL: google.url()}, "*auth.CloudRunIAM"},
	}
	for _, tt := range tests {
		a, err := New(tt.opts, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.opts.Mode, err)
		}
		if got := fmt.Sprintf("%T", a); got != tt.want {
			t.Errorf("%q: got %s, want %s", tt.opts.Mode, got, tt.want)
		}
	}
	for _, bad := range []Options{
		{Mode: "saml"},
		{Mode: ModeDev},
		{Mode: ModeProxy, Proxy: ProxyOptions{SecretHeader: "X-Auth-Proxy-Secret", UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", Secret: []byte("short")}},
		{Mode: ModeIAP},
		{Mode: ModeCloudRunIAM},
	} {
		if _, err := New(bad, nil); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}

func TestNewWarnsLoudlyAboutDevOnCloudRun(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	if _, err := New(Options{Mode: ModeDev, Dev: User{Name: "dev"}, DevOnCloudRun: true}, logger); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "level=ERROR") || !strings.Contains(buf.String(), "ON CLOUD RUN") {
		t.Fatalf("no loud warning: %s", buf.String())
	}
}

func TestNewProxyModeNeverLogsSecret(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	if _, err := New(Options{Mode: ModeProxy, Proxy: ProxyOptions{SecretHeader: "X-Auth-Proxy-Secret", UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", Secret: []byte(testSecret)}}, logger); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), testSecret) || !strings.Contains(buf.String(), "mode=proxy") {
		t.Fatalf("log: %s", buf.String())
	}
}

func TestNewPassesKeysMaxStale(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{Mode: ModeIAP, IAPAudience: "/projects/1/global/backendServices/2", IAPKeysURL: "http://127.0.0.1:1/keys", KeysMaxStale: 72 * time.Hour},
		{Mode: ModeCloudRunIAM, CloudRunAudiences: []string{"https://x.a.run.app"}, GoogleCertsURL: "http://127.0.0.1:1/certs", KeysMaxStale: 72 * time.Hour},
	} {
		a, err := New(o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ks := a.(interface{ KeySet() *KeySet }).KeySet(); ks.maxStale != 72*time.Hour {
			t.Errorf("%s: key set max stale %s, want 72h", o.Mode, ks.maxStale)
		}
	}
}
