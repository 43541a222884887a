package web_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
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

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/web"
	"example.com/example-function/internal/web/contract"
)

// apiContract checks every /api answer of this package's tests against
// internal/web/openapi.json and counts what it saw. Set once by TestMain,
// before any test runs.
var apiContract *contract.Checker

// contractExemptions are the documented answers no test here can produce
// yet, each with its reason. An exemption that is no longer needed (every
// answer it covers was seen) fails the run, so the list cannot go stale.
var contractExemptions = map[contract.Key]string{}

// contractMain builds the checker, runs the tests with run, then fails
// the run when a documented answer was exercised by no test (unless -run
// or -skip chose a subset, which cannot be expected to cover everything).
func contractMain(m *testing.M, run func(*testing.M) int) int {
	c, err := contract.New(web.OpenAPIDocument(), web.ProblemTypeBase)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	apiContract = c
	if code := run(m); code != 0 {
		return code
	}
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			fmt.Printf("contract: coverage of the documented answers not checked: -%s chose a subset of the tests\n", strings.TrimPrefix(name, "test."))
			return 0
		}
	}
	return reportCoverage(os.Stdout, c, contractExemptions, testing.Verbose())
}

// reportCoverage prints the coverage table (in full with verbose) and
// returns 1 when a documented answer is neither seen nor exempt, or an
// exemption is stale.
func reportCoverage(w io.Writer, c *contract.Checker, exempt map[contract.Key]string, verbose bool) int {
	missing, stale := c.Coverage(exempt)
	seen := c.Seen()
	documented := c.Documented()
	if verbose {
		fmt.Fprintln(w, "contract: documented answers (operation status problem) and how often the tests met them:")
		for _, k := range documented {
			fmt.Fprintf(w, "  %-45s %5d\n", k, seen[k])
		}
	}
	fmt.Fprintf(w, "contract: %d documented answers, %d not exercised, %d exemptions\n", len(documented), len(missing), len(exempt))
	for e, reason := range exempt {
		fmt.Fprintf(w, "contract: exempt %v: %s\n", e, reason)
	}
	for _, k := range missing {
		fmt.Fprintf(w, "contract: FAIL: no test exercised %v: add one (contract_answers_test.go) or exempt it with a reason\n", k)
	}
	for _, s := range stale {
		fmt.Fprintf(w, "contract: FAIL: stale exemption %s\n", s)
	}
	if len(missing) > 0 || len(stale) > 0 {
		return 1
	}
	return 0
}

// checked puts h behind the contract check. Benchmarks get h as it is:
// validating every answer would be most of what they measure.
func checked(t testing.TB, h http.Handler) http.Handler {
	if _, bench := t.(*testing.B); bench {
		return h
	}
	return apiContract.Wrap(t, h)
}

// The committed document is served at /api/openapi.json to anyone, with
// info.version the build's and every other byte as committed; HEAD
// answers the same without a body; writes to it are no public route.
func TestOpenAPIDocumentServed(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	r := a.do("GET", web.OpenAPIPath, "", "")
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %s", web.OpenAPIPath, r.StatusCode, r.Header.Get("Content-Type"))
	}
	want := strings.Replace(string(web.OpenAPIDocument()), `"version": "dev"`, `"version": "v1.2.3"`, 1)
	if r.body != want {
		t.Errorf("served document differs from the committed one beyond info.version:\n%s", firstDifference(r.body, want))
	}
	var doc struct {
		Info struct{ Version string } `json:"info"`
	}
	r.decode(t, &doc)
	if doc.Info.Version != "v1.2.3" {
		t.Errorf("info.version = %q, want the build version v1.2.3", doc.Info.Version)
	}

	anon := newApp(t, auth.None{})
	if r := anon.do("GET", web.OpenAPIPath, "", ""); r.StatusCode != http.StatusOK || r.body != want {
		t.Errorf("anonymous GET %s: %d", web.OpenAPIPath, r.StatusCode)
	}
	if r := anon.do("HEAD", web.OpenAPIPath, "", ""); r.StatusCode != http.StatusOK {
		t.Errorf("anonymous HEAD %s: %d", web.OpenAPIPath, r.StatusCode)
	}
	wantProblem(t, anon.json("POST", web.OpenAPIPath, `{}`), http.StatusUnauthorized, "unauthenticated")
	wantProblem(t, a.json("POST", web.OpenAPIPath, `{}`), http.StatusMethodNotAllowed, "method-not-allowed")
}

// The document is kept as json.Indent writes it (two spaces, members in
// the order written, a final newline), so the served copy reads the same
// and a change shows as a small diff; it says version "dev", which the
// server replaces.
func TestOpenAPIDocumentIsCanonical(t *testing.T) {
	t.Parallel()
	doc := web.OpenAPIDocument()
	var compact, indented bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if err := json.Indent(&indented, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	if !bytes.Equal(indented.Bytes(), doc) {
		t.Errorf("openapi.json is not in canonical form (two-space json.Indent, final newline):\n%s", firstDifference(string(doc), indented.String()))
	}
	if n := strings.Count(string(doc), `"version": "dev"`); n != 1 {
		t.Errorf(`openapi.json has %d "version": "dev", want exactly one (info.version)`, n)
	}
}

// firstDifference shows where two texts part, with some context.
func firstDifference(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-80)
	return fmt.Sprintf("at byte %d:\ngot:  %q\nwant: %q", i, got[from:min(len(got), i+80)], want[from:min(len(want), i+80)])
}

// Every problem type the handlers can send is in the document: read from
// the problem{Type: "..."} literals of this package's code, so a new one
// cannot ship undocumented even before a test provokes it.
func TestEveryProblemTypeIsDocumented(t *testing.T) {
	t.Parallel()
	documented := map[string]bool{}
	for _, k := range apiContract.Documented() {
		documented[k.Problem] = true
	}
	for _, types := range contract.UnroutedProblems() {
		for _, name := range types {
			documented[name] = true
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	sent := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, isIdent := lit.Type.(*ast.Ident); !isIdent || id.Name != "problem" {
				return true
			}
			for _, e := range lit.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if key, isIdent := kv.Key.(*ast.Ident); !isIdent || key.Name != "Type" {
					continue
				}
				s, ok := kv.Value.(*ast.BasicLit)
				if !ok || s.Kind != token.STRING {
					t.Errorf("%s: problem type is not a string literal; this test cannot read it", fset.Position(kv.Pos()))
					continue
				}
				name, _ := strconv.Unquote(s.Value)
				sent[name] = fset.Position(s.Pos()).String()
			}
			return true
		})
	}
	if len(sent) < 10 {
		t.Fatalf("found only %d problem types in the code: %v", len(sent), sent)
	}
	for name, where := range sent {
		if !documented[name] {
			t.Errorf("%s sends problem type %q, which internal/web/openapi.json does not document", where, name)
		}
	}
}

// The validator is a test dependency: nothing the server links reaches it.
func TestContractCheckerStaysOutOfTheServer(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "../../cmd/server", "../../cmd/functions").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "libopenapi") || strings.HasSuffix(pkg, "/internal/web/contract") {
			t.Errorf("the server links %s", pkg)
		}
	}
}
