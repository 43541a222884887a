//go:build browser

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// ListPageBudget is the most the list page may transfer on a cold load
// (HTML, CSS, script, icon; headers included), Lighthouse-style.
const ListPageBudget = 50 * 1024

// seed fills the list with a realistic first page.
func seed(t *testing.T, srv *server) {
	t.Helper()
	rows := [][3]string{
		{"ana", "Whiteboard", "120 × 90 cm, magnetic. Meeting room 2."},
		{"ben", "Label printer", ""},
		{"cleo", "Monitor arm", "Dual, VESA 100."},
		{"ana", "Ergonomic chair", "Adjustable lumbar support; replaces the old one by the window."},
		{"dan", "USB-C dock", "Two DisplayPort outputs, 100 W charging."},
		{"ben", "Bookshelf", "Oak, five shelves."},
		{"eve", "Standing desk", "Electric, 160 × 80 cm, memory presets."},
		{"ana", "Desk lamp", "Brass, with a green shade."},
	}
	for _, r := range rows {
		srv.createItem(t, r[0], r[1], r[2])
	}
}

// Cold load of the list page: total bytes on the wire and paint timings,
// as Lighthouse would report them; assets must arrive compressed.
func TestBrowserListPageBudget(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	seed(t, srv)
	for i := range 12 {
		srv.createItem(t, "eve", fmt.Sprintf("Spare part %02d", i+1), "From the storage room.")
	}
	browser := newBrowser(t)
	tb := newTab(t, browser, srv, "ana", tabOption{})
	must(t, call(tb.ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}))

	var (
		mu       sync.Mutex
		urls     = map[network.RequestID]string{}
		encoding = map[network.RequestID]string{}
		sizes    = map[network.RequestID]float64{}
	)
	must(t, chromedp.Listen(tb.ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventResponseReceived:
			urls[ev.RequestID] = strings.TrimPrefix(ev.Response.URL, srv.url(""))
			for k, v := range ev.Response.Headers {
				if strings.EqualFold(k, "Content-Encoding") {
					encoding[ev.RequestID] = fmt.Sprint(v)
				}
			}
		case *network.EventLoadingFinished:
			sizes[ev.RequestID] = ev.EncodedDataLength
		}
	}))
	if s := tb.open("/"); s != 200 {
		t.Fatalf("list: %d", s)
	}
	waitFor(t, tb, `document.readyState === "complete" && performance.getEntriesByName("first-contentful-paint").length > 0`)
	time.Sleep(200 * time.Millisecond) // let the last LoadingFinished events arrive
	tb.check("budget load")

	mu.Lock()
	var total float64
	var lines []string
	for id, n := range sizes {
		total += n
		lines = append(lines, fmt.Sprintf("%6.0f B  %-4s %s", n, encoding[id], urls[id]))
		if u := urls[id]; strings.HasPrefix(u, "/static/") && !strings.HasSuffix(u, ".svg") && encoding[id] != "br" && encoding[id] != "gzip" {
			t.Errorf("%s arrived uncompressed", u)
		}
	}
	mu.Unlock()
	sort.Strings(lines)
	t.Logf("list page (20 items), cold cache, %d requests:\n%s", len(lines), strings.Join(lines, "\n"))
	t.Logf("BUDGET transferred: %.1f KB of %d KB", total/1024, ListPageBudget/1024)
	if total > ListPageBudget {
		t.Errorf("list page transferred %.0f bytes, budget %d", total, ListPageBudget)
	}
	if len(sizes) < 4 {
		t.Errorf("only %d requests seen; expected the page, CSS, script and icon", len(sizes))
	}

	type timing struct {
		FP, FCP, DCL, Load float64
	}
	tm := eval[timing](tb, `(() => {
		const p = n => (performance.getEntriesByName(n)[0] || {}).startTime || 0;
		const nav = performance.getEntriesByType("navigation")[0];
		return {FP: p("first-paint"), FCP: p("first-contentful-paint"),
			DCL: nav.domContentLoadedEventEnd, Load: nav.loadEventEnd};
	})()`)
	t.Logf("BUDGET first paint %.0f ms, first contentful paint %.0f ms, DOMContentLoaded %.0f ms, load %.0f ms",
		tm.FP, tm.FCP, tm.DCL, tm.Load)
	// Timings are reported, not asserted (they depend on the machine); a
	// page that never painted is a failure all the same.
	if tm.FCP <= 0 {
		t.Errorf("no first contentful paint recorded")
	}
}

// Screenshots of the list, item and conflict pages at desktop and phone
// widths. They go to a temporary directory (logged), or to $SCREENSHOT_DIR:
// `make screenshots` refreshes docs/screenshots (docs/front-end.md). (Pages show
// the time of the run, so a default of docs/ would dirty every checkout.) Each page
// is also checked by axe at that width: the phone layout is a layout too.
func TestBrowserScreenshots(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	must(t, os.MkdirAll(dir, 0o755))
	t.Logf("screenshots in %s", dir)
	srv := startServer(t)
	seed(t, srv)
	browser := newBrowser(t)
	for _, size := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{
		{"desktop", 1280, 800, false},
		{"phone", 390, 844, true},
	} {
		ana := newTab(t, browser, srv, "ana", tabOption{width: size.width, height: size.height, mobile: size.mobile})
		shot := func(page string) {
			t.Helper()
			ana.check(page + " " + size.name)
			ana.axe(page + " " + size.name)
			// Let fonts and layout settle before capturing.
			waitFor(t, ana, `document.fonts.status === "loaded"`)
			png, err := chromedp.Run(ana.ctx, chromedp.CaptureScreenshot())
			must(t, err)
			name := filepath.Join(dir, page+"-"+size.name+".png")
			must(t, os.WriteFile(name, png, 0o644))
			t.Logf("wrote %s (%d KB)", name, len(png)/1024)
		}
		ana.open("/")
		shot("list")
		ana.navigate("item", chromedp.Click(chromedp.CSS(`#items a.item-name`)))
		id := strings.TrimPrefix(ana.path(), "/items/")
		shot("item")

		// Ben edits behind ana's back while her form is open.
		ana.open("/items/" + id + "/edit")
		ana.do("edit", fill("#name", "Desk lamp, brass"), fill("#description", "Brass, with a green glass shade."))
		r := srv.apiAs(t, "ben", "PATCH", "/api/items/"+id, `{"description":"Brass, green shade; bulb replaced in May."}`, "If-Match", "*")
		if r.StatusCode != 200 {
			t.Fatalf("ben's edit: %s", r.Status)
		}
		ana.expect(409)
		if s := ana.navigate("stale save", chromedp.Click(chromedp.CSS(`form.form button[type=submit]`))); s != 409 {
			t.Fatalf("stale save: %d", s)
		}
		shot("conflict")
	}
}
