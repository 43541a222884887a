//go:build container

package deploy

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestContainerBuildContext has the real builder (podman, which reads
// .dockerignore as Docker does) copy the whole build context into a scratch
// image and lists it: only the Go module and its packages' sources and
// embedded files, no tests, docs, .git, CI files or secrets.
func TestContainerBuildContext(t *testing.T) {
	podman := requireTool(t, "podman", "run container-bases setup (apt-get install podman buildah runc)")
	p := newPodman(t, podman)
	dir := t.TempDir()
	containerfile := filepath.Join(dir, "Containerfile")
	if err := os.WriteFile(containerfile, []byte("FROM scratch\nCOPY . /context/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	image := "localhost/example-function-context:ci-" + randomHex(4)
	p.run("build", "--pull=never", "--layers=false", "--file="+containerfile, "--tag="+image, repoRoot(t))
	t.Cleanup(func() { p.quiet("rmi", "--force", image) })
	ctr := strings.TrimSpace(p.run("create", image, "/none"))
	t.Cleanup(func() { p.quiet("rm", ctr) })

	var files []string
	tr := tar.NewReader(bytes.NewReader(p.runBytes("export", ctr)))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if name, ok := strings.CutPrefix(path.Clean("/"+h.Name), "/context/"); ok && h.Typeflag == tar.TypeReg {
			files = append(files, name)
		}
	}
	t.Logf("build context: %d files", len(files))
	for _, want := range []string{"go.mod", "go.sum", "cmd/server/main.go", "internal/database/migrations/001_create_items.sql",
		"internal/web/templates/layout.html", "internal/web/static/manifest.json"} {
		if !slices.Contains(files, want) {
			t.Errorf("build context lacks %s", want)
		}
	}
	for _, f := range files {
		allowed := f == "go.mod" || f == "go.sum" || (!strings.Contains(f, "/") && strings.HasSuffix(f, ".go")) ||
			strings.HasPrefix(f, "cmd/") || strings.HasPrefix(f, "function/") || strings.HasPrefix(f, "internal/")
		if !allowed || strings.HasSuffix(f, "_test.go") || strings.Contains("/"+f, "/testdata/") || strings.HasSuffix(f, ".env") {
			t.Errorf("build context contains %s", f)
		}
	}
}
