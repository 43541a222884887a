//go:build container

package deploy

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
)

const (
	maxImageBytes = 40_000_000
	devUser       = "container-test@example.com"
)

// TestContainer builds the image from the real Dockerfile with podman (local
// stand-ins for the digest-pinned bases, see /work/shared/tools/container-bases
// or any machine with the real images: set CONTAINER_GO_IMAGE and
// CONTAINER_RUNTIME_IMAGE), runs it against a throwaway PostgreSQL and checks
// what Cloud Run relies on.
func TestContainer(t *testing.T) {
	podman := requireTool(t, "podman", "run container-bases setup (apt-get install podman buildah runc)")
	p := newPodman(t, podman)

	suffix := randomHex(4)
	version, commit := "v0.0.0-ci."+suffix, "ci"+suffix+strings.Repeat("0", 32)
	image := "localhost/example-function:ci-" + suffix
	// --layers=false: keep no intermediate images (the builder stage is over
	// 1 GB), so repeated runs do not fill the disk.
	buildArgs := []string{"build", "--pull=never", "--layers=false",
		"--build-arg=GO_IMAGE=" + envOr("CONTAINER_GO_IMAGE", "docker.io/library/golang:1.26-bookworm"),
		"--build-arg=RUNTIME_IMAGE=" + envOr("CONTAINER_RUNTIME_IMAGE", "gcr.io/distroless/static-debian12:nonroot"),
		"--build-arg=VERSION=" + version, "--build-arg=COMMIT=" + commit,
		"--tag=" + image}
	// The host's Go caches make a rebuild take seconds instead of minutes; the
	// Dockerfile is unchanged by this (CONTAINER_BUILD_CACHE=off to build cold).
	if os.Getenv("CONTAINER_BUILD_CACHE") != "off" {
		for _, kv := range [][2]string{{"GOMODCACHE", "/go/pkg/mod"}, {"GOCACHE", "/root/.cache/go-build"}} {
			if dir := goEnv(t, kv[0]); dir != "" {
				buildArgs = append(buildArgs, "--volume="+dir+":"+kv[1])
			}
		}
	}
	start := time.Now()
	p.run(append(buildArgs, repoRoot(t))...)
	t.Logf("image built in %s", time.Since(start).Round(time.Second))
	t.Cleanup(func() { p.quiet("rmi", "--force", image) })

	t.Run("image", func(t *testing.T) { checkImage(t, p, image) })

	dbURL := pgtest.NewDatabase(t)
	port := proctest.FreePort(t)
	name := "example-function-ci-" + suffix
	p.run("run", "--detach", "--name="+name, "--network=host",
		"--env=PORT="+strconv.Itoa(port), "--env=DATABASE_URL="+dbURL,
		"--env=AUTH_MODE=dev", "--env=DEV_USER="+devUser, "--env=LOG_FORMAT=json",
		image)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("container logs:\n%s", p.quiet("logs", name))
		}
		p.quiet("rm", "--force", name)
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	health := waitHealthy(t, base+"/healthz", 90*time.Second)
	if health["version"] != version || health["commit"] != commit {
		t.Errorf("/healthz reports version %v commit %v, want the stamped %s %s", health["version"], health["commit"], version, commit)
	}

	t.Run("item round trip", func(t *testing.T) { itemRoundTrip(t, base) })

	t.Run("runs as nonroot", func(t *testing.T) {
		pid := strings.TrimSpace(p.run("inspect", "--format={{.State.Pid}}", name))
		status, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(status)) {
			if f := strings.Fields(line); len(f) == 5 && (f[0] == "Uid:" || f[0] == "Gid:") {
				for _, id := range f[1:] {
					if id != "65532" {
						t.Errorf("process %s %v, want 65532 throughout", f[0], f[1:])
						break
					}
				}
			}
		}
	})

	t.Run("SIGTERM exits 0 within 10s", func(t *testing.T) {
		start := time.Now()
		p.run("kill", "--signal=TERM", name)
		code := strings.TrimSpace(p.run("wait", "--condition=exited", name))
		took := time.Since(start)
		if took > 10*time.Second {
			t.Errorf("took %s to exit after SIGTERM; Cloud Run kills at 10s", took)
		}
		if code != "0" {
			t.Errorf("exit code after SIGTERM = %s, want 0", code)
		}
		t.Logf("exited %s in %s", code, took.Round(time.Millisecond))
	})
}

func checkImage(t *testing.T, p *podmanCLI, image string) {
	var inspect []struct {
		Size   int64
		Config struct {
			User       string
			Env        []string
			Entrypoint []string
		}
	}
	if err := json.Unmarshal([]byte(p.run("image", "inspect", image)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("image inspect: %v", err)
	}
	img := inspect[0]
	t.Logf("image size %.1f MB", float64(img.Size)/1e6)
	if img.Size >= maxImageBytes {
		t.Errorf("image is %d bytes, budget %d", img.Size, maxImageBytes)
	}
	if img.Config.User != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532", img.Config.User)
	}
	if !slices.Contains(img.Config.Env, "PORT=8080") {
		t.Errorf("ENV %q lacks PORT=8080", img.Config.Env)
	}
	if !slices.Equal(img.Config.Entrypoint, []string{"/usr/local/bin/server"}) {
		t.Errorf("ENTRYPOINT %q", img.Config.Entrypoint)
	}

	// The file system: no shell, no package manager, only our binary.
	ctr := strings.TrimSpace(p.run("create", image))
	defer p.quiet("rm", ctr)
	tarball := p.runBytes("export", ctr)
	tr := tar.NewReader(bytes.NewReader(tarball))
	var files []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, path.Clean("/"+h.Name))
	}
	for _, bad := range []string{"/bin/sh", "/usr/bin/sh", "/bin/bash", "/bin/dash", "/bin/busybox", "/usr/bin/apt", "/usr/bin/dpkg", "/usr/local/go"} {
		if slices.Contains(files, bad) {
			t.Errorf("image contains %s", bad)
		}
	}
	if !slices.Contains(files, "/usr/local/bin/server") {
		t.Errorf("image lacks /usr/local/bin/server")
	}
	if !slices.Contains(files, "/etc/ssl/certs/ca-certificates.crt") {
		t.Errorf("image lacks CA certificates (needed for Cloud SQL and Google APIs)")
	}
}

func itemRoundTrip(t *testing.T, base string) {
	name := "container item " + randomHex(3)
	body := fmt.Sprintf(`{"name":%q,"description":"made by the container test"}`, name)
	resp, err := http.Post(base+"/api/items", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	created := decodeJSON(t, resp, http.StatusCreated)
	id, ok := created["id"].(float64)
	if !ok || id <= 0 {
		t.Fatalf("created item has no id: %v", created)
	}
	resp, err = http.Get(fmt.Sprintf("%s/api/items/%d", base, int64(id)))
	if err != nil {
		t.Fatal(err)
	}
	got := decodeJSON(t, resp, http.StatusOK)
	if got["name"] != name || got["created_by"] != devUser {
		t.Errorf("read back %v, want name %q created_by %q", got, name, devUser)
	}
}

func decodeJSON(t *testing.T, resp *http.Response, want int) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, want, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v: %s", resp.Request.URL, err, b)
	}
	return m
}

// waitHealthy polls until /healthz answers 200 and the database check is up,
// so the API test does not race the migrations.
func waitHealthy(t *testing.T, url string, limit time.Duration) map[string]any {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
			var m map[string]any
			if resp.StatusCode == http.StatusOK && json.Unmarshal(b, &m) == nil && m["status"] == "ok" {
				return m
			}
		} else {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s not healthy within %s; last answer: %s", url, limit, last)
	return nil
}

// podmanCLI runs podman with this machine's container-bases configuration
// when the environment does not name one.
type podmanCLI struct {
	t   *testing.T
	bin string
	env []string
}

func newPodman(t *testing.T, bin string) *podmanCLI {
	env := os.Environ()
	const dir = "/var/tmp/container-bases"
	for _, kv := range [][2]string{{"CONTAINERS_STORAGE_CONF", dir + "/storage.conf"}, {"CONTAINERS_CONF", dir + "/containers.conf"}} {
		if os.Getenv(kv[0]) == "" {
			if _, err := os.Stat(kv[1]); err == nil {
				env = append(env, kv[0]+"="+kv[1])
			}
		}
	}
	return &podmanCLI{t: t, bin: bin, env: env}
}

func (p *podmanCLI) runBytes(args ...string) []byte {
	p.t.Helper()
	cmd := exec.Command(p.bin, args...)
	cmd.Env = p.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		p.t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, tail(out), stderr.String())
	}
	return out
}

func (p *podmanCLI) run(args ...string) string { p.t.Helper(); return string(p.runBytes(args...)) }

// quiet is for cleanup: it reports nothing and never fails the test.
func (p *podmanCLI) quiet(args ...string) string {
	cmd := exec.Command(p.bin, args...)
	cmd.Env = p.env
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

func goEnv(t *testing.T, name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Logf("go env %s: %v", name, err)
		return ""
	}
	return strings.TrimSpace(string(out))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
