package deploy

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

const (
	// gonewVersion is the golang.org/x/tools release whose cmd/gonew
	// README.md#start-a-new-project tells people to run; keep the two in step.
	gonewVersion = "v0.52.0"
	modulePath   = "example.com/example-function"
)

// TestTemplateRename does what README.md#start-a-new-project tells a new team to do, offline:
// gonew copies this module under a new path from a module proxy, and the copy
// builds. The proxy is a file:// directory holding a zip of this checkout
// (tracked and untracked files, .gitignore respected) made with x/mod/zip,
// exactly the format the real proxy serves.
func TestTemplateRename(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole module a second time; runs without -short")
	}
	t.Parallel()
	goBin := requireTool(t, "go", "the Go toolchain")
	root := repoRoot(t)
	work := t.TempDir()

	// 1. gonew itself, built from the Go module proxy.
	bin := filepath.Join(work, "bin")
	run(t, root, nil, goBin, "install", "golang.org/x/tools/cmd/gonew@"+gonewVersion).env("GOBIN=" + bin).do()

	// 2. A file-based module proxy serving this checkout as v1.0.0.
	proxy := filepath.Join(work, "proxy")
	writeModuleProxy(t, root, proxy, module.Version{Path: modulePath, Version: "v1.0.0"})

	// 3. The rename. A private module cache keeps the fake v1.0.0 out of the
	// shared one; only this one module is fetched into it.
	dst := filepath.Join(work, "orders")
	run(t, work, nil, filepath.Join(bin, "gonew"), modulePath+"@v1.0.0", "example.com/acme/orders", dst).env(
		"GOPROXY=file://"+filepath.ToSlash(proxy),
		"GONOSUMDB="+modulePath, "GONOSUMCHECK=1", "GOFLAGS=-modcacherw",
		"GOMODCACHE="+filepath.Join(work, "modcache"),
	).do()

	// 4. The copy builds with the ordinary module cache and proxy.
	run(t, dst, nil, goBin, "build", "./...").do()
	run(t, dst, nil, goBin, "vet", "./cmd/server").do()

	gomod, err := os.ReadFile(filepath.Join(dst, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(gomod, []byte("module example.com/acme/orders\n")) {
		t.Errorf("renamed go.mod starts %q", firstLine(gomod))
	}
	// No Go file of the copy may still import the template.
	err = filepath.WalkDir(dst, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if strings.HasPrefix(imp.Path.Value, `"`+modulePath+`/`) {
				t.Errorf("%s still imports %s", path, imp.Path.Value)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// gonew rewrites import paths only. Nothing else may name the template:
	// a Makefile, Dockerfile or string constant that did would, in the copy,
	// stamp no version or name its telemetry after the template. Docs (the
	// gonew command in README.md) and this test's own constant are exempt.
	err = filepath.WalkDir(dst, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") || strings.HasSuffix(path, "template_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(modulePath)) {
			t.Errorf("%s names the template's module path %s", path, modulePath)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeModuleProxy lays out a GOPROXY directory (list, .info, .mod, .zip) for
// the module in dir.
func writeModuleProxy(t *testing.T, dir, proxy string, mv module.Version) {
	t.Helper()
	v := filepath.Join(proxy, mv.Path, "@v")
	if err := os.MkdirAll(v, 0o755); err != nil {
		t.Fatal(err)
	}
	z, err := os.Create(filepath.Join(v, mv.Version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	// In a git checkout, the files git knows (so local data such as .data/ stays
	// out); in a source upload without .git (gcloud builds submit), the directory.
	out, err := exec.Command("git", "-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Logf("not a git work tree (%v): zipping the directory", err)
		err = zip.CreateFromDir(z, mv, dir)
	} else {
		var files []zip.File
		for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
				continue // deleted in the work tree but not yet in the index
			}
			files = append(files, diskFile{root: dir, name: filepath.ToSlash(name)})
		}
		err = zip.Create(z, mv, files)
	}
	if err != nil {
		t.Fatalf("module zip: %v", err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(map[string]any{"Version": mv.Version, "Time": time.Now().UTC()})
	for name, content := range map[string][]byte{
		"list":               []byte(mv.Version + "\n"),
		mv.Version + ".info": info,
		mv.Version + ".mod":  gomod,
	} {
		if err := os.WriteFile(filepath.Join(v, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// diskFile is a file of the work tree as x/mod/zip wants it.
type diskFile struct{ root, name string }

func (f diskFile) Path() string                 { return f.name }
func (f diskFile) Lstat() (fs.FileInfo, error)  { return os.Lstat(filepath.Join(f.root, f.name)) }
func (f diskFile) Open() (io.ReadCloser, error) { return os.Open(filepath.Join(f.root, f.name)) }

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}

// command is an exec.Cmd that fails the test with its output when it fails.
type command struct {
	t   *testing.T
	cmd *exec.Cmd
}

func run(t *testing.T, dir string, stdin io.Reader, name string, args ...string) *command {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Stdin, cmd.Env = dir, stdin, os.Environ()
	return &command{t: t, cmd: cmd}
}

func (c *command) env(kv ...string) *command {
	c.cmd.Env = append(c.cmd.Env, kv...)
	return c
}

func (c *command) do() string {
	c.t.Helper()
	start := time.Now()
	out, err := c.cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("%s (in %s): %v\n%s", strings.Join(c.cmd.Args, " "), c.cmd.Dir, err, out)
	}
	c.t.Logf("%s: %s", strings.Join(c.cmd.Args, " "), time.Since(start).Round(time.Millisecond))
	return string(out)
}
