package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/cloudbuild/apiv1/v2/cloudbuildpb"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

// loadBuild parses cloudbuild.yaml the way Cloud Build does: into its API type,
// rejecting unknown fields, so a misspelt key fails here rather than on submit.
func loadBuild(t *testing.T) (*cloudbuildpb.Build, string) {
	t.Helper()
	text := readRepoFile(t, "cloudbuild.yaml")
	js, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		t.Fatalf("cloudbuild.yaml is not YAML: %v", err)
	}
	var b cloudbuildpb.Build
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(js, &b); err != nil {
		t.Fatalf("cloudbuild.yaml is not a Cloud Build config: %v", err)
	}
	return &b, text
}

func TestCloudBuildParsesStrictly(t *testing.T) {
	t.Parallel()
	b, _ := loadBuild(t)
	if len(b.GetSteps()) == 0 {
		t.Fatal("no steps")
	}
	if !b.GetOptions().GetAutomapSubstitutions() {
		t.Error("options.automapSubstitutions must be true: the scripts read substitutions as environment variables")
	}
	ids := map[string]bool{}
	for i, s := range b.GetSteps() {
		if s.GetId() == "" {
			t.Errorf("step %d has no id", i)
		}
		if ids[s.GetId()] {
			t.Errorf("duplicate step id %q", s.GetId())
		}
		ids[s.GetId()] = true
		for _, w := range s.GetWaitFor() {
			if w != "-" && !ids[w] {
				t.Errorf("step %q waits for %q, which is not an earlier step", s.GetId(), w)
			}
		}
		if s.GetScript() != "" && !strings.HasPrefix(s.GetScript(), "#!/usr/bin/env bash\n") {
			t.Errorf("step %q: a script without a bash shebang runs under /bin/sh", s.GetId())
		}
	}

	// The same check must reject what Cloud Build rejects.
	var bad cloudbuildpb.Build
	err := protojson.Unmarshal([]byte(`{"steps":[{"name":"x","scirpt":"true"}]}`), &bad)
	if err == nil {
		t.Fatal("an unknown field was accepted: the strict parse is not strict")
	}
}

// builtins are the substitutions Cloud Build itself provides.
var builtins = []string{
	"PROJECT_ID", "PROJECT_NUMBER", "BUILD_ID", "LOCATION", "TRIGGER_NAME",
	"COMMIT_SHA", "REVISION_ID", "SHORT_SHA", "REPO_NAME", "REPO_FULL_NAME",
	"BRANCH_NAME", "TAG_NAME", "REF_NAME", "TRIGGER_BUILD_CONFIG_PATH",
	"SERVICE_ACCOUNT_EMAIL", "SERVICE_ACCOUNT",
}

var substRef = regexp.MustCompile(`\$\{?([A-Z_][A-Z0-9_]*)`)

func TestCloudBuildSubstitutionsDefined(t *testing.T) {
	t.Parallel()
	b, text := loadBuild(t)
	defined := b.GetSubstitutions()
	used := map[string]bool{}
	for _, m := range substRef.FindAllStringSubmatch(text, -1) {
		name := m[1]
		used[name] = true
		if strings.HasPrefix(name, "_") {
			if _, ok := defined[name]; !ok {
				t.Errorf("$%s is used but has no default in substitutions", name)
			}
			continue
		}
		if !slices.Contains(builtins, name) {
			t.Errorf("$%s is neither a built-in substitution nor a user one (user ones start with _)", name)
		}
	}
	for name, value := range defined {
		if !strings.HasPrefix(name, "_") {
			t.Errorf("substitution %s: user substitutions must start with _", name)
		}
		if !used[name] {
			t.Errorf("substitution %s is defined but never used (Cloud Build rejects that)", name)
		}
		if value == "" {
			t.Errorf("substitution %s has an empty default", name)
		}
	}
	// The release identity comes from the trigger or from --substitutions.
	for _, name := range []string{"TAG_NAME", "COMMIT_SHA", "PROJECT_ID"} {
		if !used[name] {
			t.Errorf("$%s is not used", name)
		}
	}
}

// step returns the step with the given id.
func step(t *testing.T, b *cloudbuildpb.Build, id string) *cloudbuildpb.BuildStep {
	t.Helper()
	for _, s := range b.GetSteps() {
		if s.GetId() == id {
			return s
		}
	}
	t.Fatalf("no step %q", id)
	return nil
}

// after reports whether step a starts only after step b has finished. Cloud
// Build runs a step without waitFor after all earlier steps; "-" means at once.
func after(b *cloudbuildpb.Build, a, before string) bool {
	index := map[string]int{}
	for i, s := range b.GetSteps() {
		index[s.GetId()] = i
	}
	var deps func(id string, seen map[string]bool)
	deps = func(id string, seen map[string]bool) {
		s := b.GetSteps()[index[id]]
		var direct []string
		switch w := s.GetWaitFor(); {
		case len(w) == 0:
			for _, p := range b.GetSteps()[:index[id]] {
				direct = append(direct, p.GetId())
			}
		case slices.Equal(w, []string{"-"}):
		default:
			direct = w
		}
		for _, d := range direct {
			if !seen[d] {
				seen[d] = true
				deps(d, seen)
			}
		}
	}
	seen := map[string]bool{}
	deps(a, seen)
	return seen[before]
}

func TestCloudBuildOrder(t *testing.T) {
	t.Parallel()
	b, _ := loadBuild(t)

	test := step(t, b, "test").GetScript()
	for _, cmd := range []string{"go vet ./...", "go test -race ./...", "CI=true"} {
		if !strings.Contains(test, cmd) {
			t.Errorf("test step lacks %q: it must run the whole suite as CI does, skipping nothing", cmd)
		}
	}
	if !slices.ContainsFunc(step(t, b, "test").GetEnv(), func(e string) bool {
		return strings.HasPrefix(e, "TEST_DATABASE_URL=postgres://") && strings.Contains(e, "@postgres:")
	}) {
		t.Error("test step does not point TEST_DATABASE_URL at the postgres service container")
	}
	if !strings.Contains(step(t, b, "postgres").GetScript(), "--network=cloudbuild") {
		t.Error("the PostgreSQL service container is not on the cloudbuild network")
	}

	// Migrations are a Cloud Run job of the pushed image, not a build step.
	migrate := step(t, b, "migrate").GetScript()
	for _, want := range []string{"gcloud run jobs deploy", "--args=migrate", "--execute-now", "--wait",
		"DB_PASSWORD=${_DB_OWNER_PASSWORD_SECRET}:latest", "DB_APP_ROLE=${_DB_USER}"} {
		if !strings.Contains(migrate, want) {
			t.Errorf("migrate step lacks %q: it must run `server migrate` as a Cloud Run job, as the owner", want)
		}
	}
	if strings.Contains(migrate, "go run") || len(b.GetAvailableSecrets().GetSecretManager()) != 0 {
		t.Error("the build itself must not reach the database: no go run, no database secrets in the build")
	}

	deploy := step(t, b, "deploy").GetScript()
	for _, want := range []string{"--no-traffic", `--tag="build-${BUILD_ID:0:8}"`, `--revision-suffix="${COMMIT_SHA:0:7}-${BUILD_ID:0:8}"`} {
		if !strings.Contains(deploy, want) {
			t.Errorf("deploy lacks %s: the candidate gets no traffic, a name fixed by this build and a tag of its own", want)
		}
	}
	smoke := step(t, b, "smoke").GetScript()
	for _, want := range []string{"print-identity-token", "--impersonate-service-account", "/healthz", "/readyz", "candidate", "TAG_NAME"} {
		if !strings.Contains(smoke, want) {
			t.Errorf("smoke step does not mention %q", want)
		}
	}
	promote := step(t, b, "promote").GetScript()
	if !strings.Contains(promote, "update-traffic") || !strings.Contains(promote, `--to-revisions="${revision}=100"`) ||
		!strings.Contains(promote, `revision="${_SERVICE}-${COMMIT_SHA:0:7}-${BUILD_ID:0:8}"`) {
		t.Error("promote step does not shift traffic to this build's revision by name (update-traffic --to-revisions=REV=100)")
	}

	order := [][2]string{
		{"test", "inputs"}, {"test", "preflight"}, {"test", "postgres"},
		{"build", "test"}, {"push", "build"}, {"migrate", "push"},
		{"deploy", "migrate"}, {"smoke", "deploy"}, {"promote", "smoke"},
	}
	for _, o := range order {
		if !after(b, o[0], o[1]) {
			t.Errorf("step %q does not wait for %q", o[0], o[1])
		}
	}
	// Only the promote step may move traffic, and never to "latest".
	for _, s := range b.GetSteps() {
		if s.GetId() != "promote" && strings.Contains(s.GetScript(), "update-traffic") {
			t.Errorf("step %q moves traffic; only promote (after smoke) may", s.GetId())
		}
		if strings.Contains(s.GetScript(), "--to-latest") {
			t.Errorf("step %q sends traffic to the latest revision, which a later build may have replaced", s.GetId())
		}
	}
	// The order check itself must see a violation.
	if after(b, "test", "build") {
		t.Error("after() claims test waits for build")
	}
}

var (
	imageAssign = regexp.MustCompile(`(?m)^\s*image="([^"]+)"$`)
	dockerTag   = regexp.MustCompile(`--tag="([^"]+)"`)
	dockerPush  = regexp.MustCompile(`docker push "([^"]+)"`)
	gcloudImage = regexp.MustCompile(`--image="([^"]+)"`)
)

// imageRefs returns the references the regexp captures in a step's script,
// with "${image}" replaced by the value the script assigns to it.
func imageRefs(t *testing.T, s *cloudbuildpb.BuildStep, re *regexp.Regexp, repo string) []string {
	t.Helper()
	var refs []string
	for _, m := range re.FindAllStringSubmatch(s.GetScript(), -1) {
		refs = append(refs, strings.ReplaceAll(m[1], "${image}", repo))
	}
	if len(refs) == 0 {
		t.Errorf("step %q: no image reference found by %v", s.GetId(), re)
	}
	return refs
}

func TestCloudBuildImageNames(t *testing.T) {
	t.Parallel()
	b, _ := loadBuild(t)
	const repo = "${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPOSITORY}/${_SERVICE}"
	want := []string{repo + ":${TAG_NAME}", repo + ":${COMMIT_SHA}"}

	for _, s := range b.GetSteps() {
		for _, m := range imageAssign.FindAllStringSubmatch(s.GetScript(), -1) {
			if m[1] != repo {
				t.Errorf("step %q: image=%q, want %q", s.GetId(), m[1], repo)
			}
		}
	}
	built := imageRefs(t, step(t, b, "build"), dockerTag, repo)
	pushed := imageRefs(t, step(t, b, "push"), dockerPush, repo)
	for name, got := range map[string][]string{"built": built, "pushed": pushed, "images:": b.GetImages()} {
		if !sameSet(got, want) {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	for _, ref := range imageRefs(t, step(t, b, "deploy"), gcloudImage, repo) {
		if !slices.Contains(pushed, ref) {
			t.Errorf("deploy runs %q, which the push step does not push (%q)", ref, pushed)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestCloudBuildScriptsShellcheck runs every step's script through shellcheck,
// as bash sees it at run time (scripts are not substituted; automap makes the
// substitutions environment variables).
func TestCloudBuildScriptsShellcheck(t *testing.T) {
	t.Parallel()
	shellcheck := requireTool(t, "shellcheck", "apt-get install shellcheck")
	b, _ := loadBuild(t)
	dir := t.TempDir()
	for _, s := range b.GetSteps() {
		if s.GetScript() == "" {
			continue
		}
		file := filepath.Join(dir, s.GetId()+".sh")
		if err := os.WriteFile(file, []byte(s.GetScript()), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(shellcheck, "--shell=bash", "--severity=style", file).CombinedOutput()
		if err != nil {
			t.Errorf("step %q fails shellcheck: %v\n%s", s.GetId(), err, out)
		}
	}
	// The setup script and the container check are shell too.
	for _, script := range []string{"deploy/setup.sh", ".ci/container-test.sh"} {
		out, err := exec.Command(shellcheck, "--severity=style", filepath.Join(repoRoot(t), script)).CombinedOutput()
		if err != nil {
			t.Errorf("%s fails shellcheck: %v\n%s", script, err, out)
		}
	}
}

var (
	dockerArg = regexp.MustCompile(`(?m)^ARG ([A-Z_]+)=(\S+)$`)
	pinned    = regexp.MustCompile(`^[a-z0-9./-]+:[\w.-]+@sha256:[0-9a-f]{64}$`)
)

// TestDockerfileBases checks the supply-chain rules: base images pinned by
// digest, overridable by build ARG, and the Go image shared with cloudbuild.yaml.
func TestDockerfileBases(t *testing.T) {
	t.Parallel()
	df := readRepoFile(t, "Dockerfile")
	args := map[string]string{}
	for _, m := range dockerArg.FindAllStringSubmatch(df, -1) {
		args[m[1]] = m[2]
	}
	for name, prefix := range map[string]string{
		"GO_IMAGE":      "golang:1.26-bookworm@",
		"RUNTIME_IMAGE": "gcr.io/distroless/static-debian12:nonroot@",
	} {
		v := args[name]
		if !strings.HasPrefix(v, prefix) || !pinned.MatchString(v) {
			t.Errorf("ARG %s=%q: want %s... pinned by sha256 digest", name, v, prefix)
		}
		if !strings.Contains(df, fmt.Sprintf("FROM ${%s}", name)) {
			t.Errorf("no stage is FROM ${%s}", name)
		}
	}
	b, _ := loadBuild(t)
	if got := b.GetSubstitutions()["_GO_IMAGE"]; got != args["GO_IMAGE"] {
		t.Errorf("cloudbuild.yaml _GO_IMAGE=%q differs from the Dockerfile's GO_IMAGE=%q: tests and image must use one toolchain", got, args["GO_IMAGE"])
	}
	for _, want := range []string{
		"CGO_ENABLED=0", "-trimpath", "-s -w",
		"mod=$(go list -m)",
		"-X ${mod}/internal/buildinfo.Version=${VERSION}",
		"-X ${mod}/internal/buildinfo.Commit=${COMMIT}",
		"./cmd/server",
		"USER 65532:65532", "ENV PORT=8080", `ENTRYPOINT ["/usr/local/bin/server"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

var goCommand = regexp.MustCompile(`(?m)(^|[;&|(]\s*|\s)(go|make) [a-z]`)

// TestToolchainEverywhere: go.mod's go line may name a newer Go than a machine
// or the official golang image has, and both default to GOTOOLCHAIN=local, under
// which every go command then fails. Each place that runs go must say auto.
func TestToolchainEverywhere(t *testing.T) {
	t.Parallel()
	b, _ := loadBuild(t)
	for _, s := range b.GetSteps() {
		if !goCommand.MatchString(s.GetScript()) {
			continue
		}
		if !slices.Contains(s.GetEnv(), "GOTOOLCHAIN=auto") {
			t.Errorf("step %q runs go without GOTOOLCHAIN=auto in its env", s.GetId())
		}
	}
	for file, want := range map[string]string{
		"Dockerfile": "GOTOOLCHAIN=auto",
		"Makefile":   "export GOTOOLCHAIN ?= auto",
		".ci/run":    "export GOTOOLCHAIN=auto",
	} {
		if !strings.Contains(readRepoFile(t, file), want) {
			t.Errorf("%s lacks %q", file, want)
		}
	}
}
