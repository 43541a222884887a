// Package cloudsqltest is a fake Cloud SQL instance for tests: an HTTP SQL
// Admin API (sql/v1beta4 connectSettings and generateEphemeralCert) and the
// instance's server-side proxy (mutual TLS 1.3 on "port 3307") that pipes
// bytes to a real PostgreSQL. The real Cloud SQL Go connector talks to it
// unchanged, redirected only by its public options, so tests drive the same
// code path as production.
//
// It is test support: only _test.go files may import it.
package cloudsqltest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/cloudsqlconn"
	"golang.org/x/oauth2"
)

// Fault makes the fake fail the way a misconfigured Cloud SQL setup does.
type Fault int

const (
	// NoFault: everything works.
	NoFault Fault = iota
	// APIDisabled: every Admin API call answers 403 PERMISSION_DENIED
	// SERVICE_DISABLED, as when the Cloud SQL Admin API is not enabled in
	// the project.
	APIDisabled
	// NotAuthorized: every Admin API call answers 403 notAuthorized, as when
	// the caller lacks roles/cloudsql.client.
	NotAuthorized
	// RogueServerCert: the proxy presents a certificate that does not chain
	// to the server CA that connectSettings reports (a man in the middle).
	RogueServerCert
	// OtherInstanceCert: the proxy presents a properly signed certificate
	// for another instance of the project (wrong address for the instance).
	OtherInstanceCert
)

// Options describe the fake instance. Zero values pick working defaults.
type Options struct {
	// Backend is host:port of the real PostgreSQL the proxy forwards to.
	Backend string

	Project         string // default "test-project"
	ProjectNumber   string // default "123456789012"; used in error texts
	Region          string // default "europe-west1"
	Name            string // instance name, default "test-instance"
	DatabaseVersion string // default "POSTGRES_16"

	// PublicIP and PrivateIP are the addresses connectSettings reports.
	// PublicIP defaults to 203.0.113.10 unless NoPublicIP; PrivateIP is
	// reported only when set.
	PublicIP   string
	NoPublicIP bool
	PrivateIP  string
	// PSCDNSName, when set, enables Private Service Connect with this DNS
	// name (e.g. "abc123.europe-west1.sql-psc.goog.").
	PSCDNSName string
	// DNSName, when set, reports the instance's DNS name (CAS-based server CA
	// mode) and puts it in the server certificate's SANs. When empty the
	// connector checks the legacy CN "project:instance".
	DNSName string

	// CertLifetime is how long ephemeral client certificates are valid;
	// default one hour, as in Cloud SQL. The connector's lazy cache refreshes
	// four minutes before expiry, so 4m+a few seconds makes a test refresh soon.
	CertLifetime time.Duration

	// APIToken, when set, is the only bearer token the Admin API accepts.
	APIToken string
	// IAMPrincipals maps IAM login tokens (the access_token sent to
	// generateEphemeralCert) to the principal's email. A connection whose
	// PostgreSQL user looks like an IAM user ("...@...") is admitted only when
	// its client certificate carries a token of that principal.
	IAMPrincipals map[string]string
}

// Calls counts Admin API requests, whatever their outcome.
type Calls struct {
	ConnectSettings       int
	GenerateEphemeralCert int
}

// Fake is a running fake Cloud SQL instance.
type Fake struct {
	opts Options
	api  *httptest.Server
	ln   net.Listener

	serverCA, clientCA, rogueCA *authority
	serverCert                  tls.Certificate // the proxy's certificate
	rogueCert, otherCert        tls.Certificate

	connectSettings atomic.Int64
	ephemeralCerts  atomic.Int64
	openConns       atomic.Int64

	mu       sync.Mutex
	fault    Fault
	tokens   map[string]string // client certificate serial -> IAM login token
	dialed   []string
	logins   []string // IAM logins admitted, as "user token"
	loginErr []string // IAM login rejections, for test diagnostics
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// New starts a fake instance and stops it when the test ends.
func New(t testing.TB, o Options) *Fake {
	t.Helper()
	f, err := Start(o)
	if err != nil {
		t.Fatalf("cloudsqltest: %v", err)
	}
	t.Cleanup(f.Close)
	return f
}

// Start starts a fake instance; Close stops it.
func Start(o Options) (*Fake, error) {
	if o.Backend == "" {
		return nil, errors.New("cloudsqltest: Options.Backend (host:port of a PostgreSQL) is required")
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Project, "test-project")
	def(&o.ProjectNumber, "123456789012")
	def(&o.Region, "europe-west1")
	def(&o.Name, "test-instance")
	def(&o.DatabaseVersion, "POSTGRES_16")
	if !o.NoPublicIP {
		def(&o.PublicIP, "203.0.113.10")
	}
	if o.CertLifetime == 0 {
		o.CertLifetime = time.Hour
	}
	f := &Fake{opts: o, tokens: map[string]string{}, conns: map[net.Conn]struct{}{}}
	var err error
	if f.serverCA, err = newAuthority("Google Cloud SQL Server CA"); err != nil {
		return nil, err
	}
	if f.clientCA, err = newAuthority("Google Cloud SQL Signing CA"); err != nil {
		return nil, err
	}
	if f.rogueCA, err = newAuthority("Google Cloud SQL Server CA"); err != nil {
		return nil, err
	}
	var sans []string
	for _, n := range []string{o.DNSName, o.PSCDNSName} {
		if n != "" {
			sans = append(sans, strings.TrimSuffix(n, "."))
		}
	}
	cn := o.Project + ":" + o.Name
	if f.serverCert, err = leaf(f.serverCA, cn, sans); err != nil {
		return nil, err
	}
	if f.rogueCert, err = leaf(f.rogueCA, cn, sans); err != nil {
		return nil, err
	}
	if f.otherCert, err = leaf(f.serverCA, o.Project+":another-instance", nil); err != nil {
		return nil, err
	}

	f.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cloudsqltest: listen: %w", err)
	}
	f.api = httptest.NewServer(f.adminAPI())
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

func leaf(ca *authority, commonName string, sans []string) (tls.Certificate, error) {
	c, key, err := ca.serverLeaf(commonName, sans)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key, Leaf: c}, nil
}

// Close stops the API server and the proxy and closes proxied connections.
func (f *Fake) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.api.Close()
	_ = f.ln.Close()
	f.wg.Wait()
}

// ConnectionName is the instance connection name, project:region:instance.
func (f *Fake) ConnectionName() string {
	return f.opts.Project + ":" + f.opts.Region + ":" + f.opts.Name
}

// AdminAPIEndpoint is the base URL to pass to cloudsqlconn.WithAdminAPIEndpoint.
func (f *Fake) AdminAPIEndpoint() string { return f.api.URL + "/" }

// SetFault switches the failure mode; it takes effect on the next API call
// or connection.
func (f *Fake) SetFault(x Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = x
}

func (f *Fake) currentFault() Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fault
}

// Calls reports how many Admin API requests arrived so far.
func (f *Fake) Calls() Calls {
	return Calls{
		ConnectSettings:       int(f.connectSettings.Load()),
		GenerateEphemeralCert: int(f.ephemeralCerts.Load()),
	}
}

// Dialed lists the addresses (host:port) the connector dialed, in order.
func (f *Fake) Dialed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.dialed...)
}

// OpenConns is the number of proxied connections currently open.
func (f *Fake) OpenConns() int { return int(f.openConns.Load()) }

// IAMLogins lists the IAM logins the fake admitted, each as "user token":
// proof that the login token reached the instance.
func (f *Fake) IAMLogins() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.logins...)
}

// LoginRejections lists the IAM logins the fake refused, with the reason.
func (f *Fake) LoginRejections() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.loginErr...)
}

// ServerCA is the server CA certificate connectSettings reports.
func (f *Fake) ServerCA() *x509.Certificate { return f.serverCA.cert }

// DialFunc stands in for the network between the connector and the
// instance: it connects <any address connectSettings reported>:3307 to the
// fake's proxy and refuses everything else, like an unreachable IP.
func (f *Fake) DialFunc(ctx context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	f.dialed = append(f.dialed, addr)
	f.mu.Unlock()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	known := false
	for _, a := range []string{f.opts.PublicIP, f.opts.PrivateIP, strings.TrimSuffix(f.opts.PSCDNSName, ".")} {
		if a != "" && a == host {
			known = true
		}
	}
	if !known || port != "3307" {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("cloudsqltest: no route to %s", addr)}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", f.ln.Addr().String())
}

// APITokenSource returns the token source the connector should use for the
// Admin API: Options.APIToken (or a placeholder), valid for an hour. Tokens
// need an expiry, or oauth2 treats them as never expiring but the connector
// would cap certificates at their zero expiry.
func (f *Fake) APITokenSource() oauth2.TokenSource {
	tok := f.opts.APIToken
	if tok == "" {
		tok = "cloudsqltest-api-token"
	}
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)})
}

// DialerOptions point a password-login dialer at the fake: Admin API
// endpoint, network, API credentials, and no built-in metrics export (it
// would call Cloud Monitoring).
func (f *Fake) DialerOptions() []cloudsqlconn.Option {
	return []cloudsqlconn.Option{
		cloudsqlconn.WithAdminAPIEndpoint(f.AdminAPIEndpoint()),
		cloudsqlconn.WithDialFunc(f.DialFunc),
		cloudsqlconn.WithTokenSource(f.APITokenSource()),
		cloudsqlconn.WithBuiltInMetrics(false),
	}
}

// IAMDialerOptions are DialerOptions for IAM database login with login
// tokens from login.
func (f *Fake) IAMDialerOptions(login oauth2.TokenSource) []cloudsqlconn.Option {
	return []cloudsqlconn.Option{
		cloudsqlconn.WithAdminAPIEndpoint(f.AdminAPIEndpoint()),
		cloudsqlconn.WithDialFunc(f.DialFunc),
		cloudsqlconn.WithIAMAuthNTokenSources(f.APITokenSource(), login),
		cloudsqlconn.WithBuiltInMetrics(false),
	}
}
