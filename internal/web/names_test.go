package web_test

import (
	"fmt"
	"net/http"
	"testing"

	"example.com/example-function/internal/items"
)

// Names in real scripts and emoji survive a round trip unchanged, format
// characters (ZWJ, ZWNJ, flag tags) included.
func TestItemNameCorpusRoundTrips(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	corpus := map[string]string{
		"ZWJ emoji":           "👩\u200D👩\u200D👧 team 👩🏽\u200D💻",
		"England flag":        "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F fixtures",
		"Persian with ZWNJ":   "می\u200Cخواهم کتاب\u200Cها",
		"Devanagari with ZWJ": "क्\u200Dष",
	}
	for label, name := range corpus {
		it := a.create(name)
		var got items.Item
		a.json("GET", fmt.Sprintf("/api/items/%d", it.ID), "").decode(t, &got)
		if got.Name != name {
			t.Errorf("%s: stored %q, want %q", label, got.Name, name)
		}
		wantHTML(t, a.do("GET", fmt.Sprintf("/items/%d", it.ID), "", ""), http.StatusOK)
	}
}

// A name that would display as something else is refused with 422, on
// create, replace, patch and the HTML form, and nothing is stored.
func TestItemNameRefusesFormatCharacters(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	const want = "must not contain invisible formatting characters such as direction overrides (found U+202E)"
	disguised := "invoice\u202Efdp.exe"

	p := wantProblem(t, a.json("POST", "/api/items", `{"name":`+quote(disguised)+`}`), http.StatusUnprocessableEntity, "validation")
	if len(p.Errors) != 1 || p.Errors[0].Field != "name" || p.Errors[0].Message != want {
		t.Fatalf("errors = %+v, want name: %s", p.Errors, want)
	}
	for _, c := range []struct{ name, r string }{
		{"isolate", "a\u2067b"}, {"mark", "a\u200Fb"}, {"Arabic letter mark", "a\u061Cb"},
		{"zero width space", "ad\u200Bmin"}, {"stray tags", "admin\U000E0073\U000E007F"},
	} {
		p := wantProblem(t, a.json("POST", "/api/items", `{"name":`+quote(c.r)+`}`), http.StatusUnprocessableEntity, "validation")
		if len(p.Errors) != 1 || p.Errors[0].Field != "name" {
			t.Errorf("%s: errors = %+v", c.name, p.Errors)
		}
	}

	it := a.create("Plain")
	path := fmt.Sprintf("/api/items/%d", it.ID)
	wantProblem(t, a.json("PUT", path, `{"name":`+quote(disguised)+`}`, "If-Match", `"1"`), http.StatusUnprocessableEntity, "validation")
	wantProblem(t, a.json("PATCH", path, `{"name":`+quote(disguised)+`}`, "If-Match", `"1"`), http.StatusUnprocessableEntity, "validation")
	r := a.do("POST", "/items", formType, form("name", disguised))
	// html/template writes "+" as &#43;.
	wantHTML(t, r, http.StatusUnprocessableEntity, "Name must not contain invisible formatting characters", "(found U&#43;202E)")

	var list struct{ Items []items.Item }
	a.json("GET", "/api/items", "").decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "Plain" || list.Items[0].Version != 1 {
		t.Fatalf("items after refusals: %+v", list.Items)
	}
}
