//go:build browser

package e2e

import (
	"os"
	"strings"
	"sync"
)

// axe-core is vendored under testdata (see testdata/axe-core/README.md):
// the tests run offline and every run checks with the same rules.
const axeVersion = "4.14.1"

var axeSource = sync.OnceValues(func() ([]byte, error) { return os.ReadFile("testdata/axe-core/axe.min.js") })

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axe runs axe-core on the current page (WCAG 2.2 A and AA rules plus best
// practices) and fails on serious or critical violations; minor and
// moderate ones are logged.
func (tb *tab) axe(page string) {
	tb.t.Helper()
	src, err := axeSource()
	if err != nil {
		tb.t.Fatalf("axe-core: %v", err)
	}
	if v := eval[string](tb, string(src)+"\n;axe.version"); v != axeVersion {
		tb.t.Fatalf("axe-core version %q, want %s", v, axeVersion)
	}
	violations := eval[[]axeViolation](tb, `axe.run(document, {
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
		resultTypes: ["violations"],
	}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help,
		nodes: v.nodes.map(n => n.target.join(" "))})))`)
	for _, v := range violations {
		msg := page + ": axe " + v.Impact + " " + v.ID + ": " + v.Help + " at " + strings.Join(v.Nodes, ", ")
		if v.Impact == "serious" || v.Impact == "critical" {
			tb.t.Error(msg)
		} else {
			tb.t.Log(msg)
		}
	}
	tb.t.Logf("%s: axe-core %s found %d violations (none serious or critical counts as a pass)", page, axeVersion, len(violations))
}
