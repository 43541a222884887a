package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The build context is an allowlist: everything is excluded first, and each
// re-included path exists. deploy/buildcontext_test.go (tag container) has
// the real builder list what it receives.
func TestDockerignoreIsAnAllowlist(t *testing.T) {
	t.Parallel()
	var rules []string
	for _, line := range strings.Split(readRepoFile(t, ".dockerignore"), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			rules = append(rules, line)
		}
	}
	if len(rules) == 0 || rules[0] != "*" {
		t.Fatalf(".dockerignore must start by excluding everything (*), got %q", rules)
	}
	for _, r := range rules[1:] {
		name, ok := strings.CutPrefix(r, "!")
		if !ok || strings.ContainsAny(name, "*?[") {
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot(t), name)); err != nil {
			t.Errorf(".dockerignore re-includes %s: %v", name, err)
		}
	}
}
