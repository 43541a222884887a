package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The permission model: deploy/permissions/calls.json says, for every gcloud
// command of our files and every Google API call made for us, who makes it
// and which permissions it needs on which resource, with the page that says
// so; deploy/permissions/roles.json says what each role holds. The tests
// below check the table is sourced and complete, that the grants setup.sh
// and apply.sh make (recorded by the stub gcloud) cover every need at the
// right resource, and that removing any one grant line leaves a named
// permission missing.

const (
	permProject = "from-gcloud-config" // the setup stub's project
	permNumber  = "123456789012"       // the setup stub's project number
	permApprove = "group:release-approvers@example.org"
)

type permTable struct {
	About      string                   `json:"about"`
	Principals map[string]permPrincipal `json:"principals"`
	Calls      []permCall               `json:"calls"`
}

// permPrincipal is who makes calls: Member as setup.sh grants to it, or the
// roles it Holds beforehand (the deployer).
type permPrincipal struct {
	Who    string   `json:"who"`
	Member string   `json:"member"`
	Holds  []string `json:"holds"`
}

type permCall struct {
	ID        string       `json:"id"`
	In        []string     `json:"in"`
	Principal string       `json:"principal"`
	Command   string       `json:"command"`
	API       string       `json:"api"`
	Mode      string       `json:"mode"`
	Needs     []permNeed   `json:"needs"`
	Sources   []permSource `json:"sources"`
	Waiver    string       `json:"waiver"`
	Note      string       `json:"note"`
}

type permNeed struct {
	Permission string `json:"permission"`
	On         string `json:"on"`
	Waiver     string `json:"waiver"`
}

type permSource struct {
	URL  string `json:"url"`
	Kind string `json:"kind"`
	Says string `json:"says"`
}

type permRoles struct {
	About       string `json:"about"`
	Source      string `json:"source"`
	Commit      string `json:"commit"`
	Date        string `json:"date"`
	Crosschecks []struct {
		Role string `json:"role"`
		URL  string `json:"url"`
		Says string `json:"says"`
	} `json:"crosschecks"`
	Roles map[string]struct {
		Title       string `json:"title"`
		Stage       string `json:"stage"`
		Why         string `json:"why"`
		File        string `json:"file"`
		LastChanged struct {
			Commit string `json:"commit"`
			Date   string `json:"date"`
		} `json:"last_changed"`
		Permissions []string `json:"permissions"`
	} `json:"roles"`
}

// iamGrant is one binding: member holds role on a resource (see calls.json).
type iamGrant struct{ Member, Role, On string }

func (g iamGrant) String() string { return fmt.Sprintf("%s %s on %s", g.Member, g.Role, g.On) }

// placeholders fills in what calls.json leaves to the project.
var placeholders = strings.NewReplacer("PROJECT_NUMBER", permNumber, "PROJECT", permProject, "APPROVERS", permApprove)

func loadPermissions(t *testing.T) (permTable, permRoles) {
	t.Helper()
	var table permTable
	var roles permRoles
	for file, v := range map[string]any{"deploy/permissions/calls.json": &table, "deploy/permissions/roles.json": &roles} {
		dec := json.NewDecoder(strings.NewReader(readRepoFile(t, file)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	for i := range table.Calls {
		for j := range table.Calls[i].Needs {
			table.Calls[i].Needs[j].On = placeholders.Replace(table.Calls[i].Needs[j].On)
		}
	}
	for name, p := range table.Principals {
		p.Member = placeholders.Replace(p.Member)
		table.Principals[name] = p
	}
	return table, roles
}

func (r permRoles) has(role, permission string) bool {
	return slices.Contains(r.Roles[role].Permissions, permission)
}

// grantsOf turns recorded add-iam-policy-binding calls into grants.
func grantsOf(t *testing.T, calls [][]string) []iamGrant {
	t.Helper()
	var out []iamGrant
	for _, c := range calls {
		i := slices.Index(c, "add-iam-policy-binding")
		if i < 0 {
			continue
		}
		member, _ := flagValue(c, "--member")
		role, _ := flagValue(c, "--role")
		words, name := strings.Join(c[:i], " "), ""
		if len(c) > i+1 {
			name = c[i+1]
		}
		on := map[string]string{
			"projects": "project", "secrets": "secret:" + name, "artifacts repositories": "repository:" + name,
			"iam service-accounts": "sa:" + name, "run services": "service:" + name, "run jobs": "job:" + name,
			"storage buckets": "bucket:" + strings.TrimPrefix(name, "gs://"),
		}[words]
		if on == "" || member == "" || role == "" {
			t.Fatalf("a grant the model cannot read: %q", c)
		}
		if on == "project" && name != permProject {
			t.Fatalf("a grant on another project: %q", c)
		}
		out = append(out, iamGrant{member, role, on})
	}
	return out
}

// missing returns every need of the calls that apply in mode ("private" or
// "public") that no grant covers: a grant covers a need when its role holds
// the permission and it is on the same resource or on the project.
func missing(table permTable, roles permRoles, grants []iamGrant, mode string) []string {
	var out []string
	for _, c := range table.Calls {
		if c.Mode != "" && c.Mode != mode {
			continue
		}
		p := table.Principals[c.Principal]
		for _, n := range c.Needs {
			covered := slices.ContainsFunc(p.Holds, func(role string) bool { return roles.has(role, n.Permission) })
			for _, g := range grants {
				if g.Member == p.Member && (g.On == n.On || g.On == "project") && roles.has(g.Role, n.Permission) {
					covered = true
				}
			}
			if !covered {
				out = append(out, fmt.Sprintf("%s (%s): %s needs %s on %s", c.ID, c.Command+c.API, c.Principal, n.Permission, n.On))
			}
		}
	}
	return out
}

// TestPermissionTableSourced: every need names its source, a Google page,
// gcloud's source or the dataset's method map, whose quoted words name the
// permission or a role holding it; a need without one carries a waiver.
func TestPermissionTableSourced(t *testing.T) {
	t.Parallel()
	table, roles := loadPermissions(t)
	roleRef := regexp.MustCompile(`roles/[a-zA-Z.]+[a-zA-Z]`)
	resource := regexp.MustCompile(`^(project|(service|job|secret|repository|sa|bucket):[a-z0-9@._-]+)$`)
	ids := map[string]bool{}
	var waived []string
	for _, c := range table.Calls {
		if ids[c.ID] {
			t.Errorf("duplicate row id %s", c.ID)
		}
		ids[c.ID] = true
		if _, ok := table.Principals[c.Principal]; !ok {
			t.Errorf("%s: unknown principal %q", c.ID, c.Principal)
		}
		if (c.Command == "") == (c.API == "") {
			t.Errorf("%s: a row is either a gcloud command or an API call", c.ID)
		}
		if c.Mode != "" && c.Mode != "public" {
			t.Errorf("%s: mode %q", c.ID, c.Mode)
		}
		for _, s := range c.Sources {
			if !strings.HasPrefix(s.URL, "https://") || s.Says == "" || !slices.Contains([]string{"google", "tool", "dataset", "third-party"}, s.Kind) {
				t.Errorf("%s: source %+v needs an https URL, a kind (google, tool, dataset, third-party) and the words it says", c.ID, s)
			}
		}
		for _, n := range c.Needs {
			if !resource.MatchString(n.On) {
				t.Errorf("%s: resource %q", c.ID, n.On)
			}
			if n.Waiver != "" || c.Waiver != "" {
				waived = append(waived, c.ID+": "+n.Permission)
				continue
			}
			sourced := slices.ContainsFunc(c.Sources, func(s permSource) bool {
				if s.Kind == "third-party" {
					return false
				}
				if strings.Contains(s.Says, n.Permission) {
					return true
				}
				return slices.ContainsFunc(roleRef.FindAllString(s.Says, -1), func(r string) bool { return roles.has(r, n.Permission) })
			})
			if !sourced {
				t.Errorf("%s: no Google, tool or dataset source names %s or a role holding it; cite one or waive it with the reason", c.ID, n.Permission)
			}
		}
	}
	for name, p := range table.Principals {
		for _, r := range p.Holds {
			if _, ok := roles.Roles[r]; !ok {
				t.Errorf("principal %s holds %s, which roles.json lacks", name, r)
			}
		}
	}
	if roles.Commit == "" || roles.Date == "" || !strings.HasPrefix(roles.Source, "https://") {
		t.Error("roles.json must record its source, commit and date")
	}
	t.Logf("waived (only a real project settles them): %s", strings.Join(waived, "; "))
}

var gcloudWords = regexp.MustCompile(`(?:^|[\s"'(|;&])gcloud((?:[ \t]+[a-z][a-z0-9-]*)+)`)

// gcloudCommands returns the gcloud command words written in shell text,
// comments left out.
func gcloudCommands(text string) [][]string {
	var out [][]string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range gcloudWords.FindAllStringSubmatch(line, -1) {
			out = append(out, strings.Fields(m[1]))
		}
	}
	return out
}

// rowFor returns the row of file whose command is the longest prefix of words.
func rowFor(table permTable, file string, words []string) (permCall, bool) {
	var best permCall
	found := false
	for _, c := range table.Calls {
		cw := strings.Fields(c.Command)
		if c.Command == "" || !slices.Contains(c.In, file) || len(cw) > len(words) || !slices.Equal(cw, words[:len(cw)]) {
			continue
		}
		if !found || len(cw) > len(strings.Fields(best.Command)) {
			best, found = c, true
		}
	}
	return best, found
}

// permissionsFiles are the files whose gcloud commands the table covers,
// with the text in which to look for them.
func permissionsFiles(t *testing.T) map[string]string {
	t.Helper()
	b, _ := loadBuild(t)
	var steps []string
	for _, s := range b.GetSteps() {
		steps = append(steps, s.GetScript())
	}
	return map[string]string{
		"deploy/setup.sh":            readRepoFile(t, "deploy/setup.sh"),
		"deploy/monitoring/apply.sh": readRepoFile(t, "deploy/monitoring/apply.sh"),
		"cloudbuild.yaml":            strings.Join(steps, "\n"),
		"docs/deploy.md":             strings.Join(markedBlocks(t, readRepoFile(t, "docs/deploy.md")), "\n"),
	}
}

// checkCallsInTable fails for a recorded gcloud call without a row of file.
func checkCallsInTable(t *testing.T, table permTable, file string, calls [][]string) {
	t.Helper()
	for _, c := range calls {
		var words []string
		for _, a := range c {
			if strings.HasPrefix(a, "-") {
				break
			}
			words = append(words, a)
		}
		if _, ok := rowFor(table, file, words); !ok {
			t.Errorf("gcloud %s (%s) has no row in deploy/permissions/calls.json", strings.Join(c, " "), file)
		}
	}
}

// TestPermissionTableCoversEveryCommand: every gcloud command written in
// cloudbuild.yaml's steps, setup.sh, apply.sh and docs/deploy.md's rehearsed
// blocks, and every one setup.sh and apply.sh actually ran under the stub,
// has a row for that file; every row's command is still written there.
func TestPermissionTableCoversEveryCommand(t *testing.T) {
	t.Parallel()
	table, _ := loadPermissions(t)
	files := permissionsFiles(t)
	used := map[string]bool{}
	for file, text := range files {
		cmds := gcloudCommands(text)
		if len(cmds) == 0 {
			t.Errorf("%s: no gcloud commands found", file)
		}
		for _, words := range cmds {
			c, ok := rowFor(table, file, words)
			if !ok {
				t.Errorf("%s: gcloud %s has no row in deploy/permissions/calls.json", file, strings.Join(words, " "))
				continue
			}
			used[c.ID+"\x00"+file] = true
		}
	}
	for _, c := range table.Calls {
		for _, file := range c.In {
			if _, ok := files[file]; !ok {
				t.Errorf("%s: unknown file %s", c.ID, file)
			} else if c.Command != "" && !used[c.ID+"\x00"+file] {
				t.Errorf("%s: %s no longer runs gcloud %s: drop it from the row", c.ID, file, c.Command)
			}
		}
	}
	// What the scripts really ran, branches included.
	r := runPermissionScripts(t, nil)
	checkCallsInTable(t, table, "deploy/setup.sh", r.setup)
	checkCallsInTable(t, table, "deploy/monitoring/apply.sh", r.apply)
}

// permRun is the gcloud calls of one setup.sh run with GitHub authorized
// (everything it creates and grants) and one apply.sh run.
type permRun struct{ setup, apply [][]string }

// runPermissionScripts runs setup.sh and apply.sh with the recording stub;
// edit, if not nil, rewrites a script's text first.
func runPermissionScripts(t *testing.T, edit func(file, text string) string, env ...string) permRun {
	t.Helper()
	return permRun{setup: runSetupScript(t, edit, env...), apply: runApplyScript(t, edit)}
}

// scriptCopy writes file's text, after edit, to path.
func scriptCopy(t *testing.T, file, path string, edit func(file, text string) string) {
	t.Helper()
	text := readRepoFile(t, file)
	if edit != nil {
		text = edit(file, text)
	}
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
}

// runSetupScript runs setup.sh once with GitHub already authorized, so one
// run creates and grants everything.
func runSetupScript(t *testing.T, edit func(file, text string) string, env ...string) [][]string {
	t.Helper()
	r := newSetupRun(t)
	setup := filepath.Join(t.TempDir(), "setup.sh")
	scriptCopy(t, "deploy/setup.sh", setup, edit)
	r.authorizeGitHub(t)
	r.runScript(t, setup, append([]string{"APPROVERS=" + permApprove}, env...), "--github=acme/shop")
	return r.calls
}

// runApplyScript runs apply.sh from a copy of deploy/monitoring/.
func runApplyScript(t *testing.T, edit func(file, text string) string) [][]string {
	t.Helper()
	r := newSetupRun(t)
	monitoring := filepath.Join(t.TempDir(), "monitoring")
	if err := os.CopyFS(monitoring, os.DirFS(filepath.Join(repoRoot(t), "deploy", "monitoring"))); err != nil {
		t.Fatal(err)
	}
	scriptCopy(t, "deploy/monitoring/apply.sh", filepath.Join(monitoring, "apply.sh"), edit)
	cmd := exec.Command("bash", filepath.Join(monitoring, "apply.sh"))
	cmd.Env = append(os.Environ(), "PATH="+r.dir+string(os.PathListSeparator)+os.Getenv("PATH"), "STUB_DIR="+r.dir,
		"STUB_PROJECT="+permProject, "PROJECT=", "REGION=us-central1", "HOST=example-function-abc-uc.a.run.app", "SERVICE=", "NOTIFICATION_CHANNELS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apply.sh: %v\n%s", err, b)
	}
	b, _ := os.ReadFile(filepath.Join(r.dir, "calls"))
	var calls [][]string
	for line := range strings.Lines(string(b)) {
		calls = append(calls, strings.Split(strings.TrimSuffix(line, "\n"), "\x1f"))
	}
	return calls
}

func (p permRun) grants(t *testing.T) []iamGrant {
	return append(grantsOf(t, p.setup), grantsOf(t, p.apply)...)
}

var permModes = map[string][]string{"private": nil, "public": {"ALLOW_UNAUTHENTICATED=true"}}

// TestPermissionModel: the grants setup.sh and apply.sh make, with the roles
// the deployer holds, cover every need of the table, private and public;
// the build account holds nothing on the project but its logs, and never
// the permissions that create a service or a job.
func TestPermissionModel(t *testing.T) {
	t.Parallel()
	table, roles := loadPermissions(t)
	for mode, env := range permModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			grants := runPermissionScripts(t, nil, env...).grants(t)
			if m := missing(table, roles, grants, mode); len(m) > 0 {
				t.Errorf("not covered by setup.sh's grants:\n  %s", strings.Join(m, "\n  "))
			}
			for _, g := range grants {
				if _, ok := roles.Roles[g.Role]; !ok {
					t.Errorf("granted %s, which deploy/permissions/roles.json lacks", g)
				}
				if g.Member != table.Principals["build"].Member || g.On != "project" {
					continue
				}
				if g.Role != "roles/logging.logWriter" {
					t.Errorf("the build account gets %s on the whole project", g.Role)
				}
				for _, p := range []string{"run.services.create", "run.jobs.create", "run.services.setIamPolicy"} {
					if roles.has(g.Role, p) {
						t.Errorf("the build account may %s anywhere in the project (%s)", p, g.Role)
					}
				}
			}
		})
	}
}

// grantLines returns the lines of a script that grant, with the
// continuation lines that belong to each.
func grantLines(file, text string) [][2]int {
	lines := strings.Split(text, "\n")
	var out [][2]int
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		grants := (file == "deploy/setup.sh" && strings.HasPrefix(l, "grant ")) ||
			(file == "deploy/monitoring/apply.sh" && strings.HasPrefix(l, "gcloud ") && strings.Contains(l, "add-iam-policy-binding"))
		if !grants {
			continue
		}
		end := i
		for end < len(lines)-1 && strings.HasSuffix(lines[end], "\\") {
			end++
		}
		out = append(out, [2]int{i, end})
	}
	return out
}

// TestEachGrantIsNeeded removes each grant line of setup.sh and apply.sh in
// turn (a no-op in its place) and checks that the model then misses a
// permission of the removed role, for the member that lost it, by name.
func TestEachGrantIsNeeded(t *testing.T) {
	t.Parallel()
	table, roles := loadPermissions(t)
	// apply.sh does not depend on the mode; setup.sh does.
	fullApply := grantsOf(t, runApplyScript(t, nil))
	fullSetup, full := map[string][]iamGrant{}, map[string][]iamGrant{}
	for mode, env := range permModes {
		fullSetup[mode] = grantsOf(t, runSetupScript(t, nil, env...))
		full[mode] = append(slices.Clone(fullSetup[mode]), fullApply...)
	}
	count := 0
	for _, file := range []string{"deploy/setup.sh", "deploy/monitoring/apply.sh"} {
		text := readRepoFile(t, file)
		for _, span := range grantLines(file, text) {
			count++
			lines := strings.Split(text, "\n")
			name := fmt.Sprintf("%s:%d", file, span[0]+1)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var lostPrivate []iamGrant
				edit := func(f, s string) string {
					if f != file {
						return s
					}
					l := strings.Split(s, "\n")
					return strings.Join(slices.Concat(l[:span[0]], []string{":"}, l[span[1]+1:]), "\n")
				}
				granted := false
				for _, mode := range []string{"private", "public"} {
					if mode == "public" && granted && !modeDependent(lostPrivate, full) {
						break // the line grants the same in both modes: one check is enough
					}
					var got []iamGrant
					if file == "deploy/setup.sh" {
						got = append(grantsOf(t, runSetupScript(t, edit, permModes[mode]...)), fullApply...)
					} else {
						got = append(slices.Clone(fullSetup[mode]), grantsOf(t, runApplyScript(t, edit))...)
					}
					var lost []iamGrant
					for _, g := range full[mode] {
						if !slices.Contains(got, g) {
							lost = append(lost, g)
						}
					}
					if mode == "private" {
						lostPrivate = lost
					}
					if len(lost) == 0 {
						continue // this line grants nothing in this mode
					}
					granted = true
					m := missing(table, roles, got, mode)
					named := slices.ContainsFunc(m, func(miss string) bool {
						return slices.ContainsFunc(lost, func(g iamGrant) bool {
							for who, p := range table.Principals {
								if p.Member != g.Member || !strings.Contains(miss, ": "+who+" needs ") {
									continue
								}
								for _, perm := range roles.Roles[g.Role].Permissions {
									if strings.Contains(miss, " needs "+perm+" on ") {
										return true
									}
								}
							}
							return false
						})
					})
					if !named {
						t.Errorf("%s mode: without %q (%v) the model misses nothing of what it granted; missing: %q",
							mode, strings.TrimSpace(lines[span[0]]), lost, m)
					} else {
						t.Logf("%s mode: without it: %s", mode, strings.Join(m, "; "))
					}
				}
				if !granted {
					t.Errorf("%q grants nothing in either mode", strings.TrimSpace(lines[span[0]]))
				}
			})
		}
	}
	if count < 15 {
		t.Errorf("found %d grant lines; setup.sh grants one binding per line with grant WHERE MEMBER ROLE", count)
	}
}

// modeDependent reports whether any of grants is made in one mode only.
func modeDependent(grants []iamGrant, full map[string][]iamGrant) bool {
	return slices.ContainsFunc(grants, func(g iamGrant) bool {
		return !slices.Contains(full["private"], g) || !slices.Contains(full["public"], g)
	})
}

// The deployer's roles are each needed too: without any one, a need of the
// deployer's commands is left uncovered.
func TestDeployerRolesAreNeeded(t *testing.T) {
	t.Parallel()
	table, roles := loadPermissions(t)
	holds := table.Principals["deployer"].Holds
	for _, role := range holds {
		p := table.Principals["deployer"]
		p.Holds = slices.DeleteFunc(slices.Clone(holds), func(r string) bool { return r == role })
		t2 := table
		t2.Principals = map[string]permPrincipal{"deployer": p}
		var only []permCall
		for _, c := range table.Calls {
			if c.Principal == "deployer" {
				only = append(only, c)
			}
		}
		t2.Calls = only
		if m := missing(t2, roles, nil, "public"); len(m) == 0 {
			t.Errorf("the deployer's %s covers nothing the others do not: drop it from calls.json and docs/deploy.md", role)
		}
	}
}

// TestPermissionDocs: docs/deploy.md lists the deployer's roles and the
// permissions other accounts need on the whole project exactly as the table
// has them.
func TestPermissionDocs(t *testing.T) {
	t.Parallel()
	table, _ := loadPermissions(t)
	docs := readRepoFile(t, "docs/deploy.md")
	section := func(heading string) string {
		_, rest, ok := strings.Cut(docs, "\n"+heading+"\n")
		if !ok {
			t.Fatalf("docs/deploy.md has no %q section", heading)
		}
		if i := strings.Index(rest, "\n#"); i >= 0 {
			rest = rest[:i]
		}
		return rest
	}
	ticked := func(text, pattern string) []string {
		set := map[string]bool{}
		for _, m := range regexp.MustCompile("`("+pattern+")`").FindAllStringSubmatch(text, -1) {
			set[m[1]] = true
		}
		out := make([]string, 0, len(set))
		for k := range set {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	holds := slices.Sorted(slices.Values(table.Principals["deployer"].Holds))
	if got := ticked(section("### What you need to run it"), `roles/[a-zA-Z.]+`); !slices.Equal(got, holds) {
		t.Errorf("docs list the deployer's roles %q; calls.json has %q", got, holds)
	}
	set := map[string]bool{}
	for _, c := range table.Calls {
		if c.Principal == "deployer" {
			continue
		}
		for _, n := range c.Needs {
			if n.On == "project" {
				set[n.Permission] = true
			}
		}
	}
	want := slices.Sorted(func(yield func(string) bool) {
		for k := range set {
			if !yield(k) {
				return
			}
		}
	})
	// The bulleted list of the section (the paragraph before it names the
	// deployer's create permissions).
	list := section("### What must be granted on the project")
	if i := strings.Index(list, "\n- "); i >= 0 {
		list = list[i:]
	}
	if i := strings.Index(list, "\n\n"); i >= 0 {
		list = list[:i]
	}
	if got := ticked(list, `[a-z]+\.[a-zA-Z]+\.[a-zA-Z]+`); !slices.Equal(got, want) {
		t.Errorf("docs list the project-level permissions %q; calls.json needs %q", got, want)
	}
}
