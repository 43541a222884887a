package web

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"
)

//go:embed templates/*.html
var templateFiles embed.FS

// pages holds every page template, parsed once on first use (site.pages),
// and the assets they refer to.
type pages struct {
	byName map[string]*template.Template
	assets *assetSet
}

func parsePages() (*pages, error) {
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	assets, err := loadAssets(static)
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"time":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"asset":     assets.URL,
		"integrity": assets.Integrity,
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}, assets: assets}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", n, err)
		}
		p.byName[n[len("templates/"):]] = t
	}
	return p, nil
}

// static serves the embedded assets.
func (s *site) static(w http.ResponseWriter, r *http.Request) {
	p, err := s.pages()
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "assets", slog.String("error", err.Error()))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	p.assets.ServeHTTP(w, r)
}

// view is what every page template receives.
type view struct {
	Title string
	User  string
	// SignOutURL is the sign-out link of the auth mode; empty hides it.
	SignOutURL string
	Version    string
	Data       any
}

// render executes a page into a buffer first, so a template error becomes
// a clean 500 instead of half a page.
func (s *site) render(w http.ResponseWriter, r *http.Request, status int, page, title string, data any) {
	p, err := s.pages()
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "page templates", slog.String("error", err.Error()))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	t, ok := p.byName[page]
	if !ok {
		s.Logger.ErrorContext(r.Context(), "unknown page template", slog.String("page", page))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, view{Title: title, User: userName(r), SignOutURL: s.SignOutURL, Version: s.Build.Version, Data: data}); err != nil {
		s.Logger.ErrorContext(r.Context(), "render page", slog.String("page", page), slog.String("error", err.Error()))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	writeHTML(w, status, buf.Bytes())
}

// errorPage renders an HTML error page for status.
func (s *site) errorPage(w http.ResponseWriter, r *http.Request, status int) {
	s.errorPageWith(w, r, status, "")
}

// errorPageWith renders the error page for status with msg, or the
// status's usual message when msg is empty.
func (s *site) errorPageWith(w http.ResponseWriter, r *http.Request, status int, msg string) {
	msg = cmp.Or(msg, map[int]string{
		http.StatusNotFound:              "There is nothing at this address.",
		http.StatusMethodNotAllowed:      "This address does not accept that kind of request.",
		http.StatusUnauthorized:          "You need to sign in to see this page.",
		http.StatusForbidden:             "Your account may not do this.",
		http.StatusRequestEntityTooLarge: "What you sent is too large.",
		http.StatusBadRequest:            "The request could not be understood.",
		http.StatusServiceUnavailable:    "The service cannot reach its database right now. Please try again in a moment.",
		http.StatusInternalServerError:   "Something went wrong on our side. It has been logged.",
	}[status])
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "5")
	}
	s.render(w, r, status, "error.html", http.StatusText(status), struct {
		Status  int
		Message string
	}{status, msg})
}
