package database

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"cloud.google.com/go/cloudsqlconn"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/api/googleapi"

	"example.com/example-function/internal/config"
)

// serviceAccountSuffix ends every service account email. Cloud SQL names a
// service account's PostgreSQL user after the email without it
// ("app@project.iam"), because PostgreSQL limits names to 63 bytes.
const serviceAccountSuffix = ".gserviceaccount.com"

// cloudSQLUser is the PostgreSQL user to log in as. With IAM login DB_USER
// may be given as the service account's email as it appears everywhere else
// in Google Cloud; the suffix Cloud SQL drops is dropped here too.
func cloudSQLUser(c config.Database) string {
	if c.IAMAuth {
		return strings.TrimSuffix(c.User, serviceAccountSuffix)
	}
	return c.User
}

// newDialer builds the process's one Cloud SQL dialer. Lazy refresh suits
// Cloud Run, where CPU is throttled between requests and a background
// refresh cycle would stall; the first connection fetches the certificate.
// The connector's built-in metrics export to Cloud Monitoring is off: it
// needs roles/monitoring.metricWriter and the app reports its own pool and
// query telemetry. extra comes last, so callers can override any default
// (tests point the Admin API endpoint and the network at a fake).
func newDialer(ctx context.Context, c config.Database, extra []cloudsqlconn.Option) (*cloudsqlconn.Dialer, error) {
	opts := []cloudsqlconn.Option{
		cloudsqlconn.WithLazyRefresh(),
		cloudsqlconn.WithBuiltInMetrics(false),
	}
	if c.IAMAuth {
		opts = append(opts, cloudsqlconn.WithIAMAuthN())
	}
	opts = append(opts, extra...)
	d, err := cloudsqlconn.NewDialer(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("database: cloud sql dialer (are Application Default Credentials available? on Cloud Run set --service-account; locally run \"gcloud auth application-default login\"): %w", err)
	}
	return d, nil
}

// dialFunc connects through the dialer and turns the connector's errors
// into ones that say which setting or permission to fix.
func dialFunc(d *cloudsqlconn.Dialer, c config.Database) func(ctx context.Context, _, _ string) (net.Conn, error) {
	instance := c.InstanceConnectionName
	opt := ipTypeOption(c.IPType)
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		conn, err := d.Dial(ctx, instance, opt)
		if err != nil {
			return nil, explainDialError(c, err)
		}
		return conn, nil
	}
}

// cloudSQLLookup keeps the instance connection name, which stands in the
// pgx config as host, from being resolved in DNS: the dialer finds the
// instance through the Admin API. One "address" also means pgx makes one
// attempt per connection, not one per resolved address.
func cloudSQLLookup(_ context.Context, host string) ([]string, error) {
	return []string{host}, nil
}

// CloudSQLError is a failure to reach a Cloud SQL instance, with a hint
// naming what to change. Unwrap gives the connector's own error.
type CloudSQLError struct {
	Instance string
	Hint     string
	Err      error
}

func (e *CloudSQLError) Error() string {
	return fmt.Sprintf("cloud sql instance %s: %s (%s)", e.Instance, e.Hint, shortError(e.Err))
}

func (e *CloudSQLError) Unwrap() error { return e.Err }

// shortError keeps Google API errors to their one-line summary; the JSON
// details they carry would otherwise spread one log line over dozens.
func shortError(err error) string {
	s := err.Error()
	var g *googleapi.Error
	if errors.As(err, &g) {
		short := fmt.Sprintf("googleapi: Error %d: %s", g.Code, g.Message)
		s = strings.Replace(s, g.Error(), short, 1)
	}
	return strings.Join(strings.Fields(s), " ")
}

// explainDialError wraps err with a hint when the cause is recognisable.
func explainDialError(c config.Database, err error) error {
	if errors.Is(err, cloudsqlconn.ErrDialerClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	project, region, name := splitConnectionName(c.InstanceConnectionName)
	hint := dialHint(c, project, region, name, err)
	if hint == "" {
		return err
	}
	return &CloudSQLError{Instance: c.InstanceConnectionName, Hint: hint, Err: err}
}

func dialHint(c config.Database, project, region, name string, err error) string {
	msg := err.Error()
	var g *googleapi.Error
	if errors.As(err, &g) {
		switch {
		case g.Code == 403 && (hasReason(g, "accessNotConfigured") || strings.Contains(g.Body, "SERVICE_DISABLED")):
			return fmt.Sprintf("the Cloud SQL Admin API is not enabled in project %s: run \"gcloud services enable sqladmin.googleapis.com --project=%s\" and retry in a few minutes", project, project)
		case g.Code == 403:
			return fmt.Sprintf("the service account may not connect to the instance: grant it roles/cloudsql.client on project %s, and check INSTANCE_CONNECTION_NAME", project)
		case g.Code == 404:
			return fmt.Sprintf("project %s has no Cloud SQL instance %q: check INSTANCE_CONNECTION_NAME against \"gcloud sql instances describe INSTANCE --format='value(connectionName)'\"", project, name)
		case g.Code == 401:
			return "the SQL Admin API rejected the credentials: on Cloud Run check --service-account; locally run \"gcloud auth application-default login\""
		}
	}
	switch {
	case strings.Contains(msg, "region was mismatched"):
		return fmt.Sprintf("INSTANCE_CONNECTION_NAME names region %s, but the instance is in another region: copy the connection name from \"gcloud sql instances describe %s --format='value(connectionName)'\"", region, name)
	case strings.Contains(msg, "instance does not have IP of type"):
		switch c.IPType {
		case "private":
			return "DB_IP_TYPE=private but the instance has no private IP: enable private IP on the instance (private services access on its VPC network) or set DB_IP_TYPE=public"
		case "psc":
			return "DB_IP_TYPE=psc but the instance does not allow Private Service Connect: enable PSC on the instance or choose another DB_IP_TYPE"
		default:
			return "DB_IP_TYPE=public but the instance has no public IP: set DB_IP_TYPE=private (and give the service VPC egress) or add a public IP to the instance"
		}
	case strings.Contains(msg, "failed to retrieve Oauth2 token"):
		return "DB_IAM_AUTH=true needs an OAuth2 token for the login: run the service as the database's IAM principal (Cloud Run --service-account) or, locally, \"gcloud auth application-default login\""
	case isCertificateError(err):
		return "the server did not present this instance's certificate: the address reached is not this instance or something in between intercepts TLS; check INSTANCE_CONNECTION_NAME and DB_IP_TYPE"
	case strings.Contains(msg, "failed to dial"):
		if c.IPType == "private" || c.IPType == "psc" {
			return "cannot reach the instance's " + c.IPType + " address on port 3307: give the service VPC egress to the instance's network (Cloud Run --network/--subnet with --vpc-egress=private-ranges-only, or a VPC connector)"
		}
		return "cannot reach the instance's public IP on port 3307: check outbound firewall rules, or use DB_IP_TYPE=private"
	}
	return ""
}

func hasReason(g *googleapi.Error, reason string) bool {
	for _, e := range g.Errors {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

func isCertificateError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "failed to verify certificate") ||
		strings.Contains(msg, "certificate had CN") ||
		strings.Contains(msg, "certificate CN was empty") ||
		strings.Contains(msg, "x509: certificate")
}

// splitConnectionName splits project:region:instance; the project part may
// itself hold a colon (domain-scoped projects such as "example.com:proj").
func splitConnectionName(s string) (project, region, name string) {
	parts := strings.Split(s, ":")
	if len(parts) < 3 {
		return s, "", ""
	}
	n := len(parts)
	return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
}

// explainLoginError is an OnPgError hook: when Cloud SQL refuses an IAM
// database login it says only that it failed, so the message gains what to
// check. It then defers to the previous handler (which closes the
// connection on FATAL errors).
func explainLoginError(c config.Database, prev pgconn.PgErrorHandler) pgconn.PgErrorHandler {
	user := cloudSQLUser(c)
	return func(pc *pgconn.PgConn, e *pgconn.PgError) bool {
		if c.IAMAuth && e.Code == "28000" && strings.HasPrefix(e.Message, "Cloud SQL IAM") && e.Hint == "" {
			kind := "cloud_iam_user"
			if strings.HasSuffix(user, ".iam") {
				kind = "cloud_iam_service_account"
			}
			e.Hint = fmt.Sprintf("IAM database login as %q failed: the service must run as that principal (Cloud Run --service-account) "+
				"with a valid token, the principal needs roles/cloudsql.instanceUser, and the database user must exist "+
				"(gcloud sql users create %s --instance=INSTANCE --type=%s); DB_USER is the principal's email", user, user, kind)
			e.Message += "; hint: " + e.Hint
		}
		if prev != nil {
			return prev(pc, e)
		}
		return true
	}
}
