package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
)

// This file reproduces what Google's Go function buildpack does with the
// repository on `gcloud run deploy --source . --function NAME`, step by step,
// as its source at this commit says:
//
//	https://github.com/GoogleCloudPlatform/buildpacks/tree/21f28de8c499445ef1098016bfce35b16415e4b1
//	cmd/go/functions_framework/lib/lib.go           BuildFn, createMainGoMod, moduleAndPackageNames
//	cmd/go/functions_framework/converter/get_package/main.go   package detection
//	cmd/go/functions_framework/lib/template_declarative.go     the generated main
//	cmd/go/build/lib/lib.go, pkg/golang/golang.go   the go build
//
// What it cannot reproduce (the Go version the builder installs, the
// platform's own environment) is listed in docs/deploy.md.
const (
	bpSourceDir        = "serverless_function_source_code" // lib.go fnSourceDir
	bpAppModule        = "functions.local/app"             // lib.go appModule
	bpFrameworkModule  = "github.com/GoogleCloudPlatform/functions-framework-go"
	bpFunctionsPackage = bpFrameworkModule + "/functions"
)

type bpPackage struct {
	Name    string
	Imports map[string]bool
}

// bpDetectPackage is get_package/main.go's rule (it uses parser.ParseDir):
// parse every .go file of the source root (test files included,
// subdirectories not), and require exactly one package name.
func bpDetectPackage(dir string) (bpPackage, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return bpPackage{}, err
	}
	var p bpPackage
	for _, e := range entries {
		// parser.ParseDir's selection: every file ending in .go, whatever
		// its build constraints.
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.ImportsOnly)
		if err != nil {
			return bpPackage{}, fmt.Errorf("failed to parse source in %s: %v", dir, err)
		}
		switch name := f.Name.Name; {
		case p.Name == "":
			p = bpPackage{Name: name, Imports: map[string]bool{}}
		case name != p.Name:
			return bpPackage{}, fmt.Errorf("multiple packages in user code directory: %s != %s", p.Name, name)
		}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			p.Imports[path] = true
		}
	}
	if p.Name == "" {
		return bpPackage{}, fmt.Errorf("unable to find Go package in %s", dir)
	}
	return p, nil
}

// bpMain is the program the buildpack generates for declarative functions
// (template_declarative.go), in our words: import the function package for
// its init, answer the reserved URLs with 404, start the framework on PORT.
var bpMain = template.Must(template.New("main").Parse(`package main

import (
	"log"
	"net/http"
	"os"

	_ "{{.}}"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %v\n", err)
	}
}
`))

// TestBuildpackPackageDetection checks the detection rule itself on the cases
// users meet (buildpacks#134, functions-framework-go#257), then on this
// repository's root.
func TestBuildpackPackageDetection(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		files map[string]string
		want  string // package name, or the error's text
	}{
		"no Go file at the root": {map[string]string{"go.mod": "module x.y/z\n"}, "unable to find Go package"},
		"external test package":  {map[string]string{"a.go": "package a\n", "a_test.go": "package a_test\n"}, "multiple packages"},
		"one package":            {map[string]string{"a.go": "package a\n", "a_test.go": "package a\n"}, "a"},
	} {
		dir := t.TempDir()
		for f, src := range tc.files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		p, err := bpDetectPackage(dir)
		got := p.Name
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: detected %q, want %q", name, got, tc.want)
		}
	}
	p, err := bpDetectPackage(repoRoot(t))
	if err != nil {
		t.Fatalf("the buildpack would refuse this repository: %v", err)
	}
	if !p.Imports[bpFunctionsPackage] {
		t.Errorf("the root package does not import %s: the buildpack would generate its older main, "+
			"which calls a function named FUNCTION_TARGET in the root package", bpFunctionsPackage)
	}
}

// TestBuildpackSourceDeploy runs the buildpack's steps on a copy of the
// repository, then starts the binary as Cloud Run would, once per function.
func TestBuildpackSourceDeploy(t *testing.T) {
	t.Parallel()
	goBin := requireTool(t, "go", "the Go toolchain")

	// BuildFn: the whole source moves into a subdirectory of the app root.
	appRoot := t.TempDir()
	src := filepath.Join(appRoot, bpSourceDir)
	if err := os.Rename(proctest.CopyModule(t), src); err != nil {
		t.Fatal(err)
	}
	pkg, err := bpDetectPackage(src)
	if err != nil {
		t.Fatal(err)
	}

	// createMainGoMod: go.sum must exist (else go mod tidy), the module path
	// needs a dot in its first element, and the function package is the
	// module root unless the app root has a directory named after it.
	if _, err := os.Stat(filepath.Join(src, "go.sum")); err != nil {
		t.Fatalf("no go.sum: %v", err)
	}
	module := strings.TrimSpace(run(t, src, nil, goBin, "list", "-m").do())
	if first, _, _ := strings.Cut(module, "/"); !strings.Contains(first, ".") {
		t.Fatalf("module path %q: the buildpack refuses one without a dot in its first element", module)
	}
	fnPackage := module
	if _, err := os.Stat(filepath.Join(appRoot, pkg.Name)); err == nil {
		fnPackage = module + "/" + pkg.Name
	}
	// The framework is a dependency of ours, so the buildpack injects none.
	if v := strings.TrimSpace(run(t, src, nil, goBin, "list", "-m", "-f", "{{.Version}}", bpFrameworkModule).do()); v == "" {
		t.Fatal("functions-framework-go is not in go.mod: the buildpack would inject its own version")
	}
	mainDir := filepath.Join(src, bpAppModule)
	if err := os.MkdirAll(mainDir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(mainDir, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(bpMain.Execute(f, fnPackage), f.Close()); err != nil {
		t.Fatal(err)
	}
	run(t, src, nil, goBin, "mod", "tidy").do()

	// go/build: GOOGLE_BUILDABLE is the generated main, built in the source.
	bin := filepath.Join(t.TempDir(), "main")
	run(t, src, nil, goBin, "build", "-o", bin, mainDir).env("GOOS=linux", "GOARCH=amd64").do()

	db := pgtest.NewDatabase(t)
	for _, target := range []string{"app", "healthz"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			p := proctest.Start(t, bin, "FUNCTION_TARGET="+target, "DATABASE_URL="+db, "AUTH_MODE=dev", "DEV_USER=dev@example.com")
			p.WaitHTTP(t, "/healthz", http.StatusOK, 30*time.Second)
			if target == "healthz" {
				// The health check answers on every path.
				var h struct{ Status, Version string }
				getJSON(t, p.URL("/anything"), &h)
				if h.Version == "" {
					t.Fatalf("healthz function: %+v", h)
				}
				return
			}
			p.WaitHTTP(t, "/readyz", http.StatusOK, 30*time.Second)
			var list struct{ Items []any }
			getJSON(t, p.URL("/api/items"), &list)
		})
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}
