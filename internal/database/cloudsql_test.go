package database_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/cloudsqlconn"
	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/config"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/database/cloudsqltest"
	"example.com/example-function/internal/pgtest"
)

// These tests drive the production path — environment -> config.Load ->
// database.Open -> cloudsqlconn dialer -> pgxpool — against a fake Cloud SQL
// instance that speaks the Admin API and the mutual-TLS proxy protocol and
// forwards to a real PostgreSQL. Only the dialer's endpoints are redirected.

// instance is a fake Cloud SQL instance backed by a fresh database.
type instance struct {
	fake   *cloudsqltest.Fake
	dbName string
	env    map[string]string
}

func newInstance(t *testing.T, o cloudsqltest.Options) *instance {
	t.Helper()
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	o.Backend = u.Host
	f := cloudsqltest.New(t, o)
	name := strings.TrimPrefix(u.Path, "/")
	return &instance{fake: f, dbName: name, env: map[string]string{
		"INSTANCE_CONNECTION_NAME": f.ConnectionName(),
		"DB_USER":                  "postgres",
		"DB_PASSWORD":              "secret",
		"DB_NAME":                  name,
		"DB_CONNECT_TIMEOUT":       "20s",
	}}
}

// config loads the configuration the way the server does, from env plus
// overrides ("" deletes a variable).
func (in *instance) config(t *testing.T, overrides map[string]string) config.Database {
	t.Helper()
	env := map[string]string{}
	for k, v := range in.env {
		env[k] = v
	}
	for k, v := range overrides {
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	c, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return c.Database
}

func open(t *testing.T, c config.Database, opts ...database.Option) *database.DB {
	t.Helper()
	db, err := database.Open(context.Background(), c, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCloudSQLPasswordLoginPublicIP(t *testing.T) {
	t.Parallel()
	in := newInstance(t, cloudsqltest.Options{})
	db := open(t, in.config(t, nil), database.WithDialerOptions(in.fake.DialerOptions()...))

	// Lazy: opening the pool neither connects nor calls the Admin API.
	if got := in.fake.Calls(); got != (cloudsqltest.Calls{}) {
		t.Fatalf("Admin API calls after Open = %+v, want none", got)
	}
	ctx := ctxT(t)
	if err := database.Migrate(ctx, db.Pool); err != nil {
		t.Fatalf("Migrate through the connector: %v", err)
	}
	var user, dbName string
	if err := db.Pool.QueryRow(ctx, "SELECT current_user, current_database()").Scan(&user, &dbName); err != nil {
		t.Fatalf("query: %v", err)
	}
	if user != "postgres" || dbName != in.dbName {
		t.Errorf("logged in as %s on %s, want postgres on %s", user, dbName, in.dbName)
	}
	var tables int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&tables); err != nil {
		t.Fatalf("migrated table not reachable: %v", err)
	}
	if got := in.fake.Calls(); got != (cloudsqltest.Calls{ConnectSettings: 1, GenerateEphemeralCert: 1}) {
		t.Errorf("Admin API calls = %+v, want one of each", got)
	}
	for _, a := range in.fake.Dialed() {
		if a != "203.0.113.10:3307" {
			t.Errorf("dialed %s, want the public IP on port 3307", a)
		}
	}
	if len(in.fake.Dialed()) == 0 {
		t.Error("the connector never dialed the instance")
	}
}

// TestCloudSQLAddressAndCertificateModes connects through each way Cloud SQL
// publishes an instance: public IP with the legacy CN check, public IP with a
// DNS name in the certificate (CAS server CA), private IP and PSC.
func TestCloudSQLAddressAndCertificateModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		opts   cloudsqltest.Options
		ipType string
		want   string // address dialed
	}{
		{"public legacy CN", cloudsqltest.Options{}, "public", "203.0.113.10:3307"},
		{"public DNS name SAN", cloudsqltest.Options{DNSName: "1a2b3c.europe-west1.sql.goog."}, "public", "203.0.113.10:3307"},
		{"private IP", cloudsqltest.Options{PrivateIP: "10.20.0.5"}, "private", "10.20.0.5:3307"},
		{"private IP only", cloudsqltest.Options{NoPublicIP: true, PrivateIP: "10.20.0.6"}, "private", "10.20.0.6:3307"},
		{"PSC", cloudsqltest.Options{NoPublicIP: true, PSCDNSName: "abc123.europe-west1.sql-psc.goog."}, "psc", "abc123.europe-west1.sql-psc.goog:3307"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := newInstance(t, tc.opts)
			db := open(t, in.config(t, map[string]string{"DB_IP_TYPE": tc.ipType}),
				database.WithDialerOptions(in.fake.DialerOptions()...))
			if err := db.Pool.Ping(ctxT(t)); err != nil {
				t.Fatalf("ping: %v", err)
			}
			dialed := in.fake.Dialed()
			if len(dialed) == 0 || dialed[0] != tc.want {
				t.Errorf("dialed %v, want %s", dialed, tc.want)
			}
		})
	}
}

// TestCloudSQLFailuresAreActionable: each misconfiguration fails the query
// (not the process) with one line that names what to fix, and fixing the
// cause lets the next query through without a restart.
func TestCloudSQLFailuresAreActionable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		opts     cloudsqltest.Options
		fault    cloudsqltest.Fault
		env      map[string]string
		want     []string
		canRecov bool
	}{
		{
			name: "no private IP",
			env:  map[string]string{"DB_IP_TYPE": "private"},
			want: []string{"DB_IP_TYPE=private", "no private IP", `instance does not have IP of type "PRIVATE"`},
		},
		{
			name: "no public IP",
			opts: cloudsqltest.Options{NoPublicIP: true, PrivateIP: "10.0.0.9"},
			want: []string{"DB_IP_TYPE=public", "no public IP"},
		},
		{
			name:     "server certificate from another CA",
			fault:    cloudsqltest.RogueServerCert,
			want:     []string{"did not present this instance's certificate", "certificate signed by unknown authority"},
			canRecov: true,
		},
		{
			name:     "server certificate of another instance",
			fault:    cloudsqltest.OtherInstanceCert,
			want:     []string{"did not present this instance's certificate", `certificate had CN "test-project:another-instance", expected "test-project:test-instance"`},
			canRecov: true,
		},
		{
			name: "wrong instance name (404)",
			env:  map[string]string{"INSTANCE_CONNECTION_NAME": "test-project:europe-west1:no-such-instance"},
			want: []string{`project test-project has no Cloud SQL instance "no-such-instance"`, "check INSTANCE_CONNECTION_NAME", "Error 404: The Cloud SQL instance does not exist."},
		},
		{
			name: "region mismatch",
			env:  map[string]string{"INSTANCE_CONNECTION_NAME": "test-project:us-central1:test-instance"},
			want: []string{"INSTANCE_CONNECTION_NAME names region us-central1", "gcloud sql instances describe test-instance", "got us-central1, want europe-west1"},
		},
		{
			name:     "Admin API not enabled (403)",
			fault:    cloudsqltest.APIDisabled,
			want:     []string{`gcloud services enable sqladmin.googleapis.com --project=test-project`, "Cloud SQL Admin API has not been used in project 123456789012"},
			canRecov: true,
		},
		{
			name:     "missing roles/cloudsql.client (403)",
			fault:    cloudsqltest.NotAuthorized,
			want:     []string{"grant it roles/cloudsql.client on project test-project", "not authorized"},
			canRecov: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := newInstance(t, tc.opts)
			in.fake.SetFault(tc.fault)
			db := open(t, in.config(t, tc.env), database.WithDialerOptions(in.fake.DialerOptions()...))
			ctx := ctxT(t)
			err := db.Pool.Ping(ctx)
			if err == nil {
				t.Fatal("ping succeeded, want a failure")
			}
			t.Log(err)
			var cerr *database.CloudSQLError
			if !errors.As(err, &cerr) {
				t.Fatalf("error carries no hint (not a *database.CloudSQLError): %v", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if strings.Contains(cerr.Error(), "\n") {
				t.Errorf("hint error spans several lines:\n%s", cerr.Error())
			}
			if tc.canRecov {
				in.fake.SetFault(cloudsqltest.NoFault)
				if err := db.Pool.Ping(ctx); err != nil {
					t.Fatalf("ping after fixing the cause: %v", err)
				}
			}
		})
	}
}

func randomName(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// iamInstance is an instance with IAM database login for a fresh service
// account whose PostgreSQL role (the email without .gserviceaccount.com)
// owns the database, as "gcloud sql users create --type=cloud_iam_service_account"
// plus a grant would set up.
func iamInstance(t *testing.T, tokens map[string]string) (*instance, string) {
	t.Helper()
	email := "app-" + randomName(t) + "@test-project.iam.gserviceaccount.com"
	role := strings.TrimSuffix(email, ".gserviceaccount.com")
	admin := pgtest.AdminURL(t)
	ctx := ctxT(t)
	exec := func(sql string) {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	quoted := pgx.Identifier{role}.Sanitize()
	exec("CREATE ROLE " + quoted + " LOGIN")
	// Registered before the database exists, so it runs after the database
	// (and everything the role owns in it) is dropped.
	t.Cleanup(func() { exec("DROP ROLE IF EXISTS " + quoted) })

	principals := map[string]string{}
	for tok, who := range tokens {
		if who == "" {
			who = email
		}
		principals[tok] = who
	}
	in := newInstance(t, cloudsqltest.Options{IAMPrincipals: principals})
	exec("ALTER DATABASE " + pgx.Identifier{in.dbName}.Sanitize() + " OWNER TO " + quoted)
	in.env["DB_IAM_AUTH"] = "true"
	in.env["DB_USER"] = email
	delete(in.env, "DB_PASSWORD")
	return in, email
}

func loginTokens(tok string) *staticTokens {
	return &staticTokens{tok: tok, expiry: time.Now().Add(time.Hour)}
}

func TestCloudSQLIAMLogin(t *testing.T) {
	t.Parallel()
	in, email := iamInstance(t, map[string]string{"login-token-ok": ""})
	db := open(t, in.config(t, nil), database.WithDialerOptions(in.fake.IAMDialerOptions(loginTokens("login-token-ok"))...))
	ctx := ctxT(t)
	if err := database.Migrate(ctx, db.Pool); err != nil {
		t.Fatalf("Migrate as IAM user: %v", err)
	}
	var user string
	if err := db.Pool.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		t.Fatalf("query: %v", err)
	}
	want := strings.TrimSuffix(email, ".gserviceaccount.com")
	if user != want {
		t.Errorf("logged in as %q, want %q (the service account email without .gserviceaccount.com)", user, want)
	}
	logins := in.fake.IAMLogins()
	if len(logins) == 0 || logins[0] != want+" login-token-ok" {
		t.Errorf("instance saw IAM logins %q, want %q with the login token", logins, want)
	}
}

func TestCloudSQLIAMLoginFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		token *staticTokens
		want  []string
	}{
		{
			name:  "token the instance does not accept",
			token: loginTokens("expired-or-forged"),
			want:  []string{"Cloud SQL IAM service account authentication failed for user", "roles/cloudsql.instanceUser", "--service-account", "--type=cloud_iam_service_account"},
		},
		{
			name:  "token of another principal",
			token: loginTokens("someone-elses-token"),
			want:  []string{"Cloud SQL IAM service account authentication failed for user", "roles/cloudsql.instanceUser"},
		},
		{
			name:  "no token available",
			token: &staticTokens{err: errors.New("google: could not find default credentials")},
			want:  []string{"DB_IAM_AUTH=true needs an OAuth2 token", "gcloud auth application-default login", "could not find default credentials"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, _ := iamInstance(t, map[string]string{"someone-elses-token": "other@test-project.iam.gserviceaccount.com"})
			db := open(t, in.config(t, nil), database.WithDialerOptions(in.fake.IAMDialerOptions(tc.token)...))
			err := db.Pool.Ping(ctxT(t))
			if err == nil {
				t.Fatal("ping succeeded, want a failed login")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestCloudSQLDialerErrorAtOpen: a dialer that cannot be built fails Open
// (at start-up, where configuration mistakes belong), not the first query.
func TestCloudSQLDialerErrorAtOpen(t *testing.T) {
	t.Parallel()
	in := newInstance(t, cloudsqltest.Options{})
	opts := append(in.fake.DialerOptions(), cloudsqlconn.WithComputePlatform("not-a-platform"))
	_, err := database.Open(context.Background(), in.config(t, nil), database.WithDialerOptions(opts...))
	if err == nil || !strings.Contains(err.Error(), "cloud sql dialer") {
		t.Fatalf("Open with a bad dialer option = %v, want a dialer error", err)
	}
}

// TestCloudSQLIAMUserMustBeAnEmail: a bare user name with DB_IAM_AUTH=true
// is caught at start-up, not as a puzzling login failure later.
func TestCloudSQLIAMUserMustBeAnEmail(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"INSTANCE_CONNECTION_NAME": "test-project:europe-west1:test-instance",
		"DB_NAME":                  "app",
		"DB_IAM_AUTH":              "true",
		"DB_USER":                  "app",
	}
	_, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), "DB_USER: must be the IAM principal's email") {
		t.Fatalf("config.Load = %v, want a DB_USER problem", err)
	}
}
