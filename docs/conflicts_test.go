package docs

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// conflictMarker is a line git writes into a file whose merge stopped on a
// conflict: such a file must never be committed.
var conflictMarker = regexp.MustCompile(`(?m)^(<<<<<<< |>>>>>>> |=======$)`)

// TestNoConflictMarkers reads every file of the repository for leftover
// merge-conflict markers (a Markdown table or a Go file with one still
// "works" well enough to slip through review).
func TestNoConflictMarkers(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range repoFiles(t, root) {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue // binary
		}
		if loc := conflictMarker.FindIndex(b); loc != nil {
			t.Errorf("%s:%d: merge conflict marker %q", name, bytes.Count(b[:loc[0]], []byte("\n"))+1, b[loc[0]:loc[1]])
		}
	}
	if conflictMarker.Find([]byte("a\n<<<<<<< HEAD\nb\n")) == nil {
		t.Fatal("the marker pattern does not match a marker")
	}
}
