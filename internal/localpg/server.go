// Package localpg runs a real PostgreSQL server from the machine's own
// binaries: for `make run` (cmd/dev) and, through internal/pgtest, for tests.
// It finds the server binaries, initialises a data directory, starts postgres
// on a free loopback port and stops it again. When run as root it starts the
// server as the "postgres" user, because PostgreSQL refuses to run as root.
package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// InstallHint tells a newcomer what to do when no server is installed.
const InstallHint = `no PostgreSQL server binaries found (looked on PATH, in "pg_config --bindir" and /usr/lib/postgresql/*/bin).
Install one, e.g. "sudo apt-get install postgresql" (Debian/Ubuntu) or "brew install postgresql" (macOS),
or point DATABASE_URL (TEST_DATABASE_URL for tests) at a running server, or use "docker compose up"`

// ErrNotInstalled is returned when no PostgreSQL server binaries are found.
var ErrNotInstalled = errors.New(InstallHint)

// Options configure Start.
type Options struct {
	// DataDir keeps the cluster; it is created and initialised when empty.
	// When empty, a temporary directory is used and removed by Stop.
	DataDir string
	// Port to listen on; 0 picks a free one.
	Port int
	// Durable keeps fsync on. Tests leave it off for speed.
	Durable bool
	// Log receives the server's output; nil discards it.
	Log func(line string)
	// Settings are extra server settings (postgres -c NAME=VALUE), e.g.
	// shared_buffers for a benchmark.
	Settings map[string]string
}

// Server is a running PostgreSQL server.
type Server struct {
	bin     string
	dataDir string
	sockDir string
	temp    string // removed on Stop when set
	port    int
	cmd     *exec.Cmd
	done    chan error
	output  *lineWriter
}

// FindBinDir locates the directory holding initdb and postgres.
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if isFile(filepath.Join(dir, "initdb")) && isFile(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	// Debian and Ubuntu install servers per major version; prefer the newest.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, dir := range dirs {
		if isFile(filepath.Join(dir, "initdb")) && isFile(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", ErrNotInstalled
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Start initialises (if needed) and starts a server, waiting until it
// accepts connections.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dataDir: opts.DataDir, output: &lineWriter{log: opts.Log}}
	if s.dataDir == "" {
		// os.MkdirTemp under the system temp dir (not t.TempDir, whose 0700
		// root-owned parents the postgres user cannot enter).
		s.temp, err = os.MkdirTemp("", "pgtest-")
		if err != nil {
			return nil, fmt.Errorf("pgtest: temp dir: %w", err)
		}
		s.dataDir = filepath.Join(s.temp, "data")
		// The server user only needs to pass through to its own data dir.
		if err := os.Chmod(s.temp, 0o711); err != nil {
			s.cleanup()
			return nil, fmt.Errorf("pgtest: temp dir: %w", err)
		}
	}
	if s.dataDir, err = filepath.Abs(s.dataDir); err != nil {
		return nil, fmt.Errorf("pgtest: data dir: %w", err)
	}
	// The socket goes to a short private directory: Unix socket paths are
	// limited to about 100 bytes.
	if s.sockDir, err = os.MkdirTemp("", "pgsock-"); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("pgtest: socket dir: %w", err)
	}
	for _, dir := range []string{s.dataDir, s.sockDir} {
		if err := prepareDir(dir, cred); err != nil {
			s.cleanup()
			return nil, err
		}
	}
	if !isFile(filepath.Join(s.dataDir, "PG_VERSION")) {
		if err := s.initdb(ctx, cred); err != nil {
			s.cleanup()
			return nil, err
		}
	}
	// A free port can be taken by someone else between our probe and
	// postgres binding it; retry a few times on a random port.
	for attempt := 0; ; attempt++ {
		s.port = opts.Port
		if s.port == 0 {
			if s.port, err = FreePort(); err != nil {
				s.cleanup()
				return nil, err
			}
		}
		err = s.start(ctx, cred, opts.Durable, opts.Settings)
		if err == nil {
			return s, nil
		}
		if opts.Port != 0 || attempt == 2 || ctx.Err() != nil {
			s.cleanup()
			return nil, err
		}
	}
}

func (s *Server) initdb(ctx context.Context, cred *syscall.Credential) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "initdb"),
		"-D", s.dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb in %s: %w\n%s", s.dataDir, err, bytes.TrimSpace(out))
	}
	return nil
}

func (s *Server) start(ctx context.Context, cred *syscall.Credential, durable bool, settings map[string]string) error {
	args := []string{
		"-D", s.dataDir,
		"-p", strconv.Itoa(s.port),
		"-k", s.sockDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=200",
	}
	if !durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		args = append(args, "-c", k+"="+settings[k])
	}
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), args...)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	// Pdeathsig stops the server if this process dies without calling Stop.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-s.done:
			return fmt.Errorf("pgtest: postgres exited during start: %v\n%s", err, s.output.tail())
		default:
		}
		if err := s.ping(ctx); err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.kill()
			return fmt.Errorf("pgtest: postgres did not accept connections on port %d in time\n%s", s.port, s.output.tail())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// Port is the TCP port the server listens on (127.0.0.1).
func (s *Server) Port() int { return s.port }

// URL is a connection URL for database name on this server, as superuser.
func (s *Server) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, database)
}

// Stop shuts the server down (fast mode) and removes a temporary data dir.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		s.cleanup()
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown: disconnect clients, checkpoint
	var err error
	select {
	case err = <-s.done:
	case <-time.After(15 * time.Second):
		s.kill()
		err = errors.New("pgtest: postgres did not stop in 15s; killed")
	}
	s.cmd = nil
	s.cleanup()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		err = nil // a signalled exit is the normal end
	}
	return err
}

func (s *Server) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

func (s *Server) cleanup() {
	if s.sockDir != "" {
		_ = os.RemoveAll(s.sockDir)
	}
	if s.temp != "" {
		_ = os.RemoveAll(s.temp)
	}
}

// serverCredential returns the user to run the server as: nil (ourselves)
// unless we are root, then the "postgres" user.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, and PostgreSQL refuses root: need a \"postgres\" user to run the server as (it comes with the postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// prepareDir creates dir and, when the server runs as another user, hands it
// over and checks that user can reach it.
func prepareDir(dir string, cred *syscall.Credential) error {
	// Parents we create must let the server user pass through.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("pgtest: create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pgtest: create %s: %w", dir, err)
	}
	if cred == nil {
		return nil
	}
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("pgtest: chown %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("pgtest: chmod %s: %w", dir, err)
	}
	for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgtest: stat %s: %w", p, err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("pgtest: the postgres user cannot enter %s (mode %v), a parent of %s; choose a data directory outside it or run as a normal user", p, st.Mode().Perm(), dir)
		}
	}
	return nil
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// server about to start on it.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
