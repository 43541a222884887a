// Package assets bundles the browser sources under src/ (TypeScript and
// CSS) with esbuild into minified, content-hashed files, precompressed with
// gzip and brotli, plus a manifest mapping logical names ("app.js") to
// hashed ones ("app.3f9a1c2b7d40.js").
//
// It runs at development time only: `go generate ./internal/web/...` writes
// the output to internal/web/static, which the server embeds. The server
// never imports this package (esbuild stays out of the binary); a test of
// internal/web re-runs Build in memory and fails when the committed output
// is stale.
package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/evanw/esbuild/pkg/api"
)

// Entry points bundled by esbuild, relative to the source folder. Each
// becomes one output named after it (app.ts -> app.js).
var entryPoints = []string{"app.ts", "style.css"}

// Copied are served as they are (only hashed and compressed).
var copied = []string{"favicon.svg"}

// ManifestName is the file mapping logical names to hashed file names.
const ManifestName = "manifest.json"

// Precompressed encodings: the suffix of the file holding each.
const (
	GzipSuffix   = ".gz"
	BrotliSuffix = ".br"
)

// Build bundles srcDir and returns every output file by name: the hashed
// assets, their .gz and .br variants, and the manifest. The same sources
// give the same bytes on every run.
func Build(srcDir string) (map[string][]byte, error) {
	abs, err := filepath.Abs(srcDir)
	if err != nil {
		return nil, err
	}
	res := api.Build(api.BuildOptions{
		AbsWorkingDir:     abs,
		EntryPoints:       entryPoints,
		Outdir:            "out",
		Bundle:            true,
		Write:             false,
		Format:            api.FormatESModule,
		Platform:          api.PlatformBrowser,
		Target:            api.ES2020,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		TreeShaking:       api.TreeShakingTrue,
		Charset:           api.CharsetUTF8,
		LegalComments:     api.LegalCommentsNone,
		Sourcemap:         api.SourceMapNone,
		LogLevel:          api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		msgs := api.FormatMessages(res.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage})
		return nil, fmt.Errorf("assets: esbuild: %s", strings.Join(msgs, "\n"))
	}
	plain := map[string][]byte{}
	for _, f := range res.OutputFiles {
		plain[filepath.Base(f.Path)] = f.Contents
	}
	for _, name := range copied {
		b, err := os.ReadFile(filepath.Join(abs, name))
		if err != nil {
			return nil, fmt.Errorf("assets: %w", err)
		}
		plain[name] = b
	}

	out := map[string][]byte{}
	manifest := map[string]string{}
	for name, body := range plain {
		hashed := HashedName(name, body)
		manifest[name] = hashed
		out[hashed] = body
		gz, err := gzipBytes(body)
		if err != nil {
			return nil, err
		}
		br, err := brotliBytes(body)
		if err != nil {
			return nil, err
		}
		out[hashed+GzipSuffix] = gz
		out[hashed+BrotliSuffix] = br
	}
	m, err := json.MarshalIndent(manifest, "", "  ") // map keys come out sorted
	if err != nil {
		return nil, err
	}
	out[ManifestName] = append(m, '\n')
	return out, nil
}

// HashedName inserts the first 12 hex digits of body's SHA-256 before the
// extension: a new body gets a new URL, so browsers may cache forever.
func HashedName(name string, body []byte) string {
	sum := sha256.Sum256(body)
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
}

// gzipBytes compresses with a zero header (no name, no time), so the
// output depends on the input only.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func brotliBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := brotli.NewWriterLevel(&buf, brotli.BestCompression)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write replaces the contents of dir with files: outputs of an earlier
// build that are no longer produced are removed, so stale hashed files do
// not pile up in the embedded set.
func Write(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range old {
		if _, keep := files[e.Name()]; !keep && !e.IsDir() {
			errs = append(errs, os.Remove(filepath.Join(dir, e.Name())))
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		errs = append(errs, os.WriteFile(filepath.Join(dir, n), files[n], 0o644))
	}
	return errors.Join(errs...)
}
