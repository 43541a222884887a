package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"example.com/example-function/internal/items"
)

// GET /api/items?q= searches names case-insensitively and keeps the query
// in the next-page link, so a client can follow Link headers blindly.
func TestAPISearch(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	for _, n := range []string{"Red lamp", "Chair", "desk LAMP", "lamp shade", "50% off"} {
		a.create(n)
	}
	var names []string
	target := "/api/items?limit=2&q=" + url.QueryEscape(" Lamp ")
	for target != "" {
		r := a.json("GET", target, "")
		var list struct {
			Items      []items.Item `json:"items"`
			NextCursor string       `json:"next_cursor"`
		}
		r.decode(t, &list)
		for _, it := range list.Items {
			names = append(names, it.Name)
		}
		target = ""
		if link := r.Header.Get("Link"); link != "" {
			target = strings.TrimPrefix(link[:strings.Index(link, ">")], "<")
			if !strings.Contains(target, "q=Lamp") {
				t.Fatalf("Link %q drops the query", link)
			}
		}
	}
	if got := strings.Join(names, ","); got != "lamp shade,desk LAMP,Red lamp" {
		t.Fatalf("search = %s", got)
	}
	var list struct{ Items []items.Item }
	a.json("GET", "/api/items?q=%25", "").decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "50% off" {
		t.Fatalf("q=%% = %+v, want only the literal match", list.Items)
	}
	for _, q := range []string{strings.Repeat("x", items.MaxQueryLen+1), "%ff", "%00", "a%0Ab"} {
		wantProblem(t, a.json("GET", "/api/items?q="+q, ""), http.StatusBadRequest, "invalid-parameter")
	}
}
