package apache

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const (
	docPath = "docs/auth.md"
	// marker precedes the fenced block the test runs.
	marker = "<!-- apache-proxy-config:"
	// oldUserLine is the README's former snippet line, which sends "(null)".
	oldUserLine = `RequestHeader set X-Forwarded-User "%{REMOTE_USER}s"`
	newUserLine = `RequestHeader set X-Forwarded-User "expr=%{REMOTE_USER}"`
	modulesDir  = "/usr/lib/apache2/modules"
)

// People known to the sign-on stand-in. alice is in staff and admins (an
// editor); bob has no groups (a viewer, through VIEWER_USERS=*).
var people = map[string]string{"alice@example.edu": "alice-pw", "bob@example.edu": "bob-pw"}

func TestApacheInFrontOfProxyMode(t *testing.T) {
	t.Parallel()
	apache := requireApache(t)
	snippet := documentedBlock(t)
	secret := randomSecret(t)

	bin := proctest.Build(t, "./cmd/server")
	app := proctest.Start(t, bin,
		"DATABASE_URL="+pgtest.NewDatabase(t),
		"AUTH_MODE=proxy", "AUTH_PROXY_SECRET="+secret, "AUTH_USER_DOMAIN=@example.edu",
		"VIEWER_USERS=*", "EDITOR_GROUPS=admins")
	app.WaitHTTP(t, "/readyz", http.StatusOK, 30*time.Second)
	front := startApache(t, apache, snippet, app.URL(""), secret)

	forged := map[string]string{
		"X-Forwarded-User":    "mallory@example.edu",
		"X-Forwarded-Groups":  "admins",
		"X-Auth-Proxy-Secret": "guessed-secret-guessed-secret-guessed",
	}

	t.Run("signed-in user arrives with her name and groups", func(t *testing.T) {
		res, body := front.do(t, "GET", "/", "alice@example.edu", nil, "")
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "Signed in as <strong>alice</strong>") {
			t.Fatalf("GET / as alice: %d\n%s", res.StatusCode, body)
		}
		// A form post as a browser sends it; alice is an editor by her group.
		res, body = front.do(t, "POST", "/items", "alice@example.edu", forged, url.Values{"name": {"Proxied"}}.Encode())
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/items/") {
			t.Fatalf("POST /items as alice: %d Location %q\n%s", res.StatusCode, loc, body)
		}
		res, body = front.do(t, "GET", loc, "alice@example.edu", nil, "")
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "by alice,") || strings.Contains(body, "mallory") {
			t.Fatalf("GET %s: %d\n%s", loc, res.StatusCode, body)
		}
	})

	t.Run("client-sent identity and secret headers are overwritten", func(t *testing.T) {
		// bob has no groups: claiming admins must not make him an editor.
		res, body := front.do(t, "POST", "/items", "bob@example.edu", forged, url.Values{"name": {"Forged"}}.Encode())
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("POST /items as bob claiming admins: %d, want 403\n%s", res.StatusCode, body)
		}
		// The same header twice, in another case: still only the signed-in user.
		res, body = front.do(t, "GET", "/", "bob@example.edu", map[string]string{"x-forwarded-user": "mallory"}, "",
			"X-Forwarded-User", "root")
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "Signed in as <strong>bob</strong>") {
			t.Fatalf("GET / as bob with doubled user headers: %d\n%s", res.StatusCode, body)
		}
	})

	t.Run("anonymous request gets 401", func(t *testing.T) {
		res, _ := front.do(t, "GET", "/", "", forged, "")
		if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("GET / anonymous: %d %v, want Apache's 401", res.StatusCode, res.Header)
		}
		// /api/ is left to the service by the sign-on stand-in: the service
		// itself refuses, forged identity headers and all.
		res, body := front.do(t, "GET", "/api/items", "", forged, "")
		if res.StatusCode != http.StatusUnauthorized || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("GET /api/items anonymous: %d %v\n%s", res.StatusCode, res.Header, body)
		}
		wantRefusal(t, app, "/api/items", "missing")
	})

	t.Run("the old snippet sends (null), which is refused", func(t *testing.T) {
		if !strings.Contains(snippet, newUserLine) {
			t.Fatalf("%s no longer has %s", docPath, newUserLine)
		}
		old := startApache(t, apache, strings.Replace(snippet, newUserLine, oldUserLine, 1), app.URL(""), secret)
		res, body := old.do(t, "GET", "/api/items?old", "", nil, "")
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET /api/items through the old snippet: %d, want 401\n%s", res.StatusCode, body)
		}
		wantRefusal(t, app, "/api/items", "placeholder_user")
	})
}

// requireApache returns Debian's apache2. In CI (CI=true) a missing one
// fails the test; elsewhere it is skipped with the hint.
func requireApache(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("apache2")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/apache2"); serr == nil {
			bin, err = "/usr/sbin/apache2", nil
		}
	}
	if err == nil {
		if _, err = os.Stat(filepath.Join(modulesDir, "mod_proxy_http.so")); err != nil {
			t.Fatalf("apache2 found at %s but not its modules in %s: %v", bin, modulesDir, err)
		}
		return bin
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("apache2 is required in CI but not installed: apt-get install apache2-bin apache2-utils (or apache2)")
	}
	t.Skip("apache2 not installed (apt-get install apache2-bin apache2-utils, or apache2); CI=true makes this a failure")
	return ""
}

// documentedBlock returns the fenced block after the marker in docs/auth.md.
func documentedBlock(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, docPath))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, marker) {
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "```apache" {
			t.Fatalf("%s: the marker must be followed by an ```apache fence", docPath)
		}
		for j := i + 2; j < len(lines); j++ {
			if lines[j] == "```" {
				return strings.Join(lines[i+2:j], "\n") + "\n"
			}
		}
		t.Fatalf("%s: the ```apache block after the marker is not closed", docPath)
	}
	t.Fatalf("%s: no %q marker", docPath, marker)
	return ""
}

func randomSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 36)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// frontEnd is a running Apache.
type frontEnd struct {
	url string
	dir string
}

// siteConfig is the part of the configuration that differs from site to
// site: the server's own files, and basic auth standing in for the sign-on
// module (pages protected, /api/ left to the service, alice's groups put in
// the environment as a sign-on module would). The documented block follows.
const siteConfig = `ServerRoot "{{dir}}"
ServerName 127.0.0.1
Listen 127.0.0.1:{{port}}
PidFile "{{dir}}/httpd.pid"
ErrorLog "{{dir}}/error.log"
DefaultRuntimeDir "{{dir}}"
Mutex file:{{dir}} default
LogLevel warn
{{user}}
LoadModule mpm_event_module {{modules}}/mod_mpm_event.so
LoadModule authn_core_module {{modules}}/mod_authn_core.so
LoadModule authn_file_module {{modules}}/mod_authn_file.so
LoadModule authz_core_module {{modules}}/mod_authz_core.so
LoadModule authz_user_module {{modules}}/mod_authz_user.so
LoadModule auth_basic_module {{modules}}/mod_auth_basic.so
LoadModule rewrite_module {{modules}}/mod_rewrite.so
LoadModule headers_module {{modules}}/mod_headers.so
LoadModule proxy_module {{modules}}/mod_proxy.so
LoadModule proxy_http_module {{modules}}/mod_proxy_http.so
LoadModule socache_shmcb_module {{modules}}/mod_socache_shmcb.so
LoadModule ssl_module {{modules}}/mod_ssl.so
SSLSessionCache "shmcb:{{dir}}/ssl_scache(512000)"

<Location />
  AuthType Basic
  AuthName "sign-on stand-in"
  AuthBasicProvider file
  AuthUserFile "{{dir}}/htpasswd"
  Require valid-user
  RewriteEngine On
  RewriteCond %{REMOTE_USER} =alice@example.edu
  RewriteRule ^ - [E=WEBAUTH_LDAP_GROUPS:staff:admins]
</Location>
<Location /api/>
  Require all granted
</Location>

`

// startApache runs apache2 -f with siteConfig and snippet on a free
// loopback port, proxying to appURL, until the test ends.
func startApache(t *testing.T, bin, snippet, appURL, secret string) *frontEnd {
	t.Helper()
	// Readable by the unprivileged user the workers run as (when root).
	dir, err := os.MkdirTemp("", "apache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeHtpasswd(t, filepath.Join(dir, "htpasswd"))

	user := ""
	if os.Geteuid() == 0 {
		user = "User nobody\nGroup nogroup"
	}
	port := proctest.FreePort(t)
	conf := strings.NewReplacer("{{dir}}", dir, "{{port}}", strconv.Itoa(port), "{{user}}", user,
		"{{modules}}", modulesDir).Replace(siteConfig) + snippet
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	out := &proctest.Buffer{}
	cmd := exec.Command(bin, "-f", confPath, "-DFOREGROUND")
	// The documented ${AUTH_PROXY_SECRET} and ${APP_URL} come from Apache's
	// environment, as from /etc/apache2/envvars.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "AUTH_PROXY_SECRET=" + secret, "APP_URL=" + appURL}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start apache2: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // graceful stop: the workers go too
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("apache2 output:\n%s\nerror.log:\n%s", out.String(), logs)
		}
	})

	f := &frontEnd{url: "http://127.0.0.1:" + strconv.Itoa(port), dir: dir}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-done:
			logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("apache2 exited (%v):\n%s\n%s", err, out.String(), logs)
		default:
		}
		res, err := client.Get(f.url + "/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusUnauthorized {
				return f
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("apache2 did not answer on %s within 15 s (last: %v)", f.url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeHtpasswd writes the people with bcrypt hashes, using Apache's own
// htpasswd.
func writeHtpasswd(t *testing.T, path string) {
	t.Helper()
	htpasswd, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Fatalf("htpasswd is missing: apt-get install apache2-utils: %v", err)
	}
	flag := "-cbB"
	for user, pw := range people {
		if out, err := exec.Command(htpasswd, flag, path, user, pw).CombinedOutput(); err != nil {
			t.Fatalf("htpasswd: %v\n%s", err, out)
		}
		flag = "-bB"
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// do sends one request through Apache as user ("" for anonymous) with the
// extra headers (set, then extra name/value pairs added), without
// following redirects. Unsafe methods carry what a browser sends for a
// same-origin form.
func (f *frontEnd) do(t *testing.T, method, path, user string, headers map[string]string, form string, add ...string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, f.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, people[user])
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", f.url)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range headers {
		req.Header[k] = []string{v} // as given: lower case stays lower case on the wire
	}
	for i := 0; i+1 < len(add); i += 2 {
		req.Header.Add(add[i], add[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// wantRefusal waits for the server's "auth refused" line for path with the
// reason, as the server logs it (JSON).
func wantRefusal(t *testing.T, app *proctest.Proc, path, reason string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, line := range strings.Split(app.Output(), "\n") {
			var e struct {
				Message, Reason, Path string
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Message == "auth refused" && e.Path == path && e.Reason == reason {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q refusal of %s in the server log:\n%s", reason, path, app.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
