package web_test

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/database/dbtest"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/web"
)

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

const formType = "application/x-www-form-urlencoded"

func wantHTML(t *testing.T, r response, status int, contains ...string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", r.StatusCode, status, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	for _, c := range contains {
		if !strings.Contains(r.body, c) {
			t.Fatalf("page lacks %q:\n%s", c, r.body)
		}
	}
}

func TestPagesCreateEditDelete(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)

	wantHTML(t, a.do("GET", "/", "", ""), 200, "No items yet", "Signed in as <strong>alice</strong>")
	wantHTML(t, a.do("GET", "/items/new", "", ""), 200, `<form method="post" action="/items"`, `<label for="name">`)

	r := a.do("POST", "/items", formType, form("name", "Desk", "description", "oak"))
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/items/") {
		t.Fatalf("create: %d %v", r.StatusCode, r.Header)
	}
	item := r.Header.Get("Location")
	wantHTML(t, a.do("GET", item, "", ""), 200, "<h1>Desk</h1>", "oak", "by alice")
	wantHTML(t, a.do("GET", "/", "", ""), 200, `href="`+item+`">Desk</a>`)
	wantHTML(t, a.do("GET", item+"/edit", "", ""), 200, `name="version" value="1"`, `value="Desk"`)

	r = a.do("POST", item, formType, form("name", "Standing desk", "description", "oak", "version", "1"))
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != item {
		t.Fatalf("update: %d %v", r.StatusCode, r.Header)
	}
	wantHTML(t, a.do("GET", item, "", ""), 200, "<h1>Standing desk</h1>")

	// A second editor who opened the form at version 1 gets the conflict
	// page with both versions, and nothing is overwritten.
	r = a.do("POST", item, formType, form("name", "Old tab", "description", "mine", "version", "1"))
	wantHTML(t, r, http.StatusConflict, "changed by <strong>alice</strong> since you opened it", "Standing desk", "Old tab")
	wantHTML(t, a.do("GET", item, "", ""), 200, "<h1>Standing desk</h1>")

	wantHTML(t, a.do("GET", item+"/delete", "", ""), 200, `name="version" value="2"`)
	wantHTML(t, a.do("POST", item+"/delete", formType, form("version", "1")), http.StatusConflict, "It was not deleted")
	r = a.do("POST", item+"/delete", formType, form("version", "2"))
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("delete: %d %v", r.StatusCode, r.Header)
	}
	wantHTML(t, a.do("GET", item, "", ""), http.StatusNotFound, "There is nothing at this address")
}

func TestPagesValidationKeepsInput(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	r := a.do("POST", "/items", formType, form("name", "", "description", "kept <text>"))
	wantHTML(t, r, http.StatusUnprocessableEntity, "Name must not be empty", "kept &lt;text&gt;", `aria-invalid="true"`)
	r = a.do("POST", "/items", formType, form("name", strings.Repeat("x", 201)))
	wantHTML(t, r, http.StatusUnprocessableEntity, "Name must be at most 200 characters")

	it := a.create("Valid")
	path := fmt.Sprintf("/items/%d", it.ID)
	r = a.do("POST", path, formType, form("name", "ok", "description", strings.Repeat("d", 10001), "version", "1"))
	wantHTML(t, r, http.StatusUnprocessableEntity, "Description must be at most 10000 characters", `name="version" value="1"`)
	wantHTML(t, a.do("POST", path, formType, form("name", "ok")), http.StatusBadRequest)
	wantHTML(t, a.do("POST", path, formType, form("name", "ok", "version", "x")), http.StatusBadRequest)
	big := form("name", "x", "description", strings.Repeat("a", 1<<20))
	wantHTML(t, a.do("POST", "/items", formType, big), http.StatusRequestEntityTooLarge)
}

func TestPagesEscapeUserText(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	it := a.create(`<script>alert(1)</script>`)
	r := a.do("GET", fmt.Sprintf("/items/%d", it.ID), "", "")
	wantHTML(t, r, 200, "&lt;script&gt;alert(1)&lt;/script&gt;")
	if strings.Contains(r.body, "<script>alert") {
		t.Fatal("item name rendered unescaped")
	}
}

func TestPagesNotFoundAndMethods(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	for _, p := range []string{"/nope", "/items/999999", "/items/abc", "/items/0/edit", "/items/-5/delete"} {
		wantHTML(t, a.do("GET", p, "", ""), http.StatusNotFound, "There is nothing at this address")
	}
	wantHTML(t, a.do("POST", "/items/999999", formType, form("name", "x", "version", "1")), http.StatusNotFound)
	wantHTML(t, a.do("POST", "/items/999999/delete", formType, form("version", "1")), http.StatusNotFound)
	r := a.do("DELETE", "/items/new", "", "")
	wantHTML(t, r, http.StatusMethodNotAllowed)
	if r.Header.Get("Allow") == "" {
		t.Fatal("405 without Allow")
	}
}

func TestPagesListPaginates(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	for i := range 25 {
		a.create(fmt.Sprintf("thing %02d", i))
	}
	r := a.do("GET", "/", "", "")
	wantHTML(t, r, 200, "thing 24", "thing 05", `rel="next"`)
	if strings.Contains(r.body, "thing 04") {
		t.Fatal("first page shows more than 20 items")
	}
	i := strings.Index(r.body, `href="/?cursor=`)
	next := r.body[i+len(`href="`):]
	next = next[:strings.IndexByte(next, '"')]
	r = a.do("GET", next, "", "")
	wantHTML(t, r, 200, "thing 04", "thing 00", `href="/">Newest`)
	if strings.Contains(r.body, "thing 05") || strings.Contains(r.body, `rel="next"`) {
		t.Fatal("second page repeats items or offers a third page")
	}
	wantHTML(t, a.do("GET", "/?cursor=forged", "", ""), http.StatusBadRequest)
}

// The browser-safety layer sits in front of every route: a cross-site form
// post is refused and stores nothing; every answer carries the headers.
func TestBrowserSafetyOnEveryRoute(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	r := a.do("POST", "/items", formType, form("name", "forged"), "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	wantHTML(t, r, http.StatusForbidden)
	r = a.do("POST", "/items", formType, form("name", "same site"), "Sec-Fetch-Site", "same-origin", "Origin", "http://example.com")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin form post: %d %s", r.StatusCode, r.body)
	}
	var list struct{ Items []struct{ Name string } }
	a.json("GET", "/api/items", "").decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "same site" {
		t.Fatalf("items after forged post: %+v", list.Items)
	}
	for _, p := range []string{"/", "/nope", "/healthz", "/api/items", "/api/items/999", "/static/style.css"} {
		r := a.do("GET", p, "", "")
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Referrer-Policy") == "" {
			t.Fatalf("%s lacks security headers: %v", p, r.Header)
		}
	}
}

// Search by name keeps the query in the box and in the page links, and
// says so when nothing matches.
func TestPagesSearch(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	for i := range 23 {
		a.create(fmt.Sprintf("lamp %02d", i))
	}
	a.create("Chair")
	r := a.do("GET", "/?q=LAMP", "", "")
	wantHTML(t, r, 200, `<form class="search" role="search"`, `value="LAMP"`, "lamp 22", `Names containing “LAMP”`, `rel="next"`)
	if strings.Contains(r.body, ">Chair<") || strings.Contains(r.body, "lamp 02") {
		t.Fatal("search page shows a non-match or more than a page")
	}
	i := strings.Index(r.body, `rel="next" href="`)
	next := r.body[i+len(`rel="next" href="`):]
	next = strings.ReplaceAll(next[:strings.IndexByte(next, '"')], "&amp;", "&")
	if !strings.Contains(next, "q=LAMP") {
		t.Fatalf("next link %q drops the query", next)
	}
	r = a.do("GET", next, "", "")
	wantHTML(t, r, 200, "lamp 02", "lamp 00", `href="/?q=LAMP">Newest`)
	if strings.Contains(r.body, ">Chair<") {
		t.Fatal("second search page shows a non-match")
	}
	wantHTML(t, a.do("GET", "/?q="+url.QueryEscape(`<b>sofa</b>`), "", ""), 200,
		"No items match “&lt;b&gt;sofa&lt;/b&gt;”", `<a href="/">Show all items</a>`)
	wantHTML(t, a.do("GET", "/?q="+strings.Repeat("x", 201), "", ""), http.StatusBadRequest)
}

// Validation errors are summarised at the top, each linking to its field,
// and the first invalid field gets the focus.
func TestPagesValidationSummary(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	r := a.do("POST", "/items", formType, form("name", " ", "description", strings.Repeat("d", 10001)))
	wantHTML(t, r, http.StatusUnprocessableEntity,
		`<div class="error-summary" role="alert"`,
		`<a href="#name">Name must not be empty.</a>`,
		`<a href="#description">Description must be at most 10000 characters.</a>`,
		`aria-describedby="name-hint name-error" aria-invalid="true" autofocus`,
		`aria-describedby="description-hint description-error" aria-invalid="true">`)
	if strings.Index(r.body, `href="#name"`) > strings.Index(r.body, `href="#description"`) {
		t.Fatal("error summary not in form order")
	}
}

// The conflict page offers to save the editor's version over the current
// one, deliberately, with the current version number.
func TestPagesConflictResolution(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	it := a.create("Lamp")
	path := fmt.Sprintf("/items/%d", it.ID)
	if r := a.do("POST", path, formType, form("name", "Lamp v2", "version", "1")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("first edit: %d", r.StatusCode)
	}
	r := a.do("POST", path, formType, form("name", "Mine", "description", "two\nlines", "version", "1"))
	wantHTML(t, r, http.StatusConflict, "changed by <strong>alice</strong> since you opened it",
		"Lamp v2", "Mine", `<input type="hidden" name="version" value="2">`, "Save my version anyway",
		"<input type=\"hidden\" name=\"description\" value=\"two\nlines\">")
	r = a.do("POST", path, formType, form("name", "Mine", "description", "two\nlines", "version", "2"))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save anyway: %d %s", r.StatusCode, r.body)
	}
	wantHTML(t, a.do("GET", path, "", ""), 200, "<h1>Mine</h1>", "two\nlines")
	r = a.do("POST", path+"/delete", formType, form("version", "1"))
	wantHTML(t, r, http.StatusConflict, "It was not deleted", "Delete the current version", `name="version" value="3"`)
}

// Every page loads its script and style sheet from hashed URLs with
// subresource integrity, and carries no inline script or style (the CSP
// forbids them); the URLs serve exactly the bytes the hash covers.
func TestPagesUseHashedAssetsWithIntegrity(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	it := a.create("Lamp")
	item := fmt.Sprintf("/items/%d", it.ID)
	pages := map[string]response{
		"list":     a.do("GET", "/", "", ""),
		"item":     a.do("GET", item, "", ""),
		"new":      a.do("GET", "/items/new", "", ""),
		"edit":     a.do("GET", item+"/edit", "", ""),
		"delete":   a.do("GET", item+"/delete", "", ""),
		"invalid":  a.do("POST", "/items", formType, form("name", "")),
		"conflict": a.do("POST", item, formType, form("name", "x", "version", "9")),
		"error":    a.do("GET", "/nope", "", ""),
	}
	tag := regexp.MustCompile(`<(script|link)\b[^>]*>`)
	attr := func(tag, name string) string {
		m := regexp.MustCompile(`\b` + name + `="([^"]*)"`).FindStringSubmatch(tag)
		if m == nil {
			return ""
		}
		return html.UnescapeString(m[1])
	}
	for name, r := range pages {
		if strings.Contains(r.body, "<style") || strings.Contains(r.body, " style=") || regexp.MustCompile(`\son[a-z]+=`).MatchString(r.body) {
			t.Errorf("%s page has inline style or event handler", name)
		}
		var scripts, sheets int
		for _, tg := range tag.FindAllString(r.body, -1) {
			src := attr(tg, "src") + attr(tg, "href")
			if strings.HasPrefix(tg, "<script") {
				scripts++
				if src == "" {
					t.Errorf("%s page has an inline script: %s", name, tg)
				}
			} else if attr(tg, "rel") == "stylesheet" {
				sheets++
			} else {
				continue
			}
			if !regexp.MustCompile(`^/static/[a-z]+\.[0-9a-f]{12}\.(js|css)$`).MatchString(src) {
				t.Errorf("%s page refers to %q, not a hashed asset", name, src)
				continue
			}
			res := a.do("GET", src, "", "")
			sum := sha512.Sum384([]byte(res.body))
			if want := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); attr(tg, "integrity") != want {
				t.Errorf("%s: integrity %q, body hashes to %q", src, attr(tg, "integrity"), want)
			}
			if res.StatusCode != 200 || res.Header.Get("Cache-Control") != web.Immutable {
				t.Errorf("%s: %d %v", src, res.StatusCode, res.Header)
			}
		}
		if scripts != 1 || sheets != 1 {
			t.Errorf("%s page has %d scripts and %d style sheets, want 1 and 1", name, scripts, sheets)
		}
		for _, landmark := range []string{`<a class="skip-link" href="#main">`, `<header class="site">`, `<main id="main"`, `<footer class="site">`, `<html lang="en">`} {
			if !strings.Contains(r.body, landmark) {
				t.Errorf("%s page lacks %s", name, landmark)
			}
		}
	}
}

// The header shows who is signed in and, when the auth mode has one, a
// sign-out link.
func TestPagesSignOutLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"/?gcp-iap-mode=CLEAR_LOGIN_COOKIE", `<a class="sign-out" href="/?gcp-iap-mode=CLEAR_LOGIN_COOKIE">Sign out</a>`},
		{"https://sso.example.edu/logout?a=1&b=2", `href="https://sso.example.edu/logout?a=1&amp;b=2">Sign out</a>`},
		{"", ""},
	} {
		h, err := web.NewHandler(web.Deps{
			Items:      items.NewStore(dbtest.NewPool(t)),
			Authn:      auth.Dev{User: auth.User{Name: "bob@example.edu"}},
			SignOutURL: tc.url,
			Build:      buildinfo.Info{Version: "v9.8.7"},
		})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		body := w.Body.String()
		if !strings.Contains(body, "Signed in as <strong>bob@example.edu</strong>") || !strings.Contains(body, "version v9.8.7") {
			t.Fatalf("header/footer lack user or version:\n%s", body)
		}
		if tc.want == "" && strings.Contains(body, "Sign out") {
			t.Fatalf("sign-out link without a URL:\n%s", body)
		}
		if !strings.Contains(body, tc.want) {
			t.Fatalf("page lacks %s:\n%s", tc.want, body)
		}
	}
}
