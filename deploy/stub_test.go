package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// The rehearsal's gcloud is this test binary itself, run again with
// REHEARSAL_STUB=gcloud (see TestMain); it records every call in
// $REHEARSAL_DIR/calls. The other stand-ins are shell (rehearsal_test.go).

// call is one recorded invocation.
type call struct {
	Tool string   `json:"tool"`
	Step string   `json:"step"`
	Args []string `json:"args"`
}

// stubConfig is what a scenario tells the stubs.
type stubConfig struct {
	// ServiceExists: setup.sh ran, so the service and the migration job exist.
	ServiceExists bool   `json:"service_exists"`
	ServicePublic bool   `json:"service_public"` // allUsers holds roles/run.invoker
	ServiceURL    string `json:"service_url"`
	CandidateURL  string `json:"candidate_url"`
	ServerBin     string `json:"server_bin"`
	OwnerURL      string `json:"owner_url"`
	Tag           string `json:"tag"`
	Commit        string `json:"commit"`
	FlagsFile     string `json:"flags_file"`
}

// stubState is what the gcloud stub remembers between calls.
type stubState struct {
	ServiceExists bool              `json:"service_exists"`
	Public        bool              `json:"public"`
	Tags          map[string]string `json:"tags"` // revision tag -> URL
}

// gcloudFlags is deploy/testdata/gcloud-flags.json.
type gcloudFlags struct {
	Global struct {
		Source string   `json:"source"`
		Flags  []string `json:"flags"`
	} `json:"global"`
	Commands map[string]struct {
		Source   string   `json:"source"`
		Verified bool     `json:"verified"`
		Flags    []string `json:"flags"`
	} `json:"commands"`
}

// allowed expands "--[no-]x" into "--x" and "--no-x".
func allowed(flags []string) map[string]bool {
	m := map[string]bool{}
	for _, f := range flags {
		if name, ok := strings.CutPrefix(f, "--[no-]"); ok {
			m["--"+name], m["--no-"+name] = true, true
			continue
		}
		m[f] = true
	}
	return m
}

func runStub(tool string, args []string) int {
	dir := os.Getenv("REHEARSAL_DIR")
	var cfg stubConfig
	if err := readJSON(filepath.Join(dir, "config.json"), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "stub:", err)
		return 99
	}
	if err := appendCall(dir, call{Tool: tool, Step: os.Getenv("REHEARSAL_STEP"), Args: args}); err != nil {
		fmt.Fprintln(os.Stderr, "stub:", err)
		return 99
	}
	if tool != "gcloud" {
		fmt.Fprintln(os.Stderr, "stub: no such tool", tool)
		return 99
	}
	return stubGcloudCall(dir, cfg, args)
}

func stubGcloudCall(dir string, cfg stubConfig, args []string) int {
	var flags gcloudFlags
	if err := readJSON(cfg.FlagsFile, &flags); err != nil {
		fmt.Fprintln(os.Stderr, "stub gcloud:", err)
		return 99
	}
	var words []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			words = append(words, a)
		}
	}
	command := ""
	for n := len(words); n > 0; n-- {
		if _, ok := flags.Commands[strings.Join(words[:n], " ")]; ok {
			command = strings.Join(words[:n], " ")
			break
		}
	}
	if command == "" {
		fmt.Fprintf(os.Stderr, "ERROR: (gcloud) the rehearsal has no flag list for %q (deploy/testdata/gcloud-flags.json)\n", strings.Join(words, " "))
		return 2
	}
	ok := allowed(append(slices.Clone(flags.Commands[command].Flags), flags.Global.Flags...))
	values := map[string]string{}
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, value, _ := strings.Cut(a, "=")
		if !ok[name] {
			fmt.Fprintf(os.Stderr, "ERROR: (gcloud.%s) unrecognized arguments: %s (not in %s)\n",
				strings.ReplaceAll(command, " ", "."), name, flags.Commands[command].Source)
			return 2
		}
		values[name] = value
	}

	statePath := filepath.Join(dir, "state.json")
	st := stubState{ServiceExists: cfg.ServiceExists, Public: cfg.ServicePublic, Tags: map[string]string{}}
	_ = readJSON(statePath, &st)
	defer func() { _ = writeJSON(statePath, st) }()

	switch command {
	case "run services describe":
		if !st.ServiceExists {
			fmt.Fprintln(os.Stderr, "ERROR: (gcloud.run.services.describe) Cannot find service")
			return 1
		}
		switch values["--format"] {
		case "value(status.url)":
			fmt.Println(cfg.ServiceURL)
		case "json":
			traffic := []map[string]any{}
			for tag, url := range st.Tags {
				traffic = append(traffic, map[string]any{"tag": tag, "url": url})
			}
			b, _ := json.Marshal(map[string]any{"status": map[string]any{"url": cfg.ServiceURL, "traffic": traffic}})
			fmt.Println(string(b))
		}
	case "run jobs describe":
		if !st.ServiceExists {
			fmt.Fprintln(os.Stderr, "ERROR: (gcloud.run.jobs.describe) Cannot find job")
			return 1
		}
	case "run services get-iam-policy":
		if !st.ServiceExists {
			fmt.Fprintln(os.Stderr, "ERROR: (gcloud.run.services.get-iam-policy) NOT_FOUND")
			return 1
		}
		bindings := []map[string]any{}
		if st.Public {
			bindings = append(bindings, map[string]any{"role": "roles/run.invoker", "members": []string{"allUsers"}})
		}
		b, _ := json.Marshal(map[string]any{"bindings": bindings, "etag": "BwY="})
		fmt.Println(string(b))
	case "run services add-iam-policy-binding":
		if values["--member"] == "allUsers" {
			st.Public = true
		}
	case "run deploy":
		st.ServiceExists = true
		if tag := values["--tag"]; tag != "" {
			st.Tags[tag] = cfg.CandidateURL
		}
	case "run jobs deploy":
		if _, now := values["--execute-now"]; now {
			return runJob(cfg, values)
		}
	case "auth print-identity-token":
		fmt.Println("stub-id-token")
	case "config get-value":
		fmt.Println("my-project")
	}
	return 0
}

// runJob runs the job's container command for real: the server binary with
// the job's arguments and variables, pointed at the local PostgreSQL in place
// of the Cloud SQL instance (the only substitution).
func runJob(cfg stubConfig, values map[string]string) int {
	env := []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + cfg.OwnerURL}
	for _, kv := range splitEnvVars(values["--set-env-vars"]) {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "INSTANCE_CONNECTION_NAME", "DB_PASSWORD":
			continue // Cloud SQL: replaced by DATABASE_URL
		}
		env = append(env, kv)
	}
	cmd := exec.Command(cfg.ServerBin, strings.Split(values["--args"], ",")...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "ERROR: (gcloud.run.jobs.deploy) the execution failed:", err)
		return 1
	}
	return 0
}

// splitEnvVars splits a --set-env-vars value, honouring gcloud's ^D^
// alternative delimiter (gcloud topic escaping).
func splitEnvVars(v string) []string {
	sep := ","
	if strings.HasPrefix(v, "^") {
		if end := strings.Index(v[1:], "^"); end > 0 {
			sep, v = v[1:1+end], v[2+end:]
		}
	}
	var out []string
	for _, kv := range strings.Split(v, sep) {
		if kv != "" {
			out = append(out, kv)
		}
	}
	return out
}

func appendCall(dir string, c call) error {
	f, err := os.OpenFile(filepath.Join(dir, "calls"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	b, _ := json.Marshal(c)
	_, err = f.Write(append(b, '\n'))
	return err
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func readJSONBytes(b []byte, v any) error { return json.Unmarshal(b, v) }
