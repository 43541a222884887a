package web

import (
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// The browser assets: sources in assets/src, bundled by assets/bundle into
// static/ (content-hashed files, .gz and .br variants, manifest.json). A
// test fails when static/ is stale, so run this after changing a source:
//
//go:generate go run ./assets/bundle -src assets/src -out static

//go:embed static
var staticFiles embed.FS

// Immutable is the Cache-Control of content-hashed asset URLs: a changed
// file gets a new name, so browsers and CDNs may keep each one forever.
const Immutable = "public, max-age=31536000, immutable"

// asset is one bundled file and its precompressed variants.
type asset struct {
	logical   string // "app.js"
	file      string // "app.3f9a1c2b7d40.js"
	body      []byte
	gzip      []byte // nil when absent
	brotli    []byte
	integrity string // "sha384-..." for the integrity attribute
	ctype     string
}

// assetSet serves the embedded assets and tells templates their URLs.
type assetSet struct {
	byLogical map[string]*asset
	byFile    map[string]*asset
}

// loadAssets reads the manifest and the files it names from fsys (the
// contents of static/).
func loadAssets(fsys fs.FS) (*assetSet, error) {
	raw, err := fs.ReadFile(fsys, "manifest.json")
	if err != nil {
		return nil, fmt.Errorf("web: assets: %w (run go generate ./internal/web/...)", err)
	}
	var manifest map[string]string
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return nil, fmt.Errorf("web: assets: manifest: %w", err)
	}
	set := &assetSet{byLogical: map[string]*asset{}, byFile: map[string]*asset{}}
	for logical, file := range manifest {
		body, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("web: assets: %s: %w", logical, err)
		}
		sum := sha512.Sum384(body)
		a := &asset{
			logical: logical, file: file, body: body,
			integrity: "sha384-" + base64.StdEncoding.EncodeToString(sum[:]),
			ctype:     mime.TypeByExtension(path.Ext(file)),
		}
		if a.ctype == "" {
			a.ctype = "application/octet-stream"
		}
		a.gzip, _ = fs.ReadFile(fsys, file+".gz")
		a.brotli, _ = fs.ReadFile(fsys, file+".br")
		set.byLogical[logical] = a
		set.byFile[file] = a
	}
	return set, nil
}

// URL is the template function {{asset "app.js"}}: the hashed URL. An
// unknown name is an error, so a typo fails the page test instead of
// shipping a broken link.
func (s *assetSet) URL(logical string) (string, error) {
	a, ok := s.byLogical[logical]
	if !ok {
		return "", fmt.Errorf("unknown asset %q", logical)
	}
	return "/static/" + a.file, nil
}

// Integrity is the template function {{integrity "app.js"}}: the
// subresource integrity value of the file.
func (s *assetSet) Integrity(logical string) (string, error) {
	a, ok := s.byLogical[logical]
	if !ok {
		return "", fmt.Errorf("unknown asset %q", logical)
	}
	return a.integrity, nil
}

// ServeHTTP answers GET and HEAD /static/NAME. Hashed names are cached
// forever; logical names (e.g. /static/style.css, for pages that cannot
// know the hash, such as the panic page) are revalidated on every use.
// The body is the precompressed variant the client accepts, preferring
// brotli, and Vary tells caches so.
func (s *assetSet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	h := w.Header()
	a, hashed := s.byFile[name]
	if !hashed {
		a = s.byLogical[name]
	}
	if a == nil {
		http.NotFound(w, r)
		return
	}
	body, encoding := a.body, ""
	switch accepts := acceptedEncodings(r.Header.Get("Accept-Encoding")); {
	case a.brotli != nil && accepts["br"]:
		body, encoding = a.brotli, "br"
	case a.gzip != nil && accepts["gzip"]:
		body, encoding = a.gzip, "gzip"
	}
	etag := `"` + strings.TrimSuffix(a.file, path.Ext(a.file)) + `"`
	if encoding != "" {
		h.Set("Content-Encoding", encoding)
		etag = `"` + strings.Trim(etag, `"`) + "-" + encoding + `"`
	}
	h.Set("Vary", "Accept-Encoding")
	h.Set("ETag", etag)
	if hashed {
		h.Set("Cache-Control", Immutable)
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("Content-Type", a.ctype)
	if inm := r.Header.Get("If-None-Match"); inm != "" && noneMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// acceptedEncodings parses Accept-Encoding (RFC 9110 12.5.3): codings with
// q=0 are refused, "*" accepts the ones not named.
func acceptedEncodings(header string) map[string]bool {
	named := map[string]bool{}
	star := false
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding == "" {
			continue
		}
		ok := true
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				ok = err == nil && q > 0
			}
		}
		if coding == "*" {
			star = ok
			continue
		}
		named[coding] = ok
	}
	out := map[string]bool{}
	for _, c := range []string{"br", "gzip"} {
		v, listed := named[c]
		out[c] = v || (!listed && star)
	}
	return out
}
