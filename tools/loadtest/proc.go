package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"example.com/example-function/internal/localpg"
)

// startPinned starts cmd with its CPU affinity limited to cpus (none: no
// limit). The child inherits the affinity of the thread that forks it, so
// the fork happens on a locked thread pinned for the purpose and restored
// afterwards. Unlike wrapping the command in taskset(1), this adds no
// extra exec to start-up timings. The thread must outlive the child's
// Pdeathsig (which follows the forking thread), hence restore, not discard.
func startPinned(cmd *exec.Cmd, cpus []int) error {
	if len(cpus) == 0 {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var old, set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &old); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get CPU affinity: %w", err)
			return
		}
		for _, c := range cpus {
			set.Set(c)
		}
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("set CPU affinity %v: %w", cpus, err)
			return
		}
		err := cmd.Start()
		if unix.SchedSetaffinity(0, &old) == nil {
			// Only a restored thread goes back to the scheduler; otherwise
			// it stays locked and the runtime discards it with this goroutine.
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// tail keeps the last bytes a child wrote, for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 16 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// proc is a server under test running as a child process.
type proc struct {
	name string
	base string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	out  *tail
	done chan error

	stopOnce sync.Once
	stopErr  error
}

// procSpec says how to start a server under test.
type procSpec struct {
	Name  string
	Path  string
	Args  []string
	Env   []string // added to a minimal environment; PORT and GOMAXPROCS are set here
	CPUs  []int
	Procs int      // GOMAXPROCS; 0 leaves the Go default
	Extra []string // -server-env, last so it wins
}

// command builds the exec.Cmd for s listening on port.
func (s procSpec) command(port int) *exec.Cmd {
	cmd := exec.Command(s.Path, s.Args...)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "PORT=" + strconv.Itoa(port)}
	if s.Procs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(s.Procs))
	}
	cmd.Env = append(append(env, s.Env...), s.Extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// startProc starts s and waits until readyPath answers 200.
func startProc(ctx context.Context, s procSpec, readyPath string) (*proc, error) {
	port, err := localpg.FreePort()
	if err != nil {
		return nil, err
	}
	p := &proc{name: s.Name, base: "http://127.0.0.1:" + strconv.Itoa(port), out: &tail{}, done: make(chan error, 1)}
	p.cmd = s.command(port)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := startPinned(p.cmd, s.CPUs); err != nil {
		return nil, fmt.Errorf("%s: start: %w", s.Name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("%s exited during start: %v\n%s", s.Name, err, p.out.String())
		default:
		}
		if resp, err := client.Get(p.base + readyPath); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, fmt.Errorf("%s: %s not 200 within 60s\n%s", s.Name, readyPath, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the exit (SIGKILL after 15 s). It
// returns an error when the process did not exit cleanly. Calling it again
// returns the first result.
func (p *proc) stop() error {
	if p == nil {
		return nil
	}
	p.stopOnce.Do(func() { p.stopErr = p.terminate() })
	return p.stopErr
}

func (p *proc) terminate() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("%s exited with %v\n%s", p.name, err, p.out.String())
		}
		return nil
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 15s of SIGTERM; killed", p.name)
	}
}

// get fetches path once and returns status and body size (a sanity check
// that both sides of a comparison answer alike).
func (p *proc) get(path string) (int, int, error) {
	resp, err := http.Get(p.base + path)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, int(n), err
}

// cpuTime is the CPU time (user + system, all threads, including exited
// ones) the process has used so far, from /proc/PID/stat.
func (p *proc) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15, in USER_HZ ticks,
// which Linux fixes at 100 per second) from a /proc/PID/stat line.
func parseStatCPU(stat string) (time.Duration, error) {
	// The command name (field 2) may contain spaces; fields resume after ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", stat)
	}
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc stat line %q", stat)
	}
	return time.Duration(u+s) * (time.Second / 100), nil
}

// pinThreads sets the CPU affinity of every thread of this process (none:
// no change). Threads the runtime starts later inherit it from the thread
// that starts them; startPinned restores its thread before releasing it.
func pinThreads(cpus []int) error {
	if len(cpus) == 0 {
		return nil
	}
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	// A thread started meanwhile by one not yet pinned would escape one
	// pass; repeat until a pass finds every thread pinned.
	for range 10 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		changed := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			var cur unix.CPUSet
			if unix.SchedGetaffinity(tid, &cur) == nil && cur == set {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("pin thread %d to CPUs %v: %w", tid, cpus, err)
			}
			changed = true
		}
		if !changed {
			return nil
		}
	}
	return fmt.Errorf("pin threads to CPUs %v: new threads kept appearing", cpus)
}

// pinChildren sets the CPU affinity of every process whose parent is
// parent and that runs command comm, and of their children: PostgreSQL's
// postmaster and its helpers. Backends forked later inherit it.
func pinChildren(parent int, comm string, cpus []int) (int, error) {
	if len(cpus) == 0 {
		return 0, nil
	}
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	parents := map[int]bool{parent: true}
	pinned := 0
	// Two passes reach the postmaster's children too (pids are not ordered
	// by parentage).
	for range 2 {
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || parents[pid] && pid != parent {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue // exited meanwhile
			}
			name, ppid, ok := statCommPPID(string(b))
			if !ok || !parents[ppid] || name != comm {
				continue
			}
			if err := unix.SchedSetaffinity(pid, &set); err != nil {
				return pinned, fmt.Errorf("pin %s (pid %d) to CPUs %v: %w", comm, pid, cpus, err)
			}
			parents[pid] = true
			pinned++
		}
	}
	return pinned, nil
}

// statCommPPID reads the command name (field 2) and parent pid (field 4)
// from a /proc/PID/stat line.
func statCommPPID(stat string) (string, int, bool) {
	i, j := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if i < 0 || j < i {
		return "", 0, false
	}
	f := strings.Fields(stat[j+1:])
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return stat[i+1 : j], ppid, err == nil
}
