//go:build browser

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"example.com/example-function/internal/web/contract"
)

// With JavaScript: create and delete happen through the JSON API without
// a page load, with optimistic rows rolled back on error; edits go
// through the server-rendered forms, and a second person's stale edit
// gets the conflict page.
func TestBrowserFlowWithJavaScript(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	browser := newBrowser(t)
	ana := newTab(t, browser, srv, "ana", tabOption{})
	ben := newTab(t, browser, srv, "ben", tabOption{})

	// Signed in through the proxy; the script ran (so SRI and CSP let it).
	if s := ana.open("/"); s != http.StatusOK {
		t.Fatalf("list: %d", s)
	}
	ana.wantText("header.site", "Signed in as ana", "Sign out")
	if href := eval[string](ana, `document.querySelector("a.sign-out").href`); href != signOutURL {
		t.Fatalf("sign-out link %q", href)
	}
	if eval[string](ana, `document.documentElement.dataset.enhanced || ""`) != "true" {
		t.Fatal("the enhancement script did not run")
	}
	ana.wantText("#empty", "No items yet")
	ana.check("empty list")
	ana.axe("empty list")

	// Create without a reload: a marker set on this page survives.
	eval[bool](ana, `window.__samePage = true`)
	ana.do("quick add",
		fill("#add-name", "Desk lamp"),
		fill("#add-description", "Brass, with a green shade"),
		chromedp.Click(chromedp.CSS(".quick-add-form button")),
		chromedp.WaitVisible(chromedp.CSS(`#items a.item-name[href^="/items/"]`)),
	)
	ana.wantText("#items", "Desk lamp", "by ana")
	ana.wantText("#notice", "Added “Desk lamp”.")
	if !eval[bool](ana, `window.__samePage === true && location.pathname === "/"`) {
		t.Fatal("creating reloaded the page")
	}
	if v := eval[string](ana, `document.activeElement.id`); v != "add-name" {
		t.Fatalf("focus after create on %q, want the name field", v)
	}
	ana.check("create")

	// A name the server refuses: the optimistic row appears, then is
	// rolled back, and the message sits at the field.
	eval[bool](ana, `window.__pending = 0; new MutationObserver(ms => ms.forEach(m => m.addedNodes.forEach(n => {
		if (n.classList && n.classList.contains("pending")) window.__pending++ }))).observe(document.getElementById("items"), {childList: true}); true`)
	eval[bool](ana, `document.getElementById("add-name").value = "x".repeat(201); true`)
	ana.expect(http.StatusUnprocessableEntity)
	ana.do("refused add",
		chromedp.Click(chromedp.CSS(".quick-add-form button")),
		chromedp.WaitVisible(chromedp.CSS("#add-name-error")),
	)
	ana.wantText("#add-name-error", "Name must be at most 200 characters.")
	if n := eval[int](ana, `window.__pending`); n != 1 {
		t.Fatalf("%d optimistic rows appeared, want 1", n)
	}
	if n := eval[int](ana, `document.querySelectorAll("#items li").length`); n != 1 {
		t.Fatalf("%d rows after the rollback, want 1", n)
	}
	if eval[string](ana, `document.getElementById("add-name").getAttribute("aria-invalid")`) != "true" ||
		eval[string](ana, `document.activeElement.id`) != "add-name" {
		t.Fatal("refused field not marked invalid and focused")
	}
	ana.check("refused add")
	ana.axe("list with a field error")

	// The item page, then the edit form; ben opens the same form now.
	if s := ana.navigate("open item", chromedp.Click(chromedp.CSS("#items a.item-name"))); s != 200 {
		t.Fatalf("item page: %d", s)
	}
	ana.wantText("main h1", "Desk lamp")
	ana.wantText("main", "Brass, with a green shade", "by ana", "Version 1")
	item := ana.path()
	ana.check("item")
	ana.axe("item")
	if s := ana.navigate("edit", chromedp.Click(chromedp.CSS(`a[href$="/edit"]`))); s != 200 {
		t.Fatalf("edit page: %d", s)
	}
	ana.check("edit")
	ana.axe("edit")
	if s := ben.open(item + "/edit"); s != 200 {
		t.Fatalf("ben's edit page: %d", s)
	}

	ana.do("edit name", fill("#name", "Desk lamp (brass)"))
	if s := ana.navigate("save", chromedp.Click(chromedp.CSS(`form.form button[type=submit]`))); s != 200 || ana.path() != item {
		t.Fatalf("save: %d at %s", s, ana.path())
	}
	ana.wantText("main h1", "Desk lamp (brass)")
	ana.wantText("main", "Version 2")

	// Ben saves his stale form: the conflict page names ana and shows both.
	ben.do("ben edits", fill("#description", "Green shade, brass foot"))
	ben.expect(http.StatusConflict)
	if s := ben.navigate("ben saves", chromedp.Click(chromedp.CSS(`form.form button[type=submit]`))); s != http.StatusConflict {
		t.Fatalf("stale save: %d, want 409", s)
	}
	ben.wantText(".conflict-notice", "changed by ana since you opened it", "Your change was not saved")
	ben.wantText(".compare", "Desk lamp (brass)", "Green shade, brass foot")
	ben.check("conflict")
	ben.axe("conflict")
	if s := ben.navigate("save anyway", chromedp.Click(chromedp.CSS(`.actions form button`))); s != 200 {
		t.Fatalf("save anyway: %d", s)
	}
	ben.wantText("main", "Green shade, brass foot", "by ben", "Version 3")
	ben.check("saved anyway")

	// Delete from ana's list, which she loaded before ben's next change:
	// the API refuses (412), the row comes back with the news, and a
	// second try on the refreshed row succeeds.
	ana.open("/")
	id := strings.TrimPrefix(item, "/items/")
	if r := srv.apiAs(t, "ben", "PATCH", "/api/items/"+id, `{"description":"changed again"}`, "If-Match", `"3"`); r.StatusCode != 200 {
		t.Fatalf("ben's API edit: %s", r.Status)
	}
	del := `#items li[data-id="` + id + `"] button`
	ana.do("arm delete", chromedp.Click(chromedp.CSS(del)))
	ana.wantText(del, "Confirm delete")
	ana.wantText("#notice", "Press again to delete")
	ana.expect(http.StatusPreconditionFailed)
	ana.do("stale delete", chromedp.Click(chromedp.CSS(del)), chromedp.WaitVisible(chromedp.CSS("#alert")))
	waitFor(t, ana, `document.getElementById("alert").textContent.includes("changed by ben")`)
	ana.wantText("#alert", "was changed by ben since you opened this page, so it was not deleted")
	if eval[bool](ana, `document.querySelector('#items li[data-id="`+id+`"]').hidden`) {
		t.Fatal("row not restored after the refused delete")
	}
	if v := eval[string](ana, `document.querySelector('#items li[data-id="`+id+`"] form').dataset.version`); v != "4" {
		t.Fatalf("row not refreshed: version %s", v)
	}
	ana.check("refused delete")
	ana.axe("list with an alert")
	ana.do("delete", chromedp.Click(chromedp.CSS(del)), chromedp.Click(chromedp.CSS(del)),
		chromedp.WaitVisible(chromedp.CSS("#empty")))
	waitFor(t, ana, `document.getElementById("notice").textContent.startsWith("Deleted")`)
	// Ben's "save anyway" put his name back: the refreshed row shows it.
	ana.wantText("#notice", "Deleted “Desk lamp”.")
	if !eval[bool](ana, `location.pathname === "/" && document.querySelectorAll("#items li").length === 0`) {
		t.Fatal("row still listed after delete")
	}
	ana.check("delete")
	if r := srv.apiAs(t, "ana", "GET", "/api/items/"+id, ""); r.StatusCode != http.StatusNotFound {
		t.Fatalf("deleted item: %s", r.Status)
	}

	// The remaining pages: new, the form with errors, not found.
	ana.open("/items/new")
	ana.check("new")
	ana.axe("new")
	ana.expect(http.StatusUnprocessableEntity)
	if s := ana.navigate("empty form", chromedp.Click(chromedp.CSS(`form.form button[type=submit]`))); s != http.StatusUnprocessableEntity {
		t.Fatalf("empty form: %d", s)
	}
	ana.wantText(".error-summary", "Name must not be empty.")
	if v := eval[string](ana, `document.activeElement.id`); v != "name" {
		t.Fatalf("focus on %q after a refused form, want the name field", v)
	}
	ana.check("form errors")
	ana.axe("form errors")
	ana.expect(http.StatusNotFound)
	if s := ana.open("/items/999999"); s != http.StatusNotFound {
		t.Fatalf("unknown item: %d", s)
	}
	ana.check("not found")
	ana.axe("not found")
	ben.check("end")

	// The script's own API calls passed the contract check on the way.
	seen := srv.checker.Seen()
	for _, k := range []contract.Key{
		{Operation: "createItem", Status: 201}, {Operation: "createItem", Status: 422, Problem: "validation"},
		{Operation: "deleteItem", Status: 412, Problem: "edit-conflict"}, {Operation: "getItem", Status: 200},
		{Operation: "deleteItem", Status: 204},
	} {
		if seen[k] == 0 {
			t.Errorf("the contract check saw no %v; seen: %v", k, seen)
		}
	}
}

// waitFor polls a JavaScript condition for up to 10 s.
func waitFor(t *testing.T, tb *tab, cond string) {
	t.Helper()
	eval[bool](tb, fmt.Sprintf(`new Promise((resolve, reject) => {
		const end = Date.now() + 10000;
		(function poll() { if (%s) resolve(true); else if (Date.now() > end) reject(new Error("timeout: %s")); else setTimeout(poll, 25); })();
	})`, cond, strings.ReplaceAll(cond, `"`, `'`)))
}
