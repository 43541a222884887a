//go:build browser

package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Without JavaScript every step works through the plain forms: the quick
// add posts to /items, Delete opens the confirmation page, edits and the
// conflict page are the same server-rendered HTML.
func TestBrowserFlowWithoutJavaScript(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	browser := newBrowser(t)
	cleo := newTab(t, browser, srv, "cleo", tabOption{noJS: true})
	dan := newTab(t, browser, srv, "dan", tabOption{noJS: true})

	if s := cleo.open("/"); s != http.StatusOK {
		t.Fatalf("list: %d", s)
	}
	cleo.wantText("header.site", "Signed in as cleo", "Sign out")
	cleo.wantText("#empty", "No items yet")
	// DevTools may still evaluate, but the page's own script did not run.
	if eval[string](cleo, `document.documentElement.dataset.enhanced || ""`) != "" {
		t.Fatal("the page script ran with JavaScript disabled")
	}
	cleo.check("empty list")

	// The quick add posts the form and lands on the new item's page.
	cleo.do("fill", fill("#add-name", "Bookshelf"), fill("#add-description", "Oak, five shelves"))
	if s := cleo.navigate("add", chromedp.Click(chromedp.CSS(".quick-add-form button"))); s != http.StatusOK {
		t.Fatalf("add: %d", s)
	}
	item := cleo.path()
	if !strings.HasPrefix(item, "/items/") {
		t.Fatalf("after add at %s, want the item page", item)
	}
	cleo.wantText("main h1", "Bookshelf")
	cleo.check("created")

	// Listed, and found by search.
	cleo.open("/")
	cleo.wantText("#items", "Bookshelf", "by cleo")
	cleo.do("search", fill("#q", "SHELF"))
	cleo.navigate("search", chromedp.Submit(chromedp.CSS("#q")))
	if p := cleo.path(); p != "/?q=SHELF" {
		t.Fatalf("search went to %s", p)
	}
	cleo.wantText("#items", "Bookshelf")
	cleo.wantText("#list-heading", "Names containing “SHELF”")
	cleo.do("search again", fill("#q", "sofa"))
	cleo.navigate("search", chromedp.Submit(chromedp.CSS("#q")))
	cleo.wantText("#empty", "No items match “sofa”.")
	cleo.check("search")

	// Dan opens the edit form; cleo edits first; dan's save conflicts.
	dan.open(item + "/edit")
	cleo.open(item + "/edit")
	cleo.do("edit", fill("#name", "Oak bookshelf"))
	if s := cleo.navigate("save", chromedp.Click(chromedp.CSS("form.form button[type=submit]"))); s != 200 || cleo.path() != item {
		t.Fatalf("save: %d at %s", s, cleo.path())
	}
	cleo.wantText("main h1", "Oak bookshelf")
	dan.do("dan edits", fill("#name", "Pine bookshelf"))
	dan.expect(http.StatusConflict)
	if s := dan.navigate("dan saves", chromedp.Click(chromedp.CSS("form.form button[type=submit]"))); s != http.StatusConflict {
		t.Fatalf("stale save: %d, want 409", s)
	}
	dan.wantText(".conflict-notice", "changed by cleo since you opened it")
	dan.wantText(".compare", "Oak bookshelf", "Pine bookshelf")
	dan.check("conflict")
	if s := dan.navigate("edit current", chromedp.Click(chromedp.CSS(`a[href$="/edit"]`))); s != 200 {
		t.Fatalf("edit the current version: %d", s)
	}
	if v := eval[string](dan, `document.getElementById("name").value`); v != "Oak bookshelf" {
		t.Fatalf("edit form shows %q, want the current name", v)
	}

	// A refused form keeps what was typed and says why, at the field.
	dan.do("clear name", fill("#name", " "), fill("#description", "kept text"))
	dan.expect(http.StatusUnprocessableEntity)
	if s := dan.navigate("save empty", chromedp.Click(chromedp.CSS("form.form button[type=submit]"))); s != http.StatusUnprocessableEntity {
		t.Fatalf("empty name: %d", s)
	}
	dan.wantText("#name-error", "Name must not be empty.")
	if v := eval[string](dan, `document.getElementById("description").value`); v != "kept text" {
		t.Fatalf("description after refusal %q", v)
	}
	dan.check("refused form")

	// Delete from the list: without JavaScript, the button asks first.
	cleo.open("/")
	if s := cleo.navigate("delete", chromedp.Click(chromedp.CSS("#items li button"))); s != 200 || cleo.path() != item+"/delete?" && cleo.path() != item+"/delete" {
		t.Fatalf("delete button: %d at %s", s, cleo.path())
	}
	cleo.wantText("main h1", "Delete “Oak bookshelf”?")
	if s := cleo.navigate("confirm", chromedp.Click(chromedp.CSS("button.danger"))); s != 200 || cleo.path() != "/" {
		t.Fatalf("confirm delete: %d at %s", s, cleo.path())
	}
	cleo.wantText("#empty", "No items yet")
	cleo.check("deleted")
	dan.check("end")
}
