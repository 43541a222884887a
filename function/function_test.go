package function_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"example.com/example-function/function"
	"example.com/example-function/internal/config"
	"example.com/example-function/internal/proctest"
	"example.com/example-function/internal/service"
)

const frameworkFunctions = "github.com/GoogleCloudPlatform/functions-framework-go/functions"

// directRegistrations returns the calls of the framework's functions.HTTP
// (or CloudEvent) in src that are not inside function.register: a function
// registered that way would be served by the framework but not by cmd/server.
func directRegistrations(t *testing.T, name string, src []byte) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	local := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == frameworkFunctions {
			local = "functions"
			if imp.Name != nil {
				local = imp.Name.Name
			}
		}
	}
	if local == "" || local == "_" {
		return nil
	}
	var found []string
	for _, decl := range f.Decls {
		fn, isFunc := decl.(*ast.FuncDecl)
		inRegister := isFunc && fn.Recv == nil && fn.Name.Name == "register" && f.Name.Name == "function"
		ast.Inspect(decl, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && !inRegister {
				found = append(found, fset.Position(sel.Pos()).String()+": "+local+"."+sel.Sel.Name)
			}
			return true
		})
	}
	return found
}

// TestFunctionsRegisteredOnlyThroughTheTable: the only use of the
// framework's registration in the whole module is the one in register.
func TestFunctionsRegisteredOnlyThroughTheTable(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".data" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, call := range directRegistrations(t, path, src) {
			t.Errorf("%s: register functions with function.register, not the framework directly", call)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The check must see a direct registration.
	bad := []byte("package function\nimport ff \"" + frameworkFunctions + "\"\nfunc init() { ff.HTTP(\"x\", nil) }\n")
	if got := directRegistrations(t, "bad.go", bad); len(got) != 1 {
		t.Fatalf("a direct registration went unnoticed: %v", got)
	}
}

func TestTargetNamesTheFunctions(t *testing.T) {
	t.Parallel()
	if got := strings.Join(function.Names(), ","); got != "app,healthz" {
		t.Fatalf("functions %q, want app,healthz", got)
	}
	_, err := function.Target(&service.Service{Config: config.Config{Function: "nope"}})
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "app, healthz") {
		t.Fatalf("unknown target: %v, want an error naming it and the functions there are", err)
	}
}

// TestAddedFunctionServedByEveryEntryPoint adds a function to a copy of the
// module exactly as the package documentation says, builds both mains and
// asks each for it with FUNCTION_TARGET=hello.
func TestAddedFunctionServedByEveryEntryPoint(t *testing.T) {
	t.Parallel()
	dir := proctest.CopyModule(t)
	module := strings.TrimSpace(run(t, dir, "go", "list", "-m"))
	hello := "package function\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\n\t\"" + module + "/internal/service\"\n)\n\n" +
		documentedExample(t, filepath.Join(dir, "function", "function.go"))
	if err := os.WriteFile(filepath.Join(dir, "function", "hello.go"), []byte(hello), 0o644); err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: the service starts without its database.
	env := []string{"FUNCTION_TARGET=hello", "DATABASE_URL=postgres://postgres@127.0.0.1:1/app?sslmode=disable"}
	for _, main := range []string{"./cmd/server", "./cmd/functions"} {
		t.Run(main, func(t *testing.T) {
			t.Parallel()
			p := proctest.Start(t, proctest.BuildIn(t, dir, main), env...)
			p.WaitHTTP(t, "/some/path", http.StatusOK, 20*time.Second)
			res, err := http.Get(p.URL("/another"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || string(body) != "hello\n" {
				t.Fatalf("%s with FUNCTION_TARGET=hello: %d %q, want 200 \"hello\\n\"", main, res.StatusCode, body)
			}
		})
	}
	t.Run("unknown target", func(t *testing.T) {
		t.Parallel()
		p := proctest.Start(t, proctest.BuildIn(t, dir, "./cmd/server"), "FUNCTION_TARGET=helo", env[1])
		if code := p.Wait(t, 20*time.Second); code != 1 || !strings.Contains(p.Output(), "app, healthz, hello") {
			t.Fatalf("cmd/server with an unknown target: exit %d, output:\n%s", code, p.Output())
		}
	})
}

// documentedExample returns the indented code block of the package comment
// that follows "registers it in init:".
func documentedExample(t *testing.T, file string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	_, after, ok := strings.Cut(doc, "registers it in init:\n\n")
	if !ok {
		t.Fatalf("the package comment of %s no longer shows how to add a function", file)
	}
	var code strings.Builder
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "\t") {
			break
		}
		code.WriteString(strings.TrimPrefix(line, "\t") + "\n")
	}
	return code.String()
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out)
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	return filepath.Dir(strings.TrimSpace(run(t, ".", "go", "env", "GOMOD")))
}
