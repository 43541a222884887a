package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/items"
)

func TestAPICreateAndGet(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)

	r := a.json("POST", "/api/items", `{"name":"Lamp","description":"for the desk"}`)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.StatusCode, r.body)
	}
	var it items.Item
	r.decode(t, &it)
	if it.Name != "Lamp" || it.Description != "for the desk" || it.CreatedBy != "alice" || it.Version != 1 {
		t.Fatalf("created %+v", it)
	}
	if loc := r.Header.Get("Location"); loc != "/api/items/"+strconv.FormatInt(it.ID, 10) {
		t.Fatalf("Location = %q", loc)
	}
	if r.Header.Get("ETag") != `"1"` {
		t.Fatalf("ETag = %q", r.Header.Get("ETag"))
	}

	r = a.json("GET", fmt.Sprintf("/api/items/%d", it.ID), "")
	if r.StatusCode != http.StatusOK || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("GET: %d %v %s", r.StatusCode, r.Header, r.body)
	}
	var got items.Item
	r.decode(t, &got)
	if got != it {
		t.Fatalf("GET = %+v, want %+v", got, it)
	}

	r = a.json("GET", fmt.Sprintf("/api/items/%d", it.ID), "", "If-None-Match", `"1"`)
	if r.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", r.StatusCode)
	}
}

func TestAPIBadInput(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	big := `{"name":"x","description":"` + strings.Repeat("a", 1<<20) + `"}`
	cases := []struct {
		name, contentType, body string
		status                  int
		typ                     string
		field                   string
	}{
		{"malformed", "application/json", `{"name":`, 400, "malformed-json", ""},
		{"not json", "application/json", `name=x`, 400, "malformed-json", ""},
		{"empty body", "application/json", ``, 400, "malformed-json", ""},
		{"array", "application/json", `[{"name":"x"}]`, 400, "malformed-json", ""},
		{"null", "application/json", `null`, 400, "malformed-json", ""},
		{"unknown field", "application/json", `{"name":"x","colour":"red"}`, 400, "malformed-json", ""},
		{"read-only field", "application/json", `{"name":"x","id":5}`, 400, "malformed-json", ""},
		{"wrong type", "application/json", `{"name":42}`, 400, "malformed-json", ""},
		{"trailing data", "application/json", `{"name":"x"} {"name":"y"}`, 400, "malformed-json", ""},
		{"trailing garbage", "application/json", `{"name":"x"}garbage`, 400, "malformed-json", ""},
		{"duplicate key", "application/json", `{"name":"a","description":"d","name":""}`, 400, "malformed-json", ""},
		{"NUL is a control character, not bad UTF-8", "application/json", `{"name":"\u0000invalid-utf8"}`, 422, "validation", "name"},
		{"wrong content type", "text/plain", `{"name":"x"}`, 415, "unsupported-media-type", ""},
		{"too large", "application/json", big, 413, "body-too-large", ""},
		{"empty name", "application/json", `{"name":""}`, 422, "validation", "name"},
		{"missing name", "application/json", `{"description":"d"}`, 422, "validation", "name"},
		{"long name", "application/json", `{"name":"` + strings.Repeat("n", 201) + `"}`, 422, "validation", "name"},
		{"long description", "application/json", `{"name":"x","description":"` + strings.Repeat("d", 10001) + `"}`, 422, "validation", "description"},
		{"invalid utf8", "application/json", "{\"name\":\"a\xffb\"}", 422, "validation", "name"},
		{"lone surrogate", "application/json", `{"name":"ok","description":"\udc00"}`, 422, "validation", "description"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do("POST", "/api/items", tc.contentType, tc.body)
			p := wantProblem(t, r, tc.status, tc.typ)
			if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
				t.Fatalf("errors = %+v, want field %q", p.Errors, tc.field)
			}
		})
	}
	p := wantProblem(t, a.json("POST", "/api/items", `{"name":"\u0000invalid-utf8"}`), 422, "validation")
	if p.Errors[0].Message != "must not contain control characters" {
		t.Fatalf("NUL reported as %q", p.Errors[0].Message)
	}
	// Nothing above was stored.
	var list struct{ Items []items.Item }
	a.json("GET", "/api/items", "").decode(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("bad input stored items: %+v", list.Items)
	}
	// A real U+FFFD, raw or escaped, is valid text.
	r := a.json("POST", "/api/items", `{"name":"\ufffd and �"}`)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("replacement character refused: %d %s", r.StatusCode, r.body)
	}
}

func TestAPIUnknownAndBadIDs(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	for _, id := range []string{"999999", "0", "-1", "abc", "1.5", "99999999999999999999"} {
		for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
			r := a.json(m, "/api/items/"+id, `{"name":"x"}`, "If-Match", `"1"`)
			wantProblem(t, r, http.StatusNotFound, "not-found")
		}
	}
	wantProblem(t, a.json("GET", "/api/nothing", ""), http.StatusNotFound, "not-found")
}

func TestAPIMethodNotAllowed(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	r := a.json("PATCH", "/api/items", `{}`)
	wantProblem(t, r, http.StatusMethodNotAllowed, "method-not-allowed")
	if allow := r.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Fatalf("Allow = %q", allow)
	}
	r = a.json("POST", "/api/items/1", `{}`)
	wantProblem(t, r, http.StatusMethodNotAllowed, "method-not-allowed")
	if allow := r.Header.Get("Allow"); !strings.Contains(allow, "PUT") || !strings.Contains(allow, "DELETE") {
		t.Fatalf("Allow = %q", allow)
	}
}

func TestAPIUpdateWithETags(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	it := a.create("Chair")
	path := fmt.Sprintf("/api/items/%d", it.ID)

	// PUT replaces; a missing description becomes empty.
	r := a.json("PUT", path, `{"name":"Chair 2"}`, "If-Match", `"1"`)
	if r.StatusCode != http.StatusOK || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("PUT: %d %s", r.StatusCode, r.body)
	}
	// The second editor still holds version 1.
	p := wantProblem(t, a.json("PUT", path, `{"name":"Mine"}`, "If-Match", `"1"`), http.StatusPreconditionFailed, "edit-conflict")
	if p.CurrentVersion != 2 {
		t.Fatalf("conflict current_version = %d, want 2", p.CurrentVersion)
	}
	wantProblem(t, a.json("PATCH", path, `{"name":"Mine"}`, "If-Match", `"1"`), http.StatusPreconditionFailed, "edit-conflict")
	wantProblem(t, a.json("DELETE", path, ``, "If-Match", `"1"`), http.StatusPreconditionFailed, "edit-conflict")
	wantProblem(t, a.json("PUT", path, `{"name":"Mine"}`, "If-Match", `W/"2"`), http.StatusPreconditionFailed, "edit-conflict")
	wantProblem(t, a.json("PUT", path, `{"name":"Mine"}`, "If-Match", `garbage`), http.StatusPreconditionFailed, "edit-conflict")

	// PATCH changes only what it names; merge-patch media type accepted.
	r = a.do("PATCH", path, "application/merge-patch+json", `{"description":"wooden"}`, "If-Match", `"2"`)
	var got items.Item
	r.decode(t, &got)
	if r.StatusCode != 200 || got.Name != "Chair 2" || got.Description != "wooden" || got.Version != 3 {
		t.Fatalf("PATCH: %d %+v", r.StatusCode, got)
	}
	// null clears the description, and cannot clear the name.
	r = a.json("PATCH", path, `{"description":null}`, "If-Match", `"3"`)
	r.decode(t, &got)
	if r.StatusCode != 200 || got.Description != "" || got.Version != 4 {
		t.Fatalf("PATCH null: %d %+v", r.StatusCode, got)
	}
	wantProblem(t, a.json("PATCH", path, `{"name":null}`, "If-Match", `"4"`), http.StatusUnprocessableEntity, "validation")
	wantProblem(t, a.json("PUT", path, `{"name":"x","version":9}`, "If-Match", `"4"`), http.StatusBadRequest, "malformed-json")
	// An empty patch changes nothing, not even the version.
	r = a.json("PATCH", path, `{}`, "If-Match", `"4"`)
	r.decode(t, &got)
	if r.StatusCode != 200 || got.Version != 4 {
		t.Fatalf("empty PATCH: %d %+v", r.StatusCode, got)
	}
	wantProblem(t, a.json("PATCH", path, `{}`, "If-Match", `"3"`), http.StatusPreconditionFailed, "edit-conflict")

	// Writes must be conditional; * overwrites deliberately.
	for _, m := range []string{"PUT", "PATCH", "DELETE"} {
		wantProblem(t, a.json(m, path, `{"name":"Unconditional"}`), http.StatusPreconditionRequired, "precondition-required")
	}
	if r := a.json("PUT", path, `{"name":"Overwrite"}`, "If-Match", "*"); r.StatusCode != 200 {
		t.Fatalf("PUT with If-Match *: %d", r.StatusCode)
	}
	r = a.json("DELETE", path, ``, "If-Match", `"5"`)
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, a.json("GET", path, ""), http.StatusNotFound, "not-found")
}

func TestAPIListPagination(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	var list struct {
		Items      []items.Item `json:"items"`
		NextCursor string       `json:"next_cursor"`
	}
	r := a.json("GET", "/api/items", "")
	r.decode(t, &list)
	if r.StatusCode != 200 || list.Items == nil || len(list.Items) != 0 || list.NextCursor != "" {
		t.Fatalf("empty list: %d %s", r.StatusCode, r.body)
	}
	for i := range 5 {
		a.create(fmt.Sprint("item ", i))
	}
	var names []string
	target := "/api/items?limit=2"
	for target != "" {
		r := a.json("GET", target, "")
		if r.StatusCode != 200 {
			t.Fatalf("%s: %d %s", target, r.StatusCode, r.body)
		}
		list.NextCursor = ""
		r.decode(t, &list)
		for _, it := range list.Items {
			names = append(names, it.Name)
		}
		target = ""
		if list.NextCursor != "" {
			target = "/api/items?limit=2&cursor=" + list.NextCursor
			if !strings.Contains(r.Header.Get("Link"), `rel="next"`) {
				t.Fatalf("no Link header: %v", r.Header)
			}
		}
	}
	if got := strings.Join(names, ","); got != "item 4,item 3,item 2,item 1,item 0" {
		t.Fatalf("pages = %s", got)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=bogus", "cursor=MTIzLi0x"} {
		wantProblem(t, a.json("GET", "/api/items?"+q, ""), http.StatusBadRequest, "invalid-parameter")
	}
	if r := a.json("GET", "/api/items?limit=100", ""); r.StatusCode != 200 {
		t.Fatalf("limit=100: %d", r.StatusCode)
	}
}

// A database error must become a generic 500: no SQL, no driver text.
func TestAPIDoesNotLeakDatabaseErrors(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	if _, err := a.pool.Exec(context.Background(), "DROP TABLE items"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []response{
		a.json("GET", "/api/items", ""),
		a.json("POST", "/api/items", `{"name":"x"}`),
		a.json("GET", "/api/items/1", ""),
	} {
		p := wantProblem(t, r, http.StatusInternalServerError, "internal")
		for _, leak := range []string{"relation", "items", "SQLSTATE", "pgx", "SELECT", "INSERT", "goroutine"} {
			if strings.Contains(p.Detail, leak) || strings.Contains(r.body, leak+" ") {
				t.Fatalf("response leaks %q: %s", leak, r.body)
			}
		}
	}
}

func TestAPIRequiresIdentity(t *testing.T) {
	t.Parallel()
	a := newApp(t, auth.None{})
	wantProblem(t, a.json("GET", "/api/items", ""), http.StatusUnauthorized, "unauthenticated")
	wantProblem(t, a.json("POST", "/api/items", `{"name":"x"}`), http.StatusUnauthorized, "unauthenticated")
	r := a.do("GET", "/", "", "")
	if r.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page without identity: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/healthz", "/readyz", "/static/style.css"} {
		if r := a.do("GET", p, "", ""); r.StatusCode != http.StatusOK {
			t.Fatalf("%s without identity: %d", p, r.StatusCode)
		}
	}
}
