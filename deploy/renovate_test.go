package deploy

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// renovateConfig is the part of renovate.json this test reads.
type renovateConfig struct {
	Extends        []string `json:"extends"`
	CustomManagers []struct {
		ManagerFilePatterns       []string `json:"managerFilePatterns"`
		MatchStrings              []string `json:"matchStrings"`
		AutoReplaceStringTemplate string   `json:"autoReplaceStringTemplate"`
		DatasourceTemplate        string   `json:"datasourceTemplate"`
	} `json:"customManagers"`
}

// renderTemplate fills the two Handlebars forms the template may use,
// {{{name}}} and {{#if name}}...{{/if}}; anything else fails the test, so the
// check never silently models a template it does not understand.
func renderTemplate(t *testing.T, tmpl string, vars map[string]string) string {
	t.Helper()
	ifBlock := regexp.MustCompile(`\{\{#if (\w+)\}\}(.*?)\{\{/if\}\}`)
	out := ifBlock.ReplaceAllStringFunc(tmpl, func(m string) string {
		sub := ifBlock.FindStringSubmatch(m)
		if vars[sub[1]] == "" {
			return ""
		}
		return sub[2]
	})
	out = regexp.MustCompile(`\{\{\{(\w+)\}\}\}`).ReplaceAllStringFunc(out, func(m string) string {
		return vars[strings.Trim(m, "{}")]
	})
	if strings.Contains(out, "{{") {
		t.Fatalf("autoReplaceStringTemplate %q uses Handlebars this test does not model", tmpl)
	}
	return out
}

// TestStepImagesPinnedByRenovate: no step image digest can be verified here
// (no registry), so every step image is a cloudbuild.yaml substitution that
// renovate.json's custom manager finds, and its template writes the value
// back with the digest docker:pinDigests looks up. Renovate's first PR on a
// real repository is what confirms the lookup itself.
func TestStepImagesPinnedByRenovate(t *testing.T) {
	t.Parallel()
	var cfg renovateConfig
	if err := json.Unmarshal([]byte(readRepoFile(t, "renovate.json")), &cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cfg.Extends, "docker:pinDigests") {
		t.Error("renovate.json does not extend docker:pinDigests")
	}
	b, text := loadBuild(t)
	subs := b.GetSubstitutions()
	stepImage := regexp.MustCompile(`^\$\{(_[A-Z_]*IMAGE)\}$`)
	for _, s := range b.GetSteps() {
		m := stepImage.FindStringSubmatch(s.GetName())
		if m == nil {
			t.Errorf("step %q runs %q: step images must be ${_..._IMAGE} substitutions Renovate pins", s.GetId(), s.GetName())
			continue
		}
		if _, ok := subs[m[1]]; !ok {
			t.Errorf("step %q: %s has no default", s.GetId(), m[1])
		}
	}

	var re *regexp.Regexp
	var tmpl string
	for _, m := range cfg.CustomManagers {
		if slices.ContainsFunc(m.ManagerFilePatterns, func(p string) bool { return strings.Contains(p, "cloudbuild") }) &&
			m.DatasourceTemplate == "docker" && len(m.MatchStrings) == 1 {
			re, tmpl = regexp.MustCompile(m.MatchStrings[0]), m.AutoReplaceStringTemplate
		}
	}
	if re == nil || tmpl == "" {
		t.Fatal("renovate.json has no docker custom manager with a matchString and an autoReplaceStringTemplate for cloudbuild.yaml")
	}
	found := map[string]bool{}
	for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
		group := func(name string) string {
			i := re.SubexpIndex(name)
			if i < 0 || m[2*i] < 0 {
				return ""
			}
			return text[m[2*i]:m[2*i+1]]
		}
		matched, dep, value, digest := text[m[0]:m[1]], group("depName"), group("currentValue"), group("currentDigest")
		ref := dep + ":" + value
		if digest != "" {
			ref += "@" + digest
		}
		found[ref] = true
		// The replacement rewrites exactly the match: the same text when
		// nothing changes, the value with a digest appended when pinning.
		same := map[string]string{"depName": dep, "newValue": value, "newDigest": digest}
		if got := renderTemplate(t, tmpl, same); got != matched {
			t.Errorf("template renders %q for an unchanged %q", got, matched)
		}
		pin := map[string]string{"depName": dep, "newValue": value, "newDigest": "sha256:" + strings.Repeat("a", 64)}
		if got := renderTemplate(t, tmpl, pin); !strings.HasSuffix(got, ref[:len(dep)+1+len(value)]+"@"+pin["newDigest"]) {
			t.Errorf("pinning %q renders %q, want the tag with the digest", matched, got)
		}
	}
	for name, value := range subs {
		if strings.HasSuffix(name, "_IMAGE") && !found[value] {
			t.Errorf("%s=%q is not found by renovate.json's cloudbuild.yaml manager", name, value)
		}
	}
}
