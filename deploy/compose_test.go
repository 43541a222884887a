package deploy

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestComposeConfig has docker-compose itself validate compose.yaml (Debian's
// docker-compose: the oldest Compose a Docker user is likely to have), then
// checks the wiring that makes "the same container" run locally.
func TestComposeConfig(t *testing.T) {
	t.Parallel()
	compose := requireTool(t, "docker-compose", "apt-get install docker-compose")
	file := filepath.Join(repoRoot(t), "compose.yaml")
	out, err := exec.Command(compose, "--file", file, "--project-directory", repoRoot(t), "config").CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose config rejects compose.yaml: %v\n%s", err, out)
	}

	var cfg struct {
		Services map[string]struct {
			Build struct {
				Context    string `json:"context"`
				Dockerfile string `json:"dockerfile"`
			} `json:"build"`
			Environment map[string]string                     `json:"environment"`
			DependsOn   map[string]struct{ Condition string } `json:"depends_on"`
			Healthcheck struct{ Test []string }               `json:"healthcheck"`
			Ports       []any                                 `json:"ports"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("docker-compose config output: %v\n%s", err, out)
	}
	app, db := cfg.Services["app"], cfg.Services["db"]
	if app.Build.Context != repoRoot(t) {
		t.Errorf("app is built from %q, want the repository root (the Dockerfile Cloud Build uses)", app.Build.Context)
	}
	if !strings.HasPrefix(app.Environment["DATABASE_URL"], "postgres://") || !strings.Contains(app.Environment["DATABASE_URL"], "@db:5432/") {
		t.Errorf("app DATABASE_URL=%q does not point at the db service", app.Environment["DATABASE_URL"])
	}
	if app.Environment["AUTH_MODE"] != "dev" || app.Environment["DEV_USER"] == "" {
		t.Errorf("app does not run with the dev identity: %v", app.Environment)
	}
	if app.DependsOn["db"].Condition != "service_healthy" {
		t.Errorf("app does not wait for a healthy db: %+v", app.DependsOn)
	}
	if len(db.Healthcheck.Test) == 0 {
		t.Error("db has no healthcheck")
	}
}
