// Package proctest builds this module's commands and runs them as real
// processes for end-to-end tests: start-up, signals and shutdown are tested
// on the binary a container would run, not on a function call.
package proctest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"example.com/example-function/internal/localpg"
)

// Build compiles the package (e.g. "./cmd/server", relative to the module
// root) into a temporary directory and returns the binary's path.
func Build(t testing.TB, pkg string, ldflags ...string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return BuildIn(t, root, pkg, ldflags...)
}

// BuildIn is Build for the module in dir (a copy made by CopyModule).
func BuildIn(t testing.TB, dir, pkg string, ldflags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	args := []string{"build", "-o", bin}
	if len(ldflags) > 0 {
		args = append(args, "-ldflags", strings.Join(ldflags, " "))
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s in %s: %v\n%s", pkg, dir, err, out)
	}
	return bin
}

// CopyModule copies this module's source, as git lists it (tracked files and
// untracked ones that are not ignored), into a new temporary directory and
// returns its path: for tests that change a copy, or build it as a tool
// that only sees the source would.
func CopyModule(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files in %s (the copy needs a git checkout): %v", root, err)
	}
	dst := t.TempDir()
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		info, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the working tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Proc is a running command.
type Proc struct {
	Cmd     *exec.Cmd
	Port    int
	Started time.Time
	out     Buffer
	done    chan struct{}
	err     error
}

// Start runs bin with env (plus PATH and HOME) and PORT set to a free
// port. The process is killed when the test ends if still running.
func Start(t testing.TB, bin string, env ...string) *Proc {
	t.Helper()
	return StartArgs(t, bin, nil, env...)
}

// StartArgs is Start with command-line arguments (a subcommand).
func StartArgs(t testing.TB, bin string, args []string, env ...string) *Proc {
	t.Helper()
	p := &Proc{Port: FreePort(t), done: make(chan struct{})}
	p.Cmd = exec.Command(bin, args...)
	p.Cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"PORT=" + strconv.Itoa(p.Port)}, env...)
	p.Cmd.Stdout, p.Cmd.Stderr = &p.out, &p.out
	p.Started = time.Now()
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.Cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(bin), p.Output())
		}
	})
	return p
}

// URL returns the address of path on the process.
func (p *Proc) URL(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(p.Port) + path
}

// WaitHTTP polls path until it answers with want, returning when it did.
func (p *Proc) WaitHTTP(t testing.TB, path string, want int, timeout time.Duration) time.Time {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("process exited (%v) before %s answered %d:\n%s", p.err, path, want, p.Output())
		default:
		}
		res, err := client.Get(p.URL(path))
		if err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return time.Now()
			}
			last = res.Status
		} else {
			last = err.Error()
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d within %s (last: %s)\n%s", path, want, timeout, last, p.Output())
	return time.Time{}
}

// Signal sends sig to the process.
func (p *Proc) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal: %v", err)
	}
}

// Wait waits for the process to exit and returns its exit code.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("process still running after %s:\n%s", timeout, p.Output())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", p.err)
	return -1
}

// Output is everything the process wrote so far.
func (p *Proc) Output() string { return p.out.String() }

// WaitOutput waits until the output contains s.
func (p *Proc) WaitOutput(ctx context.Context, s string) bool {
	for {
		if strings.Contains(p.Output(), s) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// WantOutput waits up to timeout for s to appear in the output, failing the
// test otherwise: the server batches its log lines, so a line may reach the
// output a moment after the request that followed it was answered.
func (p *Proc) WantOutput(t testing.TB, s string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if !p.WaitOutput(ctx, s) {
		t.Fatalf("output lacks %s after %s:\n%s", s, timeout, p.Output())
	}
}

// Buffer collects output written from several goroutines (a process's
// stdout and stderr, a logger used by background work) for a test to read.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ExternalIP returns an address of this machine that is not on the
// loopback interface (IPv4 preferred), or "" when it has none; tests of
// what a listener exposes dial it.
func ExternalIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	var v6 string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || !ipn.IP.IsGlobalUnicast() {
			continue
		}
		if ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
		if v6 == "" {
			v6 = ipn.IP.String()
		}
	}
	return v6
}
