package deploy

import (
	"net/url"
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
			Image       string                                `json:"image"`
			Command     []string                              `json:"command"`
			Environment map[string]string                     `json:"environment"`
			DependsOn   map[string]struct{ Condition string } `json:"depends_on"`
			Healthcheck struct{ Test []string }               `json:"healthcheck"`
			Ports       []any                                 `json:"ports"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("docker-compose config output: %v\n%s", err, out)
	}
	app, db, migrate := cfg.Services["app"], cfg.Services["db"], cfg.Services["migrate"]
	if app.Build.Context != repoRoot(t) {
		t.Errorf("app is built from %q, want the repository root (the Dockerfile Cloud Build uses)", app.Build.Context)
	}
	if !strings.HasPrefix(app.Environment["DATABASE_URL"], "postgres://") || !strings.Contains(app.Environment["DATABASE_URL"], "@db:5432/") {
		t.Errorf("app DATABASE_URL=%q does not point at the db service", app.Environment["DATABASE_URL"])
	}
	if app.Environment["AUTH_MODE"] != "dev" || app.Environment["DEV_USER"] == "" {
		t.Errorf("app does not run with the dev identity: %v", app.Environment)
	}
	// Two roles, as in production: the same image migrates as the owner,
	// then the app runs as a role of its own without migrating.
	if migrate.Image != app.Image || len(migrate.Command) != 1 || migrate.Command[0] != "migrate" {
		t.Errorf("migrate service is not `server migrate` of the app's image: %+v", migrate)
	}
	if migrate.DependsOn["db"].Condition != "service_healthy" {
		t.Errorf("migrate does not wait for a healthy db: %+v", migrate.DependsOn)
	}
	if app.DependsOn["migrate"].Condition != "service_completed_successfully" {
		t.Errorf("app does not wait for the migrations to succeed: %+v", app.DependsOn)
	}
	appUser, ownerUser := urlUser(app.Environment["DATABASE_URL"]), urlUser(migrate.Environment["DATABASE_URL"])
	if appUser == "" || appUser == ownerUser || migrate.Environment["DB_APP_ROLE"] != appUser {
		t.Errorf("app connects as %q, migrate as %q granting DB_APP_ROLE=%q: want the app role, distinct from the owner",
			appUser, ownerUser, migrate.Environment["DB_APP_ROLE"])
	}
	if app.Environment["DB_MIGRATE"] != "false" {
		t.Errorf("app DB_MIGRATE=%q: the app role cannot migrate; the migrate service does", app.Environment["DB_MIGRATE"])
	}
	if len(db.Healthcheck.Test) == 0 {
		t.Error("db has no healthcheck")
	}
}

func urlUser(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return ""
	}
	return u.User.Username()
}
