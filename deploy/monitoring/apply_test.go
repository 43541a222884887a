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
// one existing resource when STUB_EXISTING is set: an uptime check on
// STUB_UPTIME_HOST (default: HOST), policies with the notification channels
// STUB_CHANNELS.
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
  "projects describe"*) echo 424242424242 ;;
  "monitoring policies describe"*) echo "${STUB_CHANNELS:-}" ;;
  *" list-configs "*) if [ -n "${STUB_EXISTING:-}" ]; then printf '%s\t%s\n' "projects/stub-project/uptimeCheckConfigs/existing-1" "${STUB_UPTIME_HOST:-${HOST:-example-function-abc-ew.a.run.app}}"; fi ;;
  *" list "*) if [ -n "${STUB_EXISTING:-}" ]; then echo "projects/stub-project/things/existing-1"; fi ;;
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
	r := runApply(t, "PROJECT=my-proj", "HOST=svc-abc-ew.a.run.app", "REGION=europe-west1")
	if r.err != nil {
		t.Fatalf("apply.sh: %v\n%s", r.err, r.out)
	}
	alerts, _ := filepath.Glob("alerts/*.json")
	want := []string{"monitoring uptime list-configs", "monitoring uptime create example-function /healthz",
		"projects describe my-proj", "run services add-iam-policy-binding example-function"}
	for range alerts {
		want = append(want, "monitoring policies list", "monitoring policies create")
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
// uptime-healthz.json, the reviewed definition: on create, and on the update
// in place of an existing check (which takes no monitored resource and names
// the status classes --set-status-classes).
func TestApplyUptimeFlagsMatchFile(t *testing.T) {
	t.Parallel()
	var up monitoringpb.UptimeCheckConfig
	parseFile(t, "uptime-healthz.json", &up)
	hc := up.GetHttpCheck()
	statusClass := strings.ToLower(strings.TrimPrefix(hc.GetAcceptedResponseStatusCodes()[0].GetStatusClass().String(), "STATUS_CLASS_"))
	common := map[string]string{
		"--path":               hc.GetPath(),
		"--port":               itoa(int64(hc.GetPort())),
		"--validate-ssl":       map[bool]string{true: "true", false: "false"}[hc.GetValidateSsl()],
		"--request-method":     strings.ToLower(hc.GetRequestMethod().String()),
		"--period":             itoa(up.GetPeriod().GetSeconds() / 60),
		"--timeout":            itoa(up.GetTimeout().GetSeconds()),
		"--service-agent-auth": strings.ReplaceAll(strings.ToLower(hc.GetServiceAgentAuthentication().GetType().String()), "_", "-"),
	}
	create := map[string]string{
		"--resource-type":   strings.ReplaceAll(up.GetMonitoredResource().GetType(), "_", "-"),
		"--resource-labels": "host=svc-abc-ew.a.run.app,project_id=my-proj",
		"--protocol":        map[bool]string{true: "https", false: "http"}[hc.GetUseSsl()],
		"--status-classes":  statusClass,
	}
	update := map[string]string{"--set-status-classes": statusClass}
	for k, v := range common {
		create[k], update[k] = v, v
	}
	for _, tt := range []struct {
		name, command, positional string
		env                       []string
		want                      map[string]string
	}{
		{"create", "monitoring uptime create", "example-function /healthz", nil, create},
		{"update in place", "monitoring uptime update", "existing-1", []string{"STUB_EXISTING=1"}, update},
	} {
		r := runApply(t, append([]string{"PROJECT=my-proj", "HOST=svc-abc-ew.a.run.app", "REGION=europe-west1"}, tt.env...)...)
		if r.err != nil {
			t.Fatalf("%s: apply.sh: %v\n%s", tt.name, r.err, r.out)
		}
		c := r.call(tt.command)
		if c == nil {
			t.Fatalf("%s: no %s in %q", tt.name, tt.command, r.commands())
		}
		flags := map[string]string{}
		for _, a := range c[4:] {
			k, v, _ := strings.Cut(a, "=")
			flags[k] = v
		}
		delete(flags, "--project")
		if len(flags) != len(tt.want) {
			t.Errorf("%s: flags %v, want exactly %v", tt.name, flags, tt.want)
		}
		for k, v := range tt.want {
			if flags[k] != v {
				t.Errorf("%s: %s = %q, file says %q", tt.name, k, flags[k], v)
			}
		}
		if c[3] != tt.positional {
			t.Errorf("%s: %q, want %q", tt.name, c[3], tt.positional)
		}
	}
	if common["--service-agent-auth"] != "oidc-token" {
		t.Errorf("uptime-healthz.json: serviceAgentAuthentication %q; the service is private, the check needs OIDC_TOKEN",
			hc.GetServiceAgentAuthentication().GetType())
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestApplyExistingResources(t *testing.T) {
	t.Parallel()
	r := runApply(t, "PROJECT=my-proj", "HOST=h.a.run.app", "REGION=europe-west1", "STUB_EXISTING=1",
		"STUB_CHANNELS=projects/my-proj/notificationChannels/7,projects/my-proj/notificationChannels/1",
		"NOTIFICATION_CHANNELS=projects/my-proj/notificationChannels/1,projects/my-proj/notificationChannels/2")
	if r.err != nil {
		t.Fatalf("apply.sh: %v\n%s", r.err, r.out)
	}
	cmds := strings.Join(r.commands(), "\n")
	for _, must := range []string{"monitoring uptime update existing-1", "monitoring policies update projects/stub-project/things/existing-1",
		"monitoring dashboards delete projects/stub-project/things/existing-1", "monitoring dashboards create"} {
		if !strings.Contains(cmds, must) {
			t.Errorf("no %q in:\n%s", must, cmds)
		}
	}
	for _, mustNot := range []string{"monitoring uptime create", "monitoring uptime delete", "policies create"} {
		if strings.Contains(cmds, mustNot) {
			t.Errorf("re-apply ran %q:\n%s", mustNot, cmds)
		}
	}
	if c := r.call("monitoring dashboards delete"); !slices.Contains(c, "--quiet") {
		t.Errorf("dashboard delete would prompt: %q", c)
	}
	// --policy-from-file replaces the policy: its channels are set again,
	// with NOTIFICATION_CHANNELS added, each once.
	want := "--set-notification-channels=projects/my-proj/notificationChannels/1,projects/my-proj/notificationChannels/2,projects/my-proj/notificationChannels/7"
	updates := 0
	for _, c := range r.calls {
		if strings.HasPrefix(strings.Join(c, " "), "monitoring policies update") {
			updates++
			if !slices.Contains(c, want) {
				t.Errorf("policy update %q does not keep the channels (%s)", c, want)
			}
		}
	}
	if updates == 0 {
		t.Error("no policy updated")
	}
}

// An existing check on another host (the service's URL changed) cannot be
// moved by update, which takes no monitored resource: it is replaced.
func TestApplyReplacesUptimeCheckOnAnotherHost(t *testing.T) {
	t.Parallel()
	r := runApply(t, "PROJECT=my-proj", "HOST=new-abc-ew.a.run.app", "REGION=europe-west1", "STUB_EXISTING=1", "STUB_UPTIME_HOST=old-abc-ew.a.run.app")
	if r.err != nil {
		t.Fatalf("apply.sh: %v\n%s", r.err, r.out)
	}
	del, create := r.call("monitoring uptime delete existing-1"), r.call("monitoring uptime create")
	if del == nil || !slices.Contains(del, "--quiet") || create == nil {
		t.Fatalf("want the old check deleted (--quiet) and a new one created:\n%s", strings.Join(r.commands(), "\n"))
	}
	if !slices.Contains(create, "--resource-labels=host=new-abc-ew.a.run.app,project_id=my-proj") {
		t.Errorf("uptime create = %q", create)
	}
	if r.call("monitoring uptime update") != nil {
		t.Error("the check on the old host was updated instead of replaced")
	}
}

// The Monitoring service agent, named by the project number, may invoke
// this service: roles/run.invoker on the service, not on the project.
func TestApplyGrantsTheUptimeAgent(t *testing.T) {
	t.Parallel()
	r := runApply(t, "PROJECT=my-proj", "HOST=h.a.run.app", "REGION=europe-west1")
	if r.err != nil {
		t.Fatalf("apply.sh: %v\n%s", r.err, r.out)
	}
	c := r.call("run services add-iam-policy-binding example-function")
	for _, want := range []string{"--region=europe-west1", "--role=roles/run.invoker", "--quiet",
		"--member=serviceAccount:service-424242424242@gcp-sa-monitoring-notification.iam.gserviceaccount.com"} {
		if !slices.Contains(c, want) {
			t.Errorf("invoker grant %q lacks %s", c, want)
		}
	}
	if r.call("projects add-iam-policy-binding") != nil {
		t.Error("apply.sh grants on the project")
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
	if p := r.call("monitoring policies create"); !slices.Contains(p, "--notification-channels=projects/stub-project/notificationChannels/9") {
		t.Errorf("policy create = %q", p)
	}
}

func TestApplyRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, env := range [][]string{
		{"PROJECT=my-proj"},           // no HOST, no REGION
		{"PROJECT=my-proj", "HOST=h"}, // no REGION for the invoker grant
		{"PROJECT=my-proj", "REGION=europe-west1", "HOST=evil\"host"},
		{"PROJECT=my-proj", "REGION=europe-west1", "HOST=h", "SERVICE=a|b"},
		{"PROJECT=my-proj", "REGION=eu rope", "HOST=h"},
		{"PROJECT=my-proj", "REGION=europe-west1", "HOST=h", "NOTIFICATION_CHANNELS=a\"b"},
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
