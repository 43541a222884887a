package monitoring

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
)

// stubGcloud is a gcloud on PATH that records its argv (one line per call,
// arguments separated by \x1f), keeps a copy of every file passed with
// --policy-from-file or --config-from-file, and answers list commands with
// one existing resource when STUB_EXISTING is set.
const stubGcloud = `#!/usr/bin/env bash
set -eu
{ printf '%s\x1f' "$@"; printf '\n'; } >>"$STUB_DIR/calls"
for a in "$@"; do
  case "$a" in
    --policy-from-file=*|--config-from-file=*) f="${a#*=}"; cp "$f" "$STUB_DIR/files/$(basename "$f")" ;;
  esac
done
case "$*" in
  "config get-value project") echo stub-project ;;
  "run services describe"*) echo "https://example-function-abc-ew.a.run.app" ;;
  *" list "*|*" list-configs "*) if [ -n "${STUB_EXISTING:-}" ]; then echo "projects/stub-project/things/existing-1"; fi ;;
esac
`

type run struct {
	calls [][]string
	files string // folder with the rendered files gcloud received
	out   string
	err   error
}

func runApply(t *testing.T, env ...string) run {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	files := filepath.Join(dir, "files")
	for _, d := range []string{bin, files} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "gcloud"), []byte(stubGcloud), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "apply.sh")
	cmd.Env = append([]string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"STUB_DIR=" + dir,
		"HOME=" + dir,
	}, env...)
	out, err := cmd.CombinedOutput()
	r := run{files: files, out: string(out), err: err}
	b, _ := os.ReadFile(filepath.Join(dir, "calls"))
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line != "" {
			r.calls = append(r.calls, strings.Split(strings.TrimSuffix(line, "\x1f"), "\x1f"))
		}
	}
	return r
}

// commands returns the calls as "gcloud words" up to the first flag.
func (r run) commands() []string {
	var out []string
	for _, c := range r.calls {
		var words []string
		for _, a := range c {
			if strings.HasPrefix(a, "-") {
				break
			}
			words = append(words, a)
		}
		out = append(out, strings.Join(words, " "))
	}
	return out
}

func (r run) call(prefix string) []string {
	for _, c := range r.calls {
		if strings.HasPrefix(strings.Join(c, " "), prefix) {
			return c
		}
	}
	return nil
}

func TestApplyFreshProject(t *testing.T) {
	t.Parallel()
	r := runApply(t, "PROJECT=my-proj", "HOST=svc-abc-ew.a.run.app")
	if r.err != nil {
		t.Fatalf("apply.sh: %v\n%s", r.err, r.out)
	}
	alerts, _ := filepath.Glob("alerts/*.json")
	want := []string{"monitoring uptime list-configs", "monitoring uptime create example-function /healthz"}
	for range alerts {
		want = append(want, "alpha monitoring policies list", "alpha monitoring policies create")
	}
	want = append(want, "monitoring dashboards list", "monitoring dashboards create")
	if got := r.commands(); !slices.Equal(got, want) {
		t.Errorf("commands:\n got %q\nwant %q\noutput:\n%s", got, want, r.out)
	}
	for _, c := range r.calls {
		if !slices.Contains(c, "--project=my-proj") {
			t.Errorf("call without --project: %q", c)
		}
	}

	// The rendered files gcloud received have every placeholder filled in
	// and still parse.
	got, _ := filepath.Glob(filepath.Join(r.files, "*.json"))
	if len(got) != len(alerts)+1 {
		t.Fatalf("gcloud received %d files, want %d", len(got), len(alerts)+1)
	}
	for _, f := range got {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "${") {
			t.Errorf("%s keeps a placeholder", filepath.Base(f))
		}
		if !strings.Contains(string(b), "example-function") {
			t.Errorf("%s does not name the service", filepath.Base(f))
		}
		if filepath.Base(f) == "healthz-uptime.json" && !strings.Contains(string(b), `\"svc-abc-ew.a.run.app\"`) {
			t.Errorf("uptime alert does not filter on the host")
		}
	}
	var pol monitoringpb.AlertPolicy
	parseFile(t, filepath.Join(r.files, "http-5xx-ratio.json"), &pol)
	if !strings.Contains(pol.GetConditions()[0].GetConditionThreshold().GetFilter(), `"service_name"="example-function"`) {
		t.Errorf("5xx filter not rendered: %s", pol.GetConditions()[0].GetConditionThreshold().GetFilter())
	}
}

// TestApplyUptimeFlagsMatchFile keeps the gcloud flags, which gcloud needs
// because it has no file input for uptime checks, in step with
// uptime-healthz.json, the reviewed definition.
func TestApplyUptimeFlagsMatchFile(t *testing.T) {
	t.Parallel()
	r := runApply(t, "PROJECT=my-proj", "HOST=svc-abc-ew.a.run.app")
	if r.err != nil {
		t.Fatalf("apply.sh: %v\n%s", r.err, r.out)
	}
	c := r.call("monitoring uptime create")
	if c == nil {
		t.Fatalf("no uptime create in %q", r.commands())
	}
	flags := map[string]string{}
	for _, a := range c[4:] {
		k, v, _ := strings.Cut(a, "=")
		flags[k] = v
	}
	var up monitoringpb.UptimeCheckConfig
	parseFile(t, "uptime-healthz.json", &up)
	hc := up.GetHttpCheck()
	want := map[string]string{
		"--resource-type":   strings.ReplaceAll(up.GetMonitoredResource().GetType(), "_", "-"),
		"--resource-labels": "host=svc-abc-ew.a.run.app,project_id=my-proj",
		"--path":            hc.GetPath(),
		"--port":            itoa(int64(hc.GetPort())),
		"--protocol":        map[bool]string{true: "https", false: "http"}[hc.GetUseSsl()],
		"--validate-ssl":    map[bool]string{true: "true", false: "false"}[hc.GetValidateSsl()],
		"--request-method":  strings.ToLower(hc.GetRequestMethod().String()),
		"--status-classes":  strings.ToLower(strings.TrimPrefix(hc.GetAcceptedResponseStatusCodes()[0].GetStatusClass().String(), "STATUS_CLASS_")),
		"--period":          itoa(up.GetPeriod().GetSeconds() / 60),
		"--timeout":         itoa(up.GetTimeout().GetSeconds()),
	}
	for k, v := range want {
		if flags[k] != v {
			t.Errorf("%s = %q, file says %q", k, flags[k], v)
		}
	}
	if c[3] != "example-function /healthz" {
		t.Errorf("display name %q", c[3])
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestApplyExistingResources(t *testing.T) {
	t.Parallel()
	r := runApply(t, "PROJECT=my-proj", "HOST=h.a.run.app", "STUB_EXISTING=1", "NOTIFICATION_CHANNELS=projects/my-proj/notificationChannels/1")
	if r.err != nil {
		t.Fatalf("apply.sh: %v\n%s", r.err, r.out)
	}
	cmds := strings.Join(r.commands(), "\n")
	for _, must := range []string{"alpha monitoring policies update projects/stub-project/things/existing-1", "monitoring dashboards delete projects/stub-project/things/existing-1", "monitoring dashboards create"} {
		if !strings.Contains(cmds, must) {
			t.Errorf("no %q in:\n%s", must, cmds)
		}
	}
	for _, mustNot := range []string{"monitoring uptime create", "policies create"} {
		if strings.Contains(cmds, mustNot) {
			t.Errorf("re-apply ran %q:\n%s", mustNot, cmds)
		}
	}
	if c := r.call("monitoring dashboards delete"); !slices.Contains(c, "--quiet") {
		t.Errorf("dashboard delete would prompt: %q", c)
	}
}

func TestApplyLooksUpProjectAndHost(t *testing.T) {
	t.Parallel()
	r := runApply(t, "REGION=europe-west1", "NOTIFICATION_CHANNELS=projects/stub-project/notificationChannels/9")
	if r.err != nil {
		t.Fatalf("apply.sh: %v\n%s", r.err, r.out)
	}
	d := r.call("run services describe example-function")
	if d == nil || !slices.Contains(d, "--region=europe-west1") {
		t.Errorf("host lookup call = %q", d)
	}
	c := r.call("monitoring uptime create")
	if !slices.Contains(c, "--resource-labels=host=example-function-abc-ew.a.run.app,project_id=stub-project") {
		t.Errorf("uptime create = %q", c)
	}
	if p := r.call("alpha monitoring policies create"); !slices.Contains(p, "--notification-channels=projects/stub-project/notificationChannels/9") {
		t.Errorf("policy create = %q", p)
	}
}

func TestApplyRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, env := range [][]string{
		{"PROJECT=my-proj"}, // no HOST, no REGION
		{"PROJECT=my-proj", "HOST=evil\"host"},
		{"PROJECT=my-proj", "HOST=h", "SERVICE=a|b"},
	} {
		r := runApply(t, env...)
		if r.err == nil {
			t.Errorf("%v: apply.sh succeeded", env)
		}
		for _, c := range r.commands() {
			if strings.Contains(c, "create") || strings.Contains(c, "update") || strings.Contains(c, "delete") {
				t.Errorf("%v: changed something before refusing: %q", env, c)
			}
		}
	}
}
