package deploy

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
)

// The rehearsal runs cloudbuild.yaml's steps in order, as Cloud Build would
// (scripts under bash with the substitutions as environment variables,
// options.automapSubstitutions), with docker, apt-get, go and sleep
// recorded, gcloud recorded and refusing any flag its reference does not
// list (testdata/gcloud-flags.json), `server migrate` run for real against a
// local PostgreSQL, and the smoke test's curl hitting a real server.

const (
	rehearsalTag    = "v1.2.3"
	rehearsalCommit = "0123456789abcdef0123456789abcdef01234567"
	rehearsalBuild  = "8f3c2a1e-5b6d-4c7e-9f80-112233445566"
	rehearsalSA     = "example-function-build@my-project.iam.gserviceaccount.com"
	serviceURL      = "https://example-function-abc123-uc.a.run.app"
)

// builtinsTrigger are the substitutions a tag trigger sets; a manual submit
// sets only the first four unless --substitutions gives the rest
// (https://docs.cloud.google.com/build/docs/configuring-builds/substitute-variable-values).
func builtinsTrigger() map[string]string {
	return map[string]string{
		"PROJECT_ID": "my-project", "BUILD_ID": rehearsalBuild, "PROJECT_NUMBER": "123456789012", "LOCATION": "us-central1",
		"TRIGGER_NAME": "example-function-release", "COMMIT_SHA": rehearsalCommit, "REVISION_ID": rehearsalCommit,
		"SHORT_SHA": rehearsalCommit[:7], "REPO_NAME": "shop", "REPO_FULL_NAME": "acme/shop", "BRANCH_NAME": "",
		"TAG_NAME": rehearsalTag, "REF_NAME": rehearsalTag, "TRIGGER_BUILD_CONFIG_PATH": "cloudbuild.yaml",
		"SERVICE_ACCOUNT_EMAIL": rehearsalSA, "SERVICE_ACCOUNT": "projects/my-project/serviceAccounts/" + rehearsalSA,
	}
}

func builtinsManual() map[string]string {
	m := map[string]string{}
	for k, v := range builtinsTrigger() {
		switch k {
		case "PROJECT_ID", "BUILD_ID", "PROJECT_NUMBER", "LOCATION", "SERVICE_ACCOUNT_EMAIL", "SERVICE_ACCOUNT":
			m[k] = v
		default:
			m[k] = "" // "replaced with an empty string" when not given
		}
	}
	return m
}

// rehearsal is the machinery shared by the scenarios: one server binary,
// one database with its two roles, one candidate server on it.
type rehearsal struct {
	root, flags, stubs, testBin, serverBin string
	roles                                  pgtest.Roles
	candidate                              *proctest.Proc
}

func newRehearsal(t *testing.T) *rehearsal {
	t.Helper()
	r := newStubRehearsal(t)
	r.serverBin = proctest.Build(t, "./cmd/server",
		buildinfo.LinkFlag("Version", rehearsalTag), buildinfo.LinkFlag("Commit", rehearsalCommit))
	r.roles = pgtest.NewRoles(t)
	// The candidate revision: the release's binary as the app role, not
	// migrating (DB_MIGRATE=false, as the deploy step sets it).
	r.candidate = proctest.Start(t, r.serverBin, "DATABASE_URL="+r.roles.AppURL, "DB_MIGRATE=false", "LOG_FORMAT=text")
	r.candidate.WaitHTTP(t, "/healthz", 200, 15*time.Second)
	return r
}

// newStubRehearsal has the stand-ins only, no server or database: enough
// for scenarios that stop before the migrate step.
func newStubRehearsal(t *testing.T) *rehearsal {
	t.Helper()
	requireTool(t, "bash", "the pipeline's scripts are bash")
	requireTool(t, "python3", "the smoke step parses JSON with python3, as in cloud-sdk:slim")
	curl := requireTool(t, "curl", "the smoke step's HTTP client")
	r := &rehearsal{root: repoRoot(t), stubs: t.TempDir()}
	r.flags = filepath.Join(r.root, "deploy", "testdata", "gcloud-flags.json")
	var err error
	if r.testBin, err = os.Executable(); err != nil {
		t.Fatal(err)
	}
	// gcloud needs logic (flag lists, state, the job): it is this binary. The
	// others only record their arguments (one line, \x1f between fields).
	stubs := map[string]string{
		"gcloud": fmt.Sprintf("#!/bin/sh\nREHEARSAL_STUB=gcloud exec %q \"$@\"\n", r.testBin),
		"curl":   fmt.Sprintf("#!/bin/sh\n%s\nexec %q \"$@\"\n", recordLine("curl"), curl),
		"sleep":  "#!/bin/sh\n" + recordLine("sleep") + "\n",
		"git": "#!/bin/sh\n" + recordLine("git") + "\ncase \"$*\" in\n" +
			"  *describe*) echo \"$REHEARSAL_TAG\" ;;\n  *rev-parse*) echo \"$REHEARSAL_COMMIT\" ;;\nesac\n",
	}
	for _, tool := range []string{"docker", "apt-get", "go", "make"} {
		stubs[tool] = "#!/bin/sh\n" + recordLine(tool) + "\n"
	}
	for tool, script := range stubs {
		if err := os.WriteFile(filepath.Join(r.stubs, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// scenario is one run of the pipeline.
type scenario struct {
	builtins      map[string]string
	subs          map[string]string // user substitutions (trigger or --substitutions)
	serviceExists bool
	servicePublic bool   // allUsers already holds roles/run.invoker
	candidateURL  string // default: the real candidate server
	until         string // the last step to run; "" means all
}

type result struct {
	calls  []call
	failed string // id of the step that failed, "" when all passed
	output string
}

// run executes the pipeline's steps in order until one fails.
func (r *rehearsal) run(t *testing.T, sc scenario) result {
	t.Helper()
	b, _ := loadBuild(t)
	dir := t.TempDir()
	cfg := stubConfig{
		ServiceExists: sc.serviceExists, ServicePublic: sc.servicePublic, ServiceURL: serviceURL, CandidateURL: sc.candidateURL,
		ServerBin: r.serverBin, OwnerURL: r.roles.OwnerURL, Tag: rehearsalTag, Commit: rehearsalCommit, FlagsFile: r.flags,
	}
	if cfg.CandidateURL == "" && r.candidate != nil {
		cfg.CandidateURL = r.candidate.URL("")
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		t.Fatal(err)
	}
	subs := map[string]string{}
	for k, v := range b.GetSubstitutions() {
		subs[k] = v
	}
	for k, v := range sc.subs {
		subs[k] = v
	}
	for k, v := range sc.builtins {
		subs[k] = v
	}
	workspace := t.TempDir()
	var res result
	var out strings.Builder
	for _, s := range b.GetSteps() {
		file := filepath.Join(dir, s.GetId()+".sh")
		if err := os.WriteFile(file, []byte(s.GetScript()), 0o700); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", file)
		cmd.Dir = workspace
		cmd.Env = []string{
			"PATH=" + r.stubs + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
			"REHEARSAL_DIR=" + dir, "REHEARSAL_STEP=" + s.GetId(),
			"REHEARSAL_TAG=" + rehearsalTag, "REHEARSAL_COMMIT=" + rehearsalCommit,
		}
		for k, v := range subs {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Env = append(cmd.Env, s.GetEnv()...)
		stepOut, err := cmd.CombinedOutput()
		cancel()
		fmt.Fprintf(&out, "--- step %s\n%s", s.GetId(), stepOut)
		if err != nil {
			res.failed = s.GetId()
			break
		}
		if s.GetId() == sc.until {
			break
		}
	}
	res.output = out.String()
	res.calls = readCalls(t, dir)
	return res
}

// gcloud returns the recorded gcloud calls whose words start with command.
func (res result) gcloud(command string) []call {
	var found []call
	for _, c := range res.calls {
		if c.Tool == "gcloud" && strings.HasPrefix(strings.Join(c.Args, " "), command+" ") {
			found = append(found, c)
		}
	}
	return found
}

func (res result) index(tool, prefix string) int {
	return slices.IndexFunc(res.calls, func(c call) bool {
		return c.Tool == tool && strings.HasPrefix(strings.Join(c.Args, " "), prefix)
	})
}

func flag(c call, name string) (string, bool) {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name {
			return "", true
		}
	}
	return "", false
}

func one(t *testing.T, res result, command string) call {
	t.Helper()
	calls := res.gcloud(command)
	if len(calls) != 1 {
		t.Fatalf("want one `gcloud %s`, got %d\n%s", command, len(calls), res.output)
	}
	return calls[0]
}

// TestRehearseTagRelease is the tag trigger's build on an existing service
// with private IP over Direct VPC egress: every step passes, and each bar
// below names a property a reviewer can check in the recorded calls.
func TestRehearseTagRelease(t *testing.T) {
	t.Parallel()
	r := newRehearsal(t)
	// Before the job has run, the candidate is not ready: readiness is the
	// schema, not the process.
	res, err := http.Get(r.candidate.URL("/readyz"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("candidate /readyz before the migration job: %d, want 503", res.StatusCode)
	}

	run := r.run(t, scenario{builtins: builtinsTrigger(), serviceExists: true, subs: map[string]string{
		"_DB_USER": r.roles.App, "_DB_OWNER": r.roles.Owner,
		"_NETWORK": "vpc-net", "_SUBNET": "subnet-a", "_DB_IP_TYPE": "private",
	}})
	if run.failed != "" {
		t.Fatalf("step %s failed:\n%s", run.failed, run.output)
	}
	job, deploy := one(t, run, "run jobs deploy"), one(t, run, "run deploy")
	revision := "example-function-" + rehearsalCommit[:7] + "-" + rehearsalBuild[:8]
	tag := "build-" + rehearsalBuild[:8]
	image := "us-central1-docker.pkg.dev/my-project/example-function/example-function:" + rehearsalCommit

	t.Run("bar: migrations are a Cloud Run job of the release image, before the deploy", func(t *testing.T) {
		if got, _ := flag(job, "--image"); got != image {
			t.Errorf("job image %q, want %q", got, image)
		}
		if v, _ := flag(deploy, "--image"); v != image {
			t.Errorf("service image %q, want the job's %q", v, image)
		}
		for _, f := range []string{"--execute-now", "--wait"} {
			if _, ok := flag(job, f); !ok {
				t.Errorf("job deploy lacks %s: the step would not wait for (and fail with) the execution", f)
			}
		}
		if args, _ := flag(job, "--args"); args != "migrate" {
			t.Errorf("job --args=%q, want migrate (server migrate)", args)
		}
		if run.index("gcloud", "run jobs deploy") > run.index("gcloud", "run deploy") {
			t.Error("the job runs after the service deploy")
		}
		env, _ := flag(job, "--set-env-vars")
		if !strings.Contains(env, "DB_USER="+r.roles.Owner) || !strings.Contains(env, "DB_APP_ROLE="+r.roles.App) {
			t.Errorf("job env %q: want the owner as DB_USER and the app role as DB_APP_ROLE", env)
		}
		if secrets, _ := flag(job, "--set-secrets"); secrets != "DB_PASSWORD=example-function-db-owner-password:latest" {
			t.Errorf("job --set-secrets=%q, want the owner's password", secrets)
		}
		// The job really migrated the database, as the owner, for the app role.
		conn, err := pgx.Connect(context.Background(), r.roles.AppURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if v, err := database.SchemaVersion(context.Background(), conn); err != nil || v != database.LatestVersion() {
			t.Errorf("schema version after the job: %d, %v; want %d", v, err, database.LatestVersion())
		}
		for _, c := range run.calls {
			if c.Tool == "go" && slices.Contains(c.Args, "run") {
				t.Errorf("a step runs `go %s`: migrations belong to the job", strings.Join(c.Args, " "))
			}
		}
	})
	t.Run("bar: production runs migrations only in the job", func(t *testing.T) {
		env, _ := flag(deploy, "--set-env-vars")
		if !strings.Contains(env, ";DB_MIGRATE=false;") || !strings.Contains(env, "DB_USER="+r.roles.App+";") {
			t.Errorf("service env %q: want DB_MIGRATE=false and the app role as DB_USER", env)
		}
	})
	t.Run("bar: network substitutions on both the job and the service", func(t *testing.T) {
		for _, c := range []call{job, deploy} {
			for f, want := range map[string]string{"--network": "vpc-net", "--subnet": "subnet-a", "--vpc-egress": "private-ranges-only"} {
				if got, _ := flag(c, f); got != want {
					t.Errorf("gcloud %s: %s=%q, want %q", strings.Join(c.Args[:2], " "), f, got, want)
				}
			}
			if env, _ := flag(c, "--set-env-vars"); !strings.Contains(env, "DB_IP_TYPE=private") {
				t.Errorf("gcloud %s: env %q lacks DB_IP_TYPE=private", strings.Join(c.Args[:2], " "), env)
			}
		}
	})
	t.Run("bar: the candidate is a named revision with its own tag, without traffic", func(t *testing.T) {
		if v, _ := flag(deploy, "--revision-suffix"); "example-function-"+v != revision {
			t.Errorf("--revision-suffix=%q, want the revision %s", v, revision)
		}
		if v, _ := flag(deploy, "--tag"); v != tag {
			t.Errorf("--tag=%q, want %s", v, tag)
		}
		if _, ok := flag(deploy, "--no-traffic"); !ok {
			t.Error("the candidate is deployed with traffic")
		}
	})
	t.Run("bar: --use-http2 and service-level max instances", func(t *testing.T) {
		if _, ok := flag(deploy, "--use-http2"); !ok {
			t.Error("no --use-http2: Cloud Run downgrades to HTTP/1 although the server speaks h2c")
		}
		if v, _ := flag(deploy, "--max"); v != "3" {
			t.Errorf("--max=%q, want the service-level maximum _MAX_INSTANCES=3", v)
		}
		if _, ok := flag(deploy, "--max-instances"); ok {
			t.Error("--max-instances is per revision: old and new revisions would each get the full count")
		}
	})
	t.Run("bar: smoke uses an impersonated ID token and checks /healthz and /readyz", func(t *testing.T) {
		tok := one(t, run, "auth print-identity-token")
		if v, _ := flag(tok, "--impersonate-service-account"); v != rehearsalSA {
			t.Errorf("token minted as %q, want impersonation of the build account %s", v, rehearsalSA)
		}
		if v, _ := flag(tok, "--audiences"); v != serviceURL {
			t.Errorf("audience %q, want the service URL %s", v, serviceURL)
		}
		var paths []string
		for _, c := range run.calls {
			if c.Tool == "curl" {
				u := c.Args[len(c.Args)-1]
				if !strings.HasPrefix(u, r.candidate.URL("")) {
					t.Errorf("smoke calls %s, not the candidate's tag URL", u)
				}
				paths = append(paths, strings.TrimPrefix(u, r.candidate.URL("")))
			}
		}
		if !slices.Contains(paths, "/healthz") || !slices.Contains(paths, "/readyz") {
			t.Errorf("smoke requested %q, want /healthz and /readyz", paths)
		}
		for _, c := range run.calls {
			if c.Tool == "curl" && slices.ContainsFunc(c.Args, func(a string) bool { return strings.Contains(a, "stub-id-token") }) {
				t.Error("the ID token is on curl's command line")
			}
		}
	})
	t.Run("bar: promote names the smoked revision", func(t *testing.T) {
		p := one(t, run, "run services update-traffic")
		if v, _ := flag(p, "--to-revisions"); v != revision+"=100" {
			t.Errorf("--to-revisions=%q, want %s=100", v, revision)
		}
		if _, ok := flag(p, "--to-latest"); ok {
			t.Error("promote sends traffic to latest")
		}
		if run.index("gcloud", "run services update-traffic") < run.index("gcloud", "auth print-identity-token") {
			t.Error("traffic moved before the smoke test")
		}
		if len(run.gcloud("run services add-iam-policy-binding")) != 0 {
			t.Error("a private service was made public")
		}
	})
	t.Run("the test step installs what .ci/run installs and runs the whole suite", func(t *testing.T) {
		checkTestStepInstalls(t, run)
	})
	t.Run("every gcloud call has a row in the permission table", func(t *testing.T) {
		checkRehearsalCalls(t, run.calls, "cloudbuild.yaml")
	})
}

// checkRehearsalCalls fails for a recorded gcloud call without a row of file
// in deploy/permissions/calls.json.
func checkRehearsalCalls(t *testing.T, calls []call, file string) {
	t.Helper()
	table, _ := loadPermissions(t)
	var args [][]string
	for _, c := range calls {
		if c.Tool == "gcloud" {
			args = append(args, c.Args)
		}
	}
	if len(args) == 0 {
		t.Fatal("no gcloud calls recorded")
	}
	checkCallsInTable(t, table, file, args)
}

// TestRehearseFirstReleasePublic: the first release of a public service.
// setup.sh created the service private (a placeholder); the deploy leaves
// its IAM policy alone, so the candidate stays private through smoke and the
// public binding waits for promote; a connector is passed to both.
func TestRehearseFirstReleasePublic(t *testing.T) {
	t.Parallel()
	r := newRehearsal(t)
	run := r.run(t, scenario{builtins: builtinsTrigger(), serviceExists: true, subs: map[string]string{
		"_DB_USER": r.roles.App, "_DB_OWNER": r.roles.Owner, "_ALLOW_UNAUTHENTICATED": "true",
		"_VPC_CONNECTOR": "conn-1", "_DB_IP_TYPE": "private",
	}})
	if run.failed != "" {
		t.Fatalf("step %s failed:\n%s", run.failed, run.output)
	}
	deploy := one(t, run, "run deploy")
	for _, f := range []string{"--allow-unauthenticated", "--no-allow-unauthenticated"} {
		if _, ok := flag(deploy, f); ok {
			t.Errorf("the deploy passes %s: it would change the IAM policy (setIamPolicy) before smoke", f)
		}
	}
	if _, ok := flag(deploy, "--no-traffic"); !ok {
		t.Error("the first release's candidate gets traffic before its smoke test")
	}
	bind := one(t, run, "run services add-iam-policy-binding")
	if m, _ := flag(bind, "--member"); m != "allUsers" || bind.Step != "promote" {
		t.Errorf("public binding %v in step %s, want allUsers in promote", bind.Args, bind.Step)
	}
	if run.index("gcloud", "run services add-iam-policy-binding") < run.index("gcloud", "auth print-identity-token") {
		t.Error("the service became public before the smoke test")
	}
	checkRehearsalCalls(t, run.calls, "cloudbuild.yaml")
	for _, c := range []call{one(t, run, "run jobs deploy"), deploy} {
		if v, _ := flag(c, "--vpc-connector"); v != "conn-1" {
			t.Errorf("gcloud %s: --vpc-connector=%q, want conn-1", strings.Join(c.Args[:2], " "), v)
		}
	}
}

// TestRehearsePreflightRefuses: before anything is built, a project that
// setup.sh has not prepared, or a service that is public against
// _ALLOW_UNAUTHENTICATED=false, stops the release; a public service
// released as public passes preflight (the rest of such a release is
// TestRehearseFirstReleasePublic's).
func TestRehearsePreflightRefuses(t *testing.T) {
	t.Parallel()
	r := newStubRehearsal(t)
	tests := []struct {
		name           string
		exists, public bool
		subs           map[string]string
		want           string // "" means the release passes
	}{
		{name: "setup.sh not run", want: "run deploy/setup.sh"},
		{name: "public service, private release", exists: true, public: true, want: "is public"},
		{name: "public service, public release", exists: true, public: true,
			subs: map[string]string{"_ALLOW_UNAUTHENTICATED": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := r.run(t, scenario{builtins: builtinsTrigger(), serviceExists: tt.exists, servicePublic: tt.public,
				subs: tt.subs, until: "preflight"})
			if tt.want == "" {
				if run.failed != "" || !strings.Contains(run.output, "public=true") {
					t.Fatalf("preflight: failed step %q, want it to pass seeing the public service:\n%s", run.failed, run.output)
				}
				return
			}
			if run.failed != "preflight" || !strings.Contains(run.output, tt.want) {
				t.Fatalf("failed step %q, want preflight saying %q:\n%s", run.failed, tt.want, run.output)
			}
			for _, c := range run.calls {
				if c.Step != "inputs" && c.Step != "preflight" {
					t.Errorf("refused in preflight, yet %s %v ran in %s", c.Tool, c.Args, c.Step)
				}
			}
		})
	}
}

// A candidate that reports another version, or never becomes ready, stops
// the release before promote: the previous revision keeps all traffic.
func TestRehearseSmokeRefuses(t *testing.T) {
	t.Parallel()
	r := newRehearsal(t)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"other version", func(w http.ResponseWriter, req *http.Request) {
			fmt.Fprint(w, `{"status":"ok","version":"v1.2.2"}`)
		}, "not v1.2.3"},
		{"never ready", func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/readyz" {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			fmt.Fprint(w, `{"status":"ok","version":"v1.2.3"}`)
		}, "did not become ready in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := httptest.NewServer(tt.handler)
			defer fake.Close()
			run := r.run(t, scenario{builtins: builtinsTrigger(), serviceExists: true, candidateURL: fake.URL,
				subs: map[string]string{"_DB_USER": r.roles.App, "_DB_OWNER": r.roles.Owner}})
			if run.failed != "smoke" || !strings.Contains(run.output, tt.want) {
				t.Fatalf("failed step %q, want smoke saying %q:\n%s", run.failed, tt.want, run.output)
			}
			if len(run.gcloud("run services update-traffic")) != 0 {
				t.Error("traffic moved after a failed smoke test")
			}
		})
	}
}

// Inputs the pipeline refuses before it builds or deploys anything.
func TestRehearseRefusedInputs(t *testing.T) {
	t.Parallel()
	r := newStubRehearsal(t)
	tests := []struct {
		name     string
		builtins map[string]string
		subs     map[string]string
		want     string
	}{
		// What a manual submit without --substitutions leaves empty.
		{"manual submit without TAG_NAME", builtinsManual(), nil, "TAG_NAME is empty"},
		{"cloudrun-iam on a public URL", builtinsTrigger(),
			map[string]string{"_AUTH_MODE": "cloudrun-iam", "_ALLOW_UNAUTHENTICATED": "true"}, "admits any Google account"},
		{"private IP without VPC egress", builtinsTrigger(), map[string]string{"_DB_IP_TYPE": "private"}, "needs VPC egress"},
		{"both egress kinds", builtinsTrigger(), map[string]string{"_NETWORK": "n", "_VPC_CONNECTOR": "c"}, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := r.run(t, scenario{builtins: tt.builtins, subs: tt.subs, serviceExists: true})
			if run.failed != "inputs" || !strings.Contains(run.output, tt.want) {
				t.Fatalf("failed step %q, want inputs saying %q:\n%s", run.failed, tt.want, run.output)
			}
			for _, c := range run.calls {
				if c.Tool == "gcloud" || c.Step == "build" {
					t.Errorf("refused inputs, yet %s %v ran", c.Tool, c.Args)
				}
			}
		})
	}
}

// TestRehearseDocumentedCommands runs the manual-submit command of
// cloudbuild.yaml's header and every marked block of docs/deploy.md
// through the stub (flags checked against the references), and each
// `gcloud builds submit` among them as a manual-submit build of the pipeline.
func TestRehearseDocumentedCommands(t *testing.T) {
	t.Parallel()
	r := newRehearsal(t)
	blocks := map[string]string{"cloudbuild.yaml header": headerCommand(t)}
	for i, b := range markedBlocks(t, readRepoFile(t, "docs/deploy.md")) {
		blocks[fmt.Sprintf("docs/deploy.md block %d", i+1)] = b
	}
	if len(blocks) < 4 {
		t.Fatalf("found %d command blocks; docs/deploy.md marks its commands with <!-- rehearsal -->", len(blocks))
	}
	for name, script := range blocks {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := writeJSON(filepath.Join(dir, "config.json"), stubConfig{
				ServiceExists: true, ServiceURL: serviceURL, Tag: rehearsalTag, Commit: rehearsalCommit, FlagsFile: r.flags,
			}); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
			cmd.Dir = r.root
			cmd.Env = []string{"PATH=" + r.stubs + string(os.PathListSeparator) + os.Getenv("PATH"),
				"HOME=" + os.Getenv("HOME"), "REHEARSAL_DIR=" + dir, "REHEARSAL_STEP=docs",
				"REHEARSAL_TAG=" + rehearsalTag, "REHEARSAL_COMMIT=" + rehearsalCommit}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s\n%s", err, script, out)
			}
			calls := readCalls(t, dir)
			checkRehearsalCalls(t, calls, "docs/deploy.md")
			submits := 0
			defer func() {
				if strings.Contains(name, "header") && submits == 0 {
					t.Error("the header's command submitted no build")
				}
			}()
			for _, c := range calls {
				if c.Tool != "gcloud" || len(c.Args) < 2 || c.Args[0] != "builds" || c.Args[1] != "submit" {
					continue
				}
				submits++
				if v, _ := flag(c, "--config"); v != "cloudbuild.yaml" {
					t.Errorf("builds submit --config=%q, want cloudbuild.yaml", v)
				}
				builtins := builtinsManual()
				given, _ := flag(c, "--substitutions")
				for _, kv := range splitEnvVars(given) {
					k, v, _ := strings.Cut(kv, "=")
					builtins[k] = v
				}
				run := r.run(t, scenario{builtins: builtins, serviceExists: true,
					subs: map[string]string{"_DB_USER": r.roles.App, "_DB_OWNER": r.roles.Owner}})
				if run.failed != "" {
					t.Fatalf("the documented submit's build failed at %s:\n%s", run.failed, run.output)
				}
			}
		})
	}
}

var continued = regexp.MustCompile(`\\\n\s*`)

// headerCommand is the manual-submit command in cloudbuild.yaml's comments:
// the indented comment block ("#   ") that holds `gcloud builds submit`.
func headerCommand(t *testing.T) string {
	t.Helper()
	var block []string
	for _, l := range strings.Split(readRepoFile(t, "cloudbuild.yaml"), "\n") {
		cmd, ok := strings.CutPrefix(l, "#   ")
		if !ok {
			if slices.ContainsFunc(block, func(b string) bool { return strings.HasPrefix(b, "gcloud builds submit") }) {
				break
			}
			block = nil
			continue
		}
		block = append(block, cmd)
	}
	if !slices.ContainsFunc(block, func(b string) bool { return strings.HasPrefix(b, "gcloud builds submit") }) {
		t.Fatal("cloudbuild.yaml's header has no gcloud builds submit command")
	}
	return continued.ReplaceAllString(strings.Join(block, "\n"), "")
}

// markedBlocks returns the fenced sh blocks preceded by <!-- rehearsal -->.
func markedBlocks(t *testing.T, md string) []string {
	t.Helper()
	var blocks []string
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "<!-- rehearsal -->" {
			continue
		}
		if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "```sh" {
			t.Fatalf("docs/deploy.md line %d: <!-- rehearsal --> must precede a ```sh block", i+1)
		}
		var b []string
		for i += 2; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			b = append(b, lines[i])
		}
		blocks = append(blocks, strings.Join(b, "\n"))
	}
	return blocks
}

// notInCloudBuild are .ci/run's installs the Cloud Build test step leaves
// out, each with the reason; anything else .ci/run installs, it must too.
var notInCloudBuild = map[string]string{
	"chromium": "browser tests (-tags browser, make test-browser) are not part of go test ./...",
}

var ciNeed = regexp.MustCompile(`need\+=\(([^)]*)\)|apt-get install[^\n]*?((?:\s+[a-z0-9][a-z0-9.+-]+)+)\s*(?:>|$)`)

func checkTestStepInstalls(t *testing.T, run result) {
	t.Helper()
	ci := map[string]bool{}
	for _, m := range ciNeed.FindAllStringSubmatch(readRepoFile(t, ".ci/run"), -1) {
		for _, p := range strings.Fields(m[1] + " " + m[2]) {
			if !strings.HasPrefix(p, "-") && !strings.HasPrefix(p, "$") && !strings.Contains(p, "\"") {
				ci[p] = true
			}
		}
	}
	var installed []string
	var goCalls, makeCalls []string
	for _, c := range run.calls {
		if c.Step != "test" {
			continue
		}
		if c.Tool == "apt-get" && slices.Contains(c.Args, "install") {
			for _, a := range c.Args {
				if !strings.HasPrefix(a, "-") && a != "install" {
					installed = append(installed, a)
				}
			}
		}
		if c.Tool == "go" {
			goCalls = append(goCalls, strings.Join(c.Args, " "))
		}
		if c.Tool == "make" {
			makeCalls = append(makeCalls, strings.Join(c.Args, " "))
		}
	}
	var want []string
	for p := range ci {
		if _, skip := notInCloudBuild[p]; !skip {
			want = append(want, p)
		}
	}
	for p := range notInCloudBuild {
		if !ci[p] {
			t.Errorf("notInCloudBuild exempts %q, which .ci/run no longer installs: drop the exemption", p)
		}
	}
	if len(ci) == 0 || !sameSet(installed, want) {
		t.Errorf("Cloud Build's test step installs %q; .ci/run installs %q (less %v): keep them in step", installed, want, notInCloudBuild)
	}
	// The front end's checks but the breaking-change one, which needs the
	// git history a Cloud Build source upload lacks (CI runs it).
	if !slices.Equal(makeCalls, []string{"check-frontend"}) {
		t.Errorf("test step ran make %q, want exactly check-frontend", makeCalls)
	}
	if !slices.Equal(goCalls, []string{"vet ./...", "test -race ./..."}) {
		t.Errorf("test step ran go %q, want exactly vet ./... and test -race ./... (the whole suite)", goCalls)
	}
}

// The stub gcloud is only worth something if it refuses: a flag its
// command's reference lacks, and a command without a flag list.
func TestStubGcloudRefuses(t *testing.T) {
	t.Parallel()
	r := &rehearsal{root: repoRoot(t)}
	r.flags = filepath.Join(r.root, "deploy", "testdata", "gcloud-flags.json")
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := writeJSON(filepath.Join(dir, "config.json"), stubConfig{ServiceExists: true, FlagsFile: r.flags}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"run", "deploy", "svc", "--region=r", "--use-http2", "--max=3", "--project=p"}, 0},
		{[]string{"run", "deploy", "svc", "--to-latest"}, 2},               // update-traffic's flag
		{[]string{"run", "jobs", "deploy", "j", "--use-http2"}, 2},         // a service flag
		{[]string{"auth", "print-identity-token", "--audience=x"}, 2},      // it is --audiences
		{[]string{"run", "services", "update-traffic", "s", "--tag=x"}, 2}, // deploy's flag
		{[]string{"run", "services", "delete", "s"}, 2},                    // no flag list
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		cmd.Env = []string{"REHEARSAL_STUB=gcloud", "REHEARSAL_DIR=" + dir, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tt.code {
			t.Errorf("gcloud %v: exit %d, want %d\n%s", tt.args, code, tt.code, out)
		}
	}
}

// recordLine is the shell that appends "tool, step, args" as one line of
// $REHEARSAL_DIR/calls-sh, fields separated by \x1f.
func recordLine(tool string) string {
	return `{ printf '%s' "` + tool + `"; printf '\037%s' "$REHEARSAL_STEP" "$@"; printf '\n'; } >>"$REHEARSAL_DIR/calls-sh"`
}

// readCalls returns the gcloud calls (JSON lines) and the recorded others.
func readCalls(t *testing.T, dir string) []call {
	t.Helper()
	var calls []call
	if b, err := os.ReadFile(filepath.Join(dir, "calls")); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var c call
			if err := readJSONBytes(sc.Bytes(), &c); err != nil {
				t.Fatal(err)
			}
			calls = append(calls, c)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "calls-sh")); err == nil {
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			f := strings.Split(line, "\x1f")
			if len(f) >= 2 {
				calls = append(calls, call{Tool: f[0], Step: f[1], Args: f[2:]})
			}
		}
	}
	return calls
}
