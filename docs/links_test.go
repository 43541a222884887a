package docs

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
	"unicode/utf8"
)

// selfPath is this file, left out of the pointer scan: its comments and
// test cases are examples of the patterns, not pointers.
const selfPath = "docs/links_test.go"

// TestLinks checks the repository itself: every relative link and anchor
// in its Markdown files, and every pointer to Markdown in its other files.
func TestLinks(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files := repoFiles(t, root)
	for _, want := range []string{"README.md", "docs/configuration.md", "tools/loadtest/README.md"} {
		if !slices.Contains(files, want) {
			t.Fatalf("%s is not in the file list; the list has %d files", want, len(files))
		}
	}
	r := check(os.DirFS(root), files)
	for _, p := range r.problems {
		t.Error(p)
	}
	t.Logf("%d Markdown files, %d relative links and %d pointers from other files checked", r.pages, r.links, r.pointers)
	// A scanner that silently stopped finding links would pass everything.
	if r.links < r.pages || r.pointers == 0 {
		t.Errorf("found only %d links in %d pages and %d pointers: the scanner has stopped seeing them", r.links, r.pages, r.pointers)
	}
}

// TestCheckFindsBrokenLinks runs the checker on a small tree with one of
// each kind of mistake and requires each to be reported at its line.
func TestCheckFindsBrokenLinks(t *testing.T) {
	t.Parallel()
	tree := map[string]string{
		"README.md": "# Title\n\n## Start here\n\nSee [ok](docs/a.md#setting-up), [gone](docs/gone.md),\n" +
			"[bad anchor](docs/a.md#nope), [self](#start-here), [self bad](#nowhere).\n\n" +
			"```\n[not a link](nowhere.md)\n```\n\n`[code](nowhere.md)` and [web](https://example.com/x.md#y).\n",
		"docs/a.md": "# A\n\n## Setting up\n\n## Setting up\n\n[twice](#setting-up-1) [thrice](#setting-up-2)\n" +
			"![img](../pic.png) <img src=\"missing.png\">\n",
		"pic.png": "",
		"main.go": "package main\n\n// See docs/a.md#setting-up and README.md#start-here.\n" +
			"// See docs/a.md#gone and README \"Connections\" and docs/none.md.\n" +
			"// Fine: https://cloud.google.com/run/docs/README.md and the README.\n",
	}
	fsys := fstest.MapFS{}
	var files []string
	for name, text := range tree {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
		files = append(files, name)
	}
	slices.Sort(files)
	r := check(fsys, files)
	want := []string{
		`README.md:5: link docs/gone.md: no such file`,
		`README.md:6: link docs/a.md#nope: docs/a.md has no heading with anchor "nope"`,
		`README.md:6: link #nowhere: README.md has no heading with anchor "nowhere"`,
		`docs/a.md:7: link #setting-up-2: docs/a.md has no heading with anchor "setting-up-2"`,
		`docs/a.md:8: link missing.png: no such file`,
		`main.go:4: pointer docs/a.md#gone: docs/a.md has no heading with anchor "gone"`,
		`main.go:4: pointer docs/none.md: no such file`,
		`main.go:4: pointer README "Connections": README.md has no heading "Connections"`,
	}
	if !slices.Equal(r.problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(r.problems, "\n"), strings.Join(want, "\n"))
	}
}

func TestSlug(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ heading, want string }{
		{"The two commands", "the-two-commands"},
		{"Assets: how they are built and served", "assets-how-they-are-built-and-served"},
		{"`AUTH_MODE=dev` (local only)", "auth_modedev-local-only"},
		{"Private service with Google ID tokens (cloudrun-iam)", "private-service-with-google-id-tokens-cloudrun-iam"},
		{"Deploy, release and run", "deploy-release-and-run"},
		{"A [linked](https://example.com) *word*", "a-linked-word"},
		{"Spaces  twice", "spaces--twice"},
		{"Über naïve café", "über-naïve-café"},
		{"Trailing hashes ##", "trailing-hashes"},
	} {
		if got := slug(headingText(c.heading)); got != c.want {
			t.Errorf("slug(%q) = %q, want %q", c.heading, got, c.want)
		}
	}
}

// report is what check found.
type report struct {
	problems               []string
	pages, links, pointers int
}

// check reads the Markdown files among files for their anchors and links,
// and every other text file for pointers to Markdown. files are
// slash-separated paths relative to the root of fsys.
func check(fsys fs.FS, files []string) report {
	var r report
	known := map[string]bool{} // files and the directories that hold them
	for _, f := range files {
		known[f] = true
		for d := path.Dir(f); d != "."; d = path.Dir(d) {
			known[d] = true
		}
	}
	anchors := map[string]map[string]bool{} // Markdown file -> its anchors
	anchorsOf := func(name string) map[string]bool {
		if a, ok := anchors[name]; ok {
			return a
		}
		b, err := fs.ReadFile(fsys, name)
		a := map[string]bool{}
		if err == nil {
			a = pageAnchors(string(b))
		}
		anchors[name] = a
		return a
	}
	for _, name := range files {
		if ignored(name) {
			continue
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			r.problems = append(r.problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if strings.HasSuffix(name, ".md") {
			r.pages++
			for _, l := range pageLinks(string(b)) {
				r.links++
				if _, msg := resolve(known, anchorsOf, name, l.dest, false); msg != "" {
					r.problems = append(r.problems, fmt.Sprintf("%s:%d: link %s: %s", name, l.line, l.dest, msg))
				}
			}
			continue
		}
		if name == selfPath || !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
			continue
		}
		for _, p := range filePointers(string(b)) {
			r.pointers++
			target, msg := resolve(known, anchorsOf, name, p.dest, true)
			if msg == "" && p.title != "" {
				if !anchorsOf(target)[slug(p.title)] {
					msg = fmt.Sprintf("%s has no heading %q", target, p.title)
				}
			}
			if msg != "" {
				r.problems = append(r.problems, fmt.Sprintf("%s:%d: pointer %s: %s", name, p.line, p.text, msg))
			}
		}
	}
	return r
}

// ignored leaves out what is not written here by hand: vendored
// third-party files (testdata), the generated assets and go.sum.
func ignored(name string) bool {
	return strings.HasPrefix(name, "testdata/") || strings.Contains(name, "/testdata/") ||
		strings.HasPrefix(name, "internal/web/static/") || name == "go.sum"
}

// resolve checks one destination, a path with an optional #anchor, written
// in file from. Links are relative to from's directory; pointers in code
// name a path from the repository root, or else from the file's directory.
// It returns the file it names and what is wrong with it, or "".
func resolve(known map[string]bool, anchorsOf func(string) map[string]bool, from, dest string, pointer bool) (target, problem string) {
	p, anchor, _ := strings.Cut(dest, "#")
	if unescaped, err := url.PathUnescape(p); err == nil {
		p = unescaped
	}
	switch {
	case p == "":
		target = from
	case pointer:
		target = path.Clean(p)
		if !known[target] {
			target = path.Join(path.Dir(from), p)
		}
	default:
		target = path.Join(path.Dir(from), p)
	}
	switch {
	case !known[target]:
		return target, "no such file"
	case anchor == "":
		return target, ""
	case !strings.HasSuffix(target, ".md"):
		return target, "an anchor on a file that is not Markdown"
	case !anchorsOf(target)[anchor]:
		return target, fmt.Sprintf("%s has no heading with anchor %q", target, anchor)
	}
	return target, ""
}

var (
	fence      = regexp.MustCompile("^ {0,3}(```+|~~~+)")
	atxHeading = regexp.MustCompile(`^ {0,3}#{1,6}[ \t]+(.*)$`)
	htmlAnchor = regexp.MustCompile(`<a\s[^>]*\b(?:id|name)="([^"]+)"`)
	inlineCode = regexp.MustCompile("`+[^`]*`+")
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^()\s<>]+)>?(?:\s+"[^"]*")?\s*\)`)
	htmlLink   = regexp.MustCompile(`\b(?:href|src)="([^"]+)"`)
	refDef     = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	hasScheme  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// lines returns the lines of a Markdown page outside fenced code blocks,
// numbered from 1; lines inside fences come back empty.
func lines(page string) []string {
	out := strings.Split(page, "\n")
	var open string
	for i, l := range out {
		if m := fence.FindStringSubmatch(l); m != nil {
			switch {
			case open == "":
				open = m[1]
			case strings.HasPrefix(m[1], open[:1]) && len(m[1]) >= len(open):
				open = ""
			}
			out[i] = ""
			continue
		}
		if open != "" {
			out[i] = ""
		}
	}
	return out
}

// pageAnchors returns the anchors GitHub gives a page: one per heading,
// duplicates numbered -1, -2, ..., plus explicit <a id> and <a name>.
func pageAnchors(page string) map[string]bool {
	a := map[string]bool{}
	seen := map[string]int{}
	for _, l := range lines(page) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(l, -1) {
			a[m[1]] = true
		}
		m := atxHeading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		s := slug(headingText(m[1]))
		if n := seen[s]; n > 0 {
			a[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			a[s] = true
		}
		seen[s]++
	}
	return a
}

var (
	closingHashes = regexp.MustCompile(`\s+#+\s*$`)
	linkText      = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTag       = regexp.MustCompile(`<[^>]+>`)
	underscoreEm  = regexp.MustCompile(`(^|[^\p{L}\p{N}])_+([^_]+?)_+([^\p{L}\p{N}]|$)`)
)

// headingText is the text GitHub renders for a heading's Markdown: links
// become their text, and code marks, emphasis and tags disappear.
func headingText(h string) string {
	h = closingHashes.ReplaceAllString(strings.TrimSpace(h), "")
	h = linkText.ReplaceAllString(h, "$1")
	h = htmlTag.ReplaceAllString(h, "")
	h = underscoreEm.ReplaceAllString(h, "$1$2$3")
	return strings.NewReplacer("`", "", "*", "", `\`, "").Replace(h)
}

// slug is GitHub's anchor for a heading's text (github-slugger): lower
// case, each space a hyphen, punctuation and symbols dropped; letters,
// digits, hyphens and underscores stay.
func slug(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

type link struct {
	line int
	dest string
}

// pageLinks returns the relative link destinations of a page: inline
// links and images, reference definitions and HTML href/src, outside code.
func pageLinks(page string) []link {
	var out []link
	for i, l := range lines(page) {
		l = inlineCode.ReplaceAllString(l, "")
		var dests []string
		for _, re := range []*regexp.Regexp{inlineLink, htmlLink, refDef} {
			for _, m := range re.FindAllStringSubmatch(l, -1) {
				dests = append(dests, m[1])
			}
		}
		for _, d := range dests {
			if hasScheme.MatchString(d) || strings.HasPrefix(d, "//") {
				continue // another site: not this test's business
			}
			out = append(out, link{line: i + 1, dest: d})
		}
	}
	return out
}

type pointer struct {
	line int
	text string // as written
	dest string // path[#anchor] to resolve
	// title is a section named in quotes after the pointer, as in
	// README "Connections"; it must be a heading of the target.
	title string
}

var (
	// A path to a Markdown file, alone or with an anchor, that starts a
	// word (so the paths inside URLs do not count).
	mdPath = regexp.MustCompile("(?:^|[\\s\"'`(\\[<,;=])((?:\\.{1,2}/)?(?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_.-]+\\.md(?:#[A-Za-z0-9_-]+)?)")
	// The word README, which names README.md; "README's" too.
	readmeWord = regexp.MustCompile(`\bREADME\b(?:'s)?`)
	// A section named in quotes after a pointer: README "Connections".
	quoted = regexp.MustCompile(`^,?[ \t]+(?:the[ \t]+)?["'“]([^"'”\n]{2,60})["'”]`)
)

// filePointers returns the pointers to Markdown in a code or config file.
func filePointers(text string) []pointer {
	var out []pointer
	for i, l := range strings.Split(text, "\n") {
		for _, m := range mdPath.FindAllStringSubmatchIndex(l, -1) {
			p := pointer{line: i + 1, text: l[m[2]:m[3]], dest: l[m[2]:m[3]]}
			if t := quoted.FindStringSubmatch(l[m[3]:]); t != nil {
				p.title, p.text = t[1], p.text+" "+strings.TrimSpace(t[0])
			}
			out = append(out, p)
		}
		for _, m := range readmeWord.FindAllStringIndex(l, -1) {
			if strings.HasPrefix(l[m[1]:], ".md") {
				continue // a path, matched above
			}
			p := pointer{line: i + 1, text: "README", dest: "README.md"}
			if t := quoted.FindStringSubmatch(l[m[1]:]); t != nil {
				p.title, p.text = t[1], "README "+strings.TrimSpace(t[0])
			}
			out = append(out, p)
		}
	}
	return out
}

// repoFiles lists the repository's files as git sees them: tracked, or new
// and not ignored (so a git-ignored file, such as local data, cannot satisfy
// a link); without git (a source upload), every file under root but .git.
func repoFiles(t *testing.T, root string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err == nil {
		var files []string
		for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if _, err := os.Lstat(filepath.Join(root, name)); err == nil {
				files = append(files, name) // not deleted in the work tree
			}
		}
		return files
	}
	t.Logf("git ls-files: %v; listing the directory instead", err)
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".data" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
