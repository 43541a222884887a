package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// requireTool returns the path of an external program a test needs. In CI
// (CI=true) a missing program fails the test: a check that silently stops
// running is worse than none. Elsewhere the test is skipped with the hint.
func requireTool(t *testing.T, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI but not on PATH: %s", name, hint)
	}
	t.Skipf("%s not on PATH (%s); CI=true makes this a failure", name, hint)
	return ""
}

// repoRoot is the module root. go test runs in the package directory, deploy/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
