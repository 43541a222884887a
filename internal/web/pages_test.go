package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
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
