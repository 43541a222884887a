package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeRunsGoWithTheToolchainSetting: every go command make runs, in
// recipes and in $(shell ...) (which make before 4.4 gives none of its
// exported variables), must carry GOTOOLCHAIN=auto, or a machine whose Go is
// older than go.mod's go line (Debian's, the golang image's) fails `make run`.
// A stand-in go on PATH refuses to run without it; make -n expands every
// variable the targets use, so each $(shell) runs, without building.
func TestMakeRunsGoWithTheToolchainSetting(t *testing.T) {
	t.Parallel()
	makeBin := requireTool(t, "make", "apt-get install make")
	goBin := requireTool(t, "go", "the Go toolchain")
	stubs := t.TempDir()
	stub := "#!/bin/sh\n[ \"$GOTOOLCHAIN\" = auto ] || { echo \"go $* ran with GOTOOLCHAIN='$GOTOOLCHAIN'\" >&2; exit 3; }\nexec " + goBin + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(stubs, "go"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOTOOLCHAIN=") && !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MFLAGS=") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+stubs+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, target := range []string{"run", "build", "test", "lint", "vuln", "bench"} {
		cmd := exec.Command(makeBin, "-n", target)
		cmd.Dir, cmd.Env = repoRoot(t), env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("make -n %s without GOTOOLCHAIN in the environment: %v\n%s", target, err, out)
		}
	}

	// The stand-in must refuse what the Makefile once did.
	cmd := exec.Command(filepath.Join(stubs, "go"), "version")
	cmd.Env = append(env, "GOTOOLCHAIN=local")
	if err := cmd.Run(); err == nil {
		t.Fatal("the stand-in go ran without GOTOOLCHAIN=auto")
	}
}
