package deploy

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// stubGcloud is a stand-in for gcloud that records every call (arguments
// separated by \x1f, one call per line) and keeps just enough state for the
// setup script's look-ups: "create" (and "run deploy", which creates the
// service) makes a resource exist, "describe" of an existing resource
// succeeds and prints its state file, anything else succeeds.
const stubGcloud = `#!/usr/bin/env bash
set -euo pipefail
(IFS=$'\x1f'; printf '%s\n' "$*") >>"$STUB_DIR/calls"
verb="" groups="" name="" flagname=""
for a in "$@"; do
  case "$a" in
    --name=*) flagname=${a#--name=} ;;
    -*) ;;
    *)
      if [[ -z "$verb" ]]; then
        case "$a" in
          describe|create|enable|add-iam-policy-binding|get-value|access) verb=$a ;;
          deploy) if [[ "$groups" == run ]]; then verb=create groups=run_services; else groups="$groups${groups:+_}$a"; fi ;;
          *) groups="$groups${groups:+_}$a" ;;
        esac
      elif [[ -z "$name" ]]; then
        name=$a
      fi ;;
  esac
done
[[ -n "$flagname" ]] && name=$flagname
name=${name//\//_}
key="$STUB_DIR/state/${groups}_${name%%@*}"
case "$groups/$verb/$name" in
  config/get-value/account) echo "${STUB_ACCOUNT-deployer@example.org}"; exit 0 ;;
esac
case "$groups/$verb" in
  config/get-value) echo "$STUB_PROJECT"; exit 0 ;;
  projects/describe) echo 123456789012; exit 0 ;;
  secrets_versions/access) echo stub-password; exit 0 ;;
esac
case "$verb" in
  describe) if [[ -f "$key" ]]; then cat "$key"; exit 0; fi; echo "NOT_FOUND: $key" >&2; exit 1 ;;
  create)
    mkdir -p "$STUB_DIR/state"; touch "$key"
    for a in "$@"; do
      [[ "$a" == --data-file=- ]] && cat >"$key.stdin"
      [[ "$a" == --flags-file=/dev/stdin ]] && cat >"$key.flags"
    done
    exit 0 ;;
esac
exit 0
`

type setupRun struct {
	dir   string     // stub state: calls log and state/
	calls [][]string // gcloud argv of the last run
	out   string
}

func newSetupRun(t *testing.T) *setupRun {
	t.Helper()
	requireTool(t, "bash", "the setup script is a bash script")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gcloud"), []byte(stubGcloud), 0o755); err != nil {
		t.Fatal(err)
	}
	return &setupRun{dir: dir}
}

// run executes deploy/setup.sh with the stub first on PATH and returns the
// gcloud calls it made.
func (r *setupRun) run(t *testing.T, args ...string) {
	t.Helper()
	r.runScript(t, filepath.Join(repoRoot(t), "deploy", "setup.sh"), nil, args...)
}

// runScript runs script (setup.sh or an edited copy) with env added to the
// defaults (later entries win).
func (r *setupRun) runScript(t *testing.T, script string, env []string, args ...string) {
	t.Helper()
	_ = os.Remove(filepath.Join(r.dir, "calls"))
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(),
		"PATH="+r.dir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"STUB_DIR="+r.dir, "STUB_PROJECT=from-gcloud-config",
		"PROJECT_ID=", "REGION=", "GITHUB=", "ALLOW_UNAUTHENTICATED=", "REQUIRE_APPROVAL=", "APPROVERS=", "SOURCE_BUCKET=")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	r.out = string(out)
	if err != nil {
		t.Fatalf("setup.sh %v: %v\n%s", args, err, out)
	}
	r.calls = nil
	log, err := os.ReadFile(filepath.Join(r.dir, "calls"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(log)) {
		r.calls = append(r.calls, strings.Split(strings.TrimSuffix(line, "\n"), "\x1f"))
	}
}

// find returns the calls that start with prefix and contain every one of args.
func (r *setupRun) find(prefix string, args ...string) [][]string {
	var found [][]string
	for _, c := range r.calls {
		if strings.HasPrefix(strings.Join(c, " "), prefix) && containsAll(c, args) {
			found = append(found, c)
		}
	}
	return found
}

func containsAll(call, args []string) bool {
	for _, a := range args {
		if !slices.Contains(call, a) {
			return false
		}
	}
	return true
}

func (r *setupRun) want(t *testing.T, prefix string, args ...string) {
	t.Helper()
	if len(r.find(prefix, args...)) == 0 {
		t.Errorf("no call %q with %q; calls:\n%s", prefix, args, r.dump())
	}
}

// changes are the calls that modify the project: everything but look-ups.
func (r *setupRun) changes() []string {
	var out []string
	for _, c := range r.calls {
		if slices.ContainsFunc(c, func(a string) bool {
			return a == "describe" || a == "get-value" || a == "list"
		}) {
			continue
		}
		out = append(out, strings.Join(c, " "))
	}
	return out
}

func (r *setupRun) dump() string {
	var b strings.Builder
	for _, c := range r.calls {
		b.WriteString("  gcloud " + strings.Join(c, " ") + "\n")
	}
	return b.String()
}

func TestSetupCreatesEverythingOnce(t *testing.T) {
	t.Parallel()
	r := newSetupRun(t)
	r.run(t, "--github=acme/shop")
	const p = "--project=from-gcloud-config"

	r.want(t, "config get-value project")
	r.want(t, "services enable", p, "run.googleapis.com", "sqladmin.googleapis.com",
		"artifactregistry.googleapis.com", "cloudbuild.googleapis.com", "secretmanager.googleapis.com",
		"telemetry.googleapis.com")
	r.want(t, "artifacts repositories create example-function", p, "--location=us-central1", "--repository-format=docker")
	r.want(t, "iam service-accounts create example-function-run", p)
	r.want(t, "iam service-accounts create example-function-build", p)
	r.want(t, "sql instances create example-function", p, "--region=us-central1", "--database-version=POSTGRES_17")
	r.want(t, "sql databases create app", "--instance=example-function")
	r.want(t, "secrets create example-function-db-password", "--data-file=-")
	r.want(t, "secrets create example-function-db-owner-password", "--data-file=-")
	// Both database users get their password from a flags file on stdin,
	// never on the command line.
	for _, user := range []string{"app", "app_owner"} {
		r.want(t, "sql users create "+user, "--instance=example-function", "--flags-file=/dev/stdin")
		flags, err := os.ReadFile(filepath.Join(r.dir, "state", "sql_users_"+user+".flags"))
		if err != nil || string(flags) != "--password: 'stub-password'\n" {
			t.Errorf("sql users create %s: flags file %q (%v), want the password from its secret", user, flags, err)
		}
	}
	for _, c := range r.calls {
		if slices.ContainsFunc(c, func(a string) bool { return strings.HasPrefix(a, "--password") || strings.Contains(a, "stub-password") }) {
			t.Errorf("a password is on the command line: %q", c)
		}
	}

	run := "serviceAccount:example-function-run@from-gcloud-config.iam.gserviceaccount.com"
	build := "serviceAccount:example-function-build@from-gcloud-config.iam.gserviceaccount.com"
	// Each runtime role is one the permission table needs
	// (deploy/permissions/calls.json; TestPermissionModel proves it).
	for _, role := range []string{"roles/cloudsql.client", "roles/logging.logWriter",
		"roles/telemetry.metricsWriter", "roles/telemetry.tracesWriter"} {
		r.want(t, "projects add-iam-policy-binding from-gcloud-config", "--member="+run, "--role="+role)
	}
	r.want(t, "secrets add-iam-policy-binding example-function-db-password", "--member="+run, "--role=roles/secretmanager.secretAccessor")
	r.want(t, "projects add-iam-policy-binding from-gcloud-config", "--member="+build, "--role=roles/logging.logWriter")
	// The service and the job exist before any build, so the build account
	// holds Cloud Run roles on those two only, never on the project.
	r.want(t, "run deploy example-function", p, "--region=us-central1",
		"--image=us-docker.pkg.dev/cloudrun/container/placeholder", "--no-allow-unauthenticated",
		"--service-account=example-function-run@from-gcloud-config.iam.gserviceaccount.com")
	r.want(t, "run jobs create example-function-migrate", p, "--region=us-central1",
		"--image=us-docker.pkg.dev/cloudrun/container/hello-job",
		"--service-account=example-function-migrate@from-gcloud-config.iam.gserviceaccount.com")
	r.want(t, "run services add-iam-policy-binding example-function", "--region=us-central1", "--member="+build, "--role=roles/run.developer")
	r.want(t, "run jobs add-iam-policy-binding example-function-migrate", "--region=us-central1", "--member="+build, "--role=roles/run.developer")
	for _, c := range r.find("projects add-iam-policy-binding", "--member="+build) {
		if slices.ContainsFunc(c, func(a string) bool { return strings.HasPrefix(a, "--role=roles/run.") }) {
			t.Errorf("the build account gets a Cloud Run role on the whole project: %q", c)
		}
	}
	// Manual submits stage their source in a bucket the build account may read.
	r.want(t, "storage buckets create gs://from-gcloud-config-build-source", p, "--location=us-central1",
		"--uniform-bucket-level-access", "--public-access-prevention")
	r.want(t, "storage buckets add-iam-policy-binding gs://from-gcloud-config-build-source", "--member="+build, "--role=roles/storage.objectViewer")
	r.want(t, "artifacts repositories add-iam-policy-binding example-function", "--member="+build, "--role=roles/artifactregistry.writer")
	r.want(t, "iam service-accounts add-iam-policy-binding example-function-run@from-gcloud-config.iam.gserviceaccount.com",
		"--member="+build, "--role=roles/iam.serviceAccountUser")
	// The migration job's account: Cloud SQL and the owner's password only.
	migrate := "serviceAccount:example-function-migrate@from-gcloud-config.iam.gserviceaccount.com"
	r.want(t, "iam service-accounts create example-function-migrate", p)
	r.want(t, "projects add-iam-policy-binding from-gcloud-config", "--member="+migrate, "--role=roles/cloudsql.client")
	r.want(t, "secrets add-iam-policy-binding example-function-db-owner-password", "--member="+migrate, "--role=roles/secretmanager.secretAccessor")
	r.want(t, "iam service-accounts add-iam-policy-binding example-function-migrate@from-gcloud-config.iam.gserviceaccount.com",
		"--member="+build, "--role=roles/iam.serviceAccountUser")
	// The smoke test's ID token: the build account mints it for itself.
	r.want(t, "iam service-accounts add-iam-policy-binding example-function-build@from-gcloud-config.iam.gserviceaccount.com",
		"--member="+build, "--role=roles/iam.serviceAccountOpenIdTokenCreator")
	// The build never reaches the database: no Cloud SQL role, no password.
	for _, c := range r.find("", "--member="+build) {
		if slices.Contains(c, "--role=roles/cloudsql.client") || slices.Contains(c, "--role=roles/secretmanager.secretAccessor") {
			t.Errorf("the build account gets database access: %q", c)
		}
	}
	if len(r.find("secrets add-iam-policy-binding example-function-db-owner-password", "--member="+run)) != 0 {
		t.Error("the runtime account may read the owner's password")
	}
	// Least privilege: neither account is an owner or editor of the project.
	for _, c := range r.find("projects add-iam-policy-binding") {
		if slices.Contains(c, "--role=roles/owner") || slices.Contains(c, "--role=roles/editor") {
			t.Errorf("broad role granted: %q", c)
		}
	}
	// The password went to Secret Manager on stdin, never as an argument.
	secret, err := os.ReadFile(filepath.Join(r.dir, "state", "secrets_example-function-db-password.stdin"))
	if err != nil || len(strings.TrimSpace(string(secret))) < 32 {
		t.Errorf("secret created without a random password on stdin (%q, %v)", secret, err)
	}
	for _, c := range r.calls {
		if strings.Contains(strings.Join(c, " "), strings.TrimSpace(string(secret))) {
			t.Errorf("the generated password appears in argv: %q", c)
		}
	}

	// GitHub is not authorized yet: the connection is created, the trigger waits.
	r.want(t, "builds connections create github github", "--region=us-central1")
	if len(r.find("builds triggers create")) != 0 {
		t.Error("trigger created before the GitHub connection was authorized")
	}
	if !strings.Contains(r.out, "not authorized yet") {
		t.Errorf("no hint to authorize the GitHub connection:\n%s", r.out)
	}

	// After authorizing in the browser, a re-run creates only what is missing.
	r.authorizeGitHub(t)
	r.run(t, "--github=acme/shop")
	var creates []string
	for _, c := range r.changes() {
		if strings.Contains(c, " create ") || strings.HasSuffix(c, " create") {
			creates = append(creates, c)
		}
	}
	if len(creates) != 2 {
		t.Errorf("second run: want only the repository and trigger created, got:\n%s", strings.Join(creates, "\n"))
	}
	r.want(t, "builds repositories create shop", "--connection=github", "--remote-uri=https://github.com/acme/shop.git")
	r.want(t, "builds triggers create github", "--name=example-function-release",
		"--repository=projects/from-gcloud-config/locations/us-central1/connections/github/repositories/shop",
		"--tag-pattern=^v.*$", "--build-config=cloudbuild.yaml", "--require-approval",
		"--service-account=projects/from-gcloud-config/serviceAccounts/example-function-build@from-gcloud-config.iam.gserviceaccount.com")
	// The approval gate: on by default, and the deployer may approve.
	r.want(t, "projects add-iam-policy-binding from-gcloud-config", "--member=user:deployer@example.org", "--role=roles/cloudbuild.builds.approver")

	// A third run creates nothing (bindings and API enables are idempotent calls).
	r.run(t, "--github=acme/shop")
	for _, c := range r.changes() {
		if strings.Contains(c, " create") {
			t.Errorf("third run created something: %s", c)
		}
	}
}

func TestSetupDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	r := newSetupRun(t)
	r.run(t, "--dry-run", "--project=demo", "--region=europe-west1", "--github=acme/shop")
	if ch := r.changes(); len(ch) != 0 {
		t.Errorf("--dry-run called gcloud to change things:\n%s", strings.Join(ch, "\n"))
	}
	if len(r.find("secrets versions access")) != 0 {
		t.Error("--dry-run read the database password")
	}
	if _, err := os.Stat(filepath.Join(r.dir, "state")); !os.IsNotExist(err) {
		t.Errorf("--dry-run created resources in the stub (state dir: %v)", err)
	}
	if len(r.calls) == 0 {
		t.Fatal("--dry-run made no look-ups at all")
	}
	for _, want := range []string{
		"would run: gcloud services enable --project=demo",
		"would run: gcloud artifacts repositories create example-function --project=demo --location=europe-west1",
		"would run: gcloud sql instances create example-function --project=demo --region=europe-west1",
		"would create secret example-function-db-password",
		"dry run: nothing was changed",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, r.out)
		}
	}
}

func TestSetupRejectsBadArguments(t *testing.T) {
	t.Parallel()
	r := newSetupRun(t)
	for _, tt := range []struct {
		args, env []string
	}{
		{args: []string{"--bogus"}},
		{args: []string{"--github=noslash", "--project=x"}},
		{args: []string{"--project=x"}, env: []string{"ALLOW_UNAUTHENTICATED=yes"}},
		{args: []string{"--project=x"}, env: []string{"REQUIRE_APPROVAL=0"}},
		{args: []string{"--project=x", "--github=acme/shop"}, env: []string{"APPROVERS=alice@example.org"}},
	} {
		cmd := exec.Command("bash", append([]string{filepath.Join(repoRoot(t), "deploy", "setup.sh")}, tt.args...)...)
		cmd.Env = append(os.Environ(), "PATH="+r.dir+string(os.PathListSeparator)+os.Getenv("PATH"), "STUB_DIR="+r.dir, "STUB_PROJECT=p")
		cmd.Env = append(cmd.Env, tt.env...)
		_ = os.Remove(filepath.Join(r.dir, "calls"))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("setup.sh %v %v: want exit 2, got %v\n%s", tt.env, tt.args, err, out)
		}
		if calls, _ := os.ReadFile(filepath.Join(r.dir, "calls")); len(calls) != 0 {
			t.Errorf("setup.sh %v %v called gcloud before refusing:\n%s", tt.env, tt.args, calls)
		}
	}
}

// authorizeGitHub marks the stub's GitHub connection as authorized, as the
// browser step does, so the next run creates the repository and trigger.
func (r *setupRun) authorizeGitHub(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(r.dir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "state", "builds_connections_github"), []byte("COMPLETE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A public service: the build account gets Cloud Run Admin on the service
// (the allUsers binding needs setIamPolicy), still not on the project, and
// the trigger says so; a one-person project turns the approval gate off; the
// approvers are who APPROVERS names.
func TestSetupPublicWithoutApproval(t *testing.T) {
	t.Parallel()
	r := newSetupRun(t)
	env := []string{"ALLOW_UNAUTHENTICATED=true", "REQUIRE_APPROVAL=false", "APPROVERS=group:releasers@example.org,user:bo@example.org"}
	script := filepath.Join(repoRoot(t), "deploy", "setup.sh")
	r.runScript(t, script, env, "--github=acme/shop")
	r.authorizeGitHub(t)
	r.runScript(t, script, env, "--github=acme/shop")
	build := "serviceAccount:example-function-build@from-gcloud-config.iam.gserviceaccount.com"
	r.want(t, "run services add-iam-policy-binding example-function", "--member="+build, "--role=roles/run.admin")
	if len(r.find("run services add-iam-policy-binding example-function", "--member="+build, "--role=roles/run.developer")) != 0 {
		t.Error("a public service's build account gets Cloud Run Developer as well as Admin")
	}
	r.want(t, "run jobs add-iam-policy-binding example-function-migrate", "--member="+build, "--role=roles/run.developer")
	trigger := r.find("builds triggers create github", "--no-require-approval")
	if len(trigger) != 1 {
		t.Fatalf("want one trigger created with --no-require-approval:\n%s", r.dump())
	}
	if subs, _ := flagValue(trigger[0], "--substitutions"); !strings.Contains(subs, "_ALLOW_UNAUTHENTICATED=true") {
		t.Errorf("trigger substitutions %q lack _ALLOW_UNAUTHENTICATED=true", subs)
	}
	for _, m := range []string{"group:releasers@example.org", "user:bo@example.org"} {
		r.want(t, "projects add-iam-policy-binding from-gcloud-config", "--member="+m, "--role=roles/cloudbuild.builds.approver")
	}
	if len(r.find("", "--member=user:deployer@example.org")) != 0 {
		t.Error("the gcloud account became an approver although APPROVERS names others")
	}

	// An existing trigger keeps its approval setting; setup.sh says how to change it.
	r.runScript(t, script, []string{"REQUIRE_APPROVAL=true"}, "--github=acme/shop")
	if len(r.find("builds triggers create")) != 0 || !strings.Contains(r.out, "gcloud builds triggers export example-function-release") {
		t.Errorf("re-run with REQUIRE_APPROVAL=true on a trigger without approval: want the export/import hint, no new trigger:\n%s", r.out)
	}
}

func flagValue(call []string, name string) (string, bool) {
	for _, a := range call {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestManualSubmitIsOneCommand: cloudbuild.yaml's header, docs/deploy.md's
// Manual submit and setup.sh's closing lines give the same command (the
// rehearsal runs the first two as builds), up to how the project id is set.
func TestManualSubmitIsOneCommand(t *testing.T) {
	t.Parallel()
	r := newSetupRun(t)
	r.run(t)
	_, printed, ok := strings.Cut(r.out, "docs/deploy.md#manual-submit):\n\n")
	if !ok {
		t.Fatalf("setup.sh prints no manual-submit command:\n%s", r.out)
	}
	var docs []string
	for _, b := range markedBlocks(t, readRepoFile(t, "docs/deploy.md")) {
		if strings.Contains(b, "gcloud builds submit") {
			docs = append(docs, b)
		}
	}
	if len(docs) != 1 {
		t.Fatalf("docs/deploy.md has %d rehearsed blocks with gcloud builds submit, want 1", len(docs))
	}
	norm := func(cmd string) string {
		cmd = continued.ReplaceAllString(strings.TrimSpace(cmd), "")
		return strings.ReplaceAll(cmd, "PROJECT_ID=$(gcloud config get-value project)", "PROJECT_ID=from-gcloud-config")
	}
	want := norm(printed)
	if !strings.Contains(want, "--service-account=") || !strings.Contains(want, "--gcs-source-staging-dir=") {
		t.Errorf("setup.sh's command lacks --service-account or --gcs-source-staging-dir:\n%s", want)
	}
	for name, got := range map[string]string{"cloudbuild.yaml header": norm(headerCommand(t)), "docs/deploy.md": norm(docs[0])} {
		if got != want {
			t.Errorf("%s's manual submit differs from setup.sh's:\n got %s\nwant %s", name, got, want)
		}
	}
}
