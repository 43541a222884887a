package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"example.com/example-function/internal/web/assets"
)

// The committed static/ must be exactly what the sources build to: CI
// fails here when someone edits assets/src and forgets `go generate`.
// Compressed variants are compared by content (their bytes may differ
// between compressor versions without anything being stale).
func TestAssetsAreUpToDate(t *testing.T) {
	t.Parallel()
	want, err := assets.Build("assets/src")
	if err != nil {
		t.Fatal(err)
	}
	static, _ := fs.Sub(staticFiles, "static")
	entries, err := fs.ReadDir(static, ".")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	var wantNames []string
	for n := range want {
		wantNames = append(wantNames, n)
	}
	slices.Sort(wantNames)
	const fix = "; run: go generate ./internal/web/..."
	if !slices.Equal(got, wantNames) {
		t.Fatalf("static/ holds %v, the sources build %v%s", got, wantNames, fix)
	}
	for _, n := range wantNames {
		body, err := fs.ReadFile(static, n)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(n, assets.GzipSuffix):
			body, want[n] = gunzip(t, body), gunzip(t, want[n])
		case strings.HasSuffix(n, assets.BrotliSuffix):
			body, want[n] = unbrotli(t, body), unbrotli(t, want[n])
		}
		if !bytes.Equal(body, want[n]) {
			t.Errorf("static/%s is stale%s", n, fix)
		}
	}
}

// The bundle is reproducible: two builds give the same bytes, so the
// committed output only changes when a source does.
func TestAssetsBuildIsReproducible(t *testing.T) {
	t.Parallel()
	a, err := assets.Build("assets/src")
	if err != nil {
		t.Fatal(err)
	}
	b, err := assets.Build("assets/src")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("builds differ in files: %d vs %d", len(a), len(b))
	}
	for n := range a {
		if !bytes.Equal(a[n], b[n]) {
			t.Errorf("%s differs between two builds", n)
		}
	}
	for _, logical := range []string{"app.js", "style.css", "favicon.svg"} {
		if !strings.Contains(string(a[assets.ManifestName]), `"`+logical+`"`) {
			t.Errorf("manifest lacks %s:\n%s", logical, a[assets.ManifestName])
		}
	}
}

func TestAssetsBuildReportsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := assets.Build(dir)
	if err == nil || !strings.Contains(err.Error(), "app.ts") {
		t.Fatalf("Build of an empty folder: %v, want an error naming app.ts", err)
	}
}

func loadTestAssets(t *testing.T) *assetSet {
	t.Helper()
	static, _ := fs.Sub(staticFiles, "static")
	set, err := loadAssets(static)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestAssetsServe(t *testing.T) {
	t.Parallel()
	set := loadTestAssets(t)
	js := set.byLogical["app.js"]
	if js == nil || js.gzip == nil || js.brotli == nil {
		t.Fatalf("app.js missing or not precompressed: %+v", js)
	}
	url, err := set.URL("app.js")
	if err != nil || url != "/static/"+js.file || !strings.HasPrefix(js.file, "app.") || js.file == "app.js" {
		t.Fatalf("URL(app.js) = %q, %v", url, err)
	}
	if _, err := set.URL("nope.js"); err == nil {
		t.Fatal("URL of an unknown asset did not fail")
	}
	sum := sha512.Sum384(js.body)
	if got, _ := set.Integrity("app.js"); got != "sha384-"+base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatalf("Integrity = %q", got)
	}

	get := func(method, path, acceptEncoding string, header ...string) *http.Response {
		r := httptest.NewRequest(method, path, nil)
		if acceptEncoding != "" {
			r.Header.Set("Accept-Encoding", acceptEncoding)
		}
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		set.ServeHTTP(w, r)
		return w.Result()
	}
	cases := []struct {
		accept, encoding string
		decode           func(*testing.T, []byte) []byte
	}{
		{"gzip, deflate, br, zstd", "br", unbrotli},
		{"gzip", "gzip", gunzip},
		{"br;q=0, gzip;q=0.5", "gzip", gunzip},
		{"*", "br", unbrotli},
		{"*, br;q=0", "gzip", gunzip},
		{"", "", func(_ *testing.T, b []byte) []byte { return b }},
		{"identity", "", func(_ *testing.T, b []byte) []byte { return b }},
		{"gzip;q=0, br;q=0", "", func(_ *testing.T, b []byte) []byte { return b }},
	}
	for _, tc := range cases {
		res := get("GET", url, tc.accept)
		body, _ := io.ReadAll(res.Body)
		h := res.Header
		if res.StatusCode != 200 || h.Get("Content-Encoding") != tc.encoding || h.Get("Vary") != "Accept-Encoding" ||
			h.Get("Cache-Control") != Immutable || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") {
			t.Fatalf("Accept-Encoding %q: %d %v", tc.accept, res.StatusCode, h)
		}
		if !bytes.Equal(tc.decode(t, body), js.body) {
			t.Fatalf("Accept-Encoding %q: body does not decode to app.js", tc.accept)
		}
		if h.Get("Content-Length") != itoa(len(body)) {
			t.Fatalf("Content-Length %s for %d bytes", h.Get("Content-Length"), len(body))
		}
		// Revalidation of the same representation answers 304.
		if r := get("GET", url, tc.accept, "If-None-Match", h.Get("ETag")); r.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match %s: %d", h.Get("ETag"), r.StatusCode)
		}
	}
	if a, b := get("GET", url, "br").Header.Get("ETag"), get("GET", url, "gzip").Header.Get("ETag"); a == b {
		t.Fatalf("br and gzip share ETag %s", a)
	}

	res := get("HEAD", url, "gzip")
	if body, _ := io.ReadAll(res.Body); res.StatusCode != 200 || len(body) != 0 || res.Header.Get("Content-Length") != itoa(len(js.gzip)) {
		t.Fatalf("HEAD: %d %v body %d bytes", res.StatusCode, res.Header, len(body))
	}
	// A logical name still works, for pages that cannot know the hash,
	// but is revalidated instead of cached forever.
	res = get("GET", "/static/style.css", "")
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("logical name: %d %v", res.StatusCode, res.Header)
	}
	for _, p := range []string{"/static/nope.js", "/static/manifest.json", "/static/" + js.file + ".gz", "/static/"} {
		if res := get("GET", p, "gzip"); res.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", p, res.StatusCode)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func unbrotli(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := io.ReadAll(brotli.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}
