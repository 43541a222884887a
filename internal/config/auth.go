package config

import (
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Auth selects how callers are identified (AUTH_MODE) and what they may do
// (VIEWER_*/EDITOR_*). The values are handed to internal/auth unchanged;
// this file only reads and checks them.
type Auth struct {
	// Mode is none, dev, proxy, iap or cloudrun-iam.
	Mode string

	// dev: a fixed identity for `make run`.
	DevUser   string
	DevGroups []string
	// AllowDevOnCloudRun (ALLOW_DEV_AUTH_ON_CLOUD_RUN) lets dev mode start
	// on Cloud Run; the service then logs a loud warning at start.
	AllowDevOnCloudRun bool
	// OnCloudRun is copied from Config so the auth wiring can warn.
	OnCloudRun bool

	// iap: Identity-Aware Proxy's signed header.
	IAPAudience string
	IAPJWKSURL  string

	// proxy: a single-sign-on proxy proven by a shared secret.
	ProxySecret       Secret
	ProxySecretHeader string
	ProxyUserHeader   string
	ProxyGroupsHeader string
	// ProxyPlaceholderUsers (AUTH_PROXY_PLACEHOLDER_USERS) are user values
	// that mean "nobody signed in" for this site's proxy, refused like the
	// built-in ones ("(null)", "-", "(none)"; see internal/auth).
	ProxyPlaceholderUsers []string

	// cloudrun-iam: Google ID tokens for a private Cloud Run service.
	CloudRunAudiences []string
	GoogleCertsURL    string

	// UserDomain (AUTH_USER_DOMAIN), e.g. "@example.edu", is stripped from
	// user names in every mode.
	UserDomain string

	// Roles. Users match case-insensitively; "*" in a users list means
	// every signed-in caller.
	ViewerGroups []string
	EditorGroups []string
	ViewerUsers  []string
	EditorUsers  []string

	// TrustedOrigins (CSRF_TRUSTED_ORIGINS) may send unsafe cross-origin
	// requests, e.g. https://admin.example.edu.
	TrustedOrigins []string

	// KeysMaxStale (AUTH_KEYS_MAX_STALE) is how long a signing key set
	// (iap, cloudrun-iam) may serve after its last successful fetch while
	// the issuer's endpoint cannot be reached; past it, signed-in requests
	// get 503 until a fetch succeeds. Sets are refreshed after an hour.
	KeysMaxStale time.Duration

	// SignOutURL (SIGN_OUT_URL) is the "Sign out" link on every page: a
	// path on this service or an http(s) URL, "none" for no link. The
	// default is IAP's documented sign-out with AUTH_MODE=iap, and no
	// link otherwise (dev and cloudrun-iam have no session to end; a
	// sign-on proxy's logout address is site-specific).
	SignOutURL string
}

// IAPSignOutURL clears IAP's login cookie: IAP answers this query on any
// path of the protected service itself.
const IAPSignOutURL = "/?gcp-iap-mode=CLEAR_LOGIN_COOKIE"

// AuthModes are the values AUTH_MODE accepts, the names of internal/auth's
// modes (a test of the composition root checks they agree).
var AuthModes = []string{"none", "dev", "proxy", "iap", "cloudrun-iam"}

// Defaults of the auth settings.
const (
	DefaultIAPJWKSURL        = "https://www.gstatic.com/iap/verify/public_key-jwk"
	DefaultGoogleCertsURL    = "https://www.googleapis.com/oauth2/v3/certs"
	DefaultProxySecretHeader = "X-Auth-Proxy-Secret"
	DefaultProxyUserHeader   = "X-Forwarded-User"
	DefaultProxyGroupsHeader = "X-Forwarded-Groups"
	// MinProxySecretBytes is internal/auth's MinProxySecretBytes, checked
	// here too so every problem is reported at once (a test of the
	// composition root checks they agree).
	MinProxySecretBytes = 32
	// DefaultKeysMaxStale is AUTH_KEYS_MAX_STALE's default; KeysRefreshAge
	// (internal/auth's KeySetRefreshAge, likewise checked) its lower bound.
	DefaultKeysMaxStale = 24 * time.Hour
	KeysRefreshAge      = time.Hour
)

// Secret is a configuration value that must never reach a log: every
// formatting verb prints a placeholder. Convert it explicitly
// (string(s), []byte(s)) where the value is needed.
type Secret string

func (s Secret) String() string   { return s.mask() }
func (s Secret) GoString() string { return s.mask() }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.mask()) }

// MarshalText keeps JSON and text encoders from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// iapAudience matches the signed header audiences Google documents: a load
// balancer's backend service, App Engine, and IAP enabled directly on a
// Cloud Run service.
var iapAudience = regexp.MustCompile(`^/projects/[0-9]+/(global/backendServices/[0-9]+|apps/[a-z][-a-z0-9:.]*|locations/[a-z0-9-]+/services/[a-z0-9-]+)$`)

// headerToken matches an HTTP header field name.
var headerToken = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)

func loadAuth(p *parser, onCloudRun bool) Auth {
	a := Auth{
		Mode:               p.oneOf("AUTH_MODE", "none", AuthModes...),
		DevUser:            p.str("DEV_USER", "developer@example.com"),
		DevGroups:          p.list("DEV_GROUPS"),
		AllowDevOnCloudRun: p.boolean("ALLOW_DEV_AUTH_ON_CLOUD_RUN", false),
		OnCloudRun:         onCloudRun,
		IAPAudience:        p.str("IAP_AUDIENCE", ""),
		IAPJWKSURL:         p.str("IAP_JWKS_URL", DefaultIAPJWKSURL),
		ProxySecret:        Secret(p.str("AUTH_PROXY_SECRET", "")),
		ProxySecretHeader:  p.str("AUTH_PROXY_SECRET_HEADER", DefaultProxySecretHeader),
		ProxyUserHeader:    p.str("AUTH_PROXY_USER_HEADER", DefaultProxyUserHeader),
		ProxyGroupsHeader:  p.str("AUTH_PROXY_GROUPS_HEADER", DefaultProxyGroupsHeader),
		CloudRunAudiences:  p.list("CLOUDRUN_AUDIENCE"),
		GoogleCertsURL:     p.str("GOOGLE_CERTS_URL", DefaultGoogleCertsURL),
		UserDomain:         p.str("AUTH_USER_DOMAIN", ""),
		ViewerGroups:       p.list("VIEWER_GROUPS"),
		EditorGroups:       p.list("EDITOR_GROUPS"),
		ViewerUsers:        p.list("VIEWER_USERS"),
		EditorUsers:        p.list("EDITOR_USERS"),
		TrustedOrigins:     p.list("CSRF_TRUSTED_ORIGINS"),
		KeysMaxStale:       p.duration("AUTH_KEYS_MAX_STALE", DefaultKeysMaxStale),
	}
	if a.KeysMaxStale <= KeysRefreshAge {
		p.problem("AUTH_KEYS_MAX_STALE", "must be longer than %s, the age at which key sets are refreshed, got %s", KeysRefreshAge, a.KeysMaxStale)
	}
	a.ProxyPlaceholderUsers = p.list("AUTH_PROXY_PLACEHOLDER_USERS")
	if a.UserDomain != "" && !strings.HasPrefix(a.UserDomain, "@") {
		a.UserDomain = "@" + a.UserDomain
	}
	if strings.ContainsAny(a.UserDomain, " \t") || strings.Count(a.UserDomain, "@") > 1 {
		p.problem("AUTH_USER_DOMAIN", "must be a domain suffix such as @example.edu, got %q", a.UserDomain)
	}
	for _, o := range a.TrustedOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			p.problem("CSRF_TRUSTED_ORIGINS", "must list origins such as https://admin.example.edu, got %q", o)
		}
	}
	a.SignOutURL = loadSignOutURL(p, a.Mode)
	noRoles := len(a.ViewerGroups)+len(a.EditorGroups)+len(a.ViewerUsers)+len(a.EditorUsers) == 0

	switch a.Mode {
	case "dev":
		if onCloudRun && !a.AllowDevOnCloudRun {
			p.problem("AUTH_MODE", "dev gives every caller a fixed identity and is refused on Cloud Run (K_SERVICE is set); "+
				"set ALLOW_DEV_AUTH_ON_CLOUD_RUN=true only for a private test service")
		}
		if noRoles {
			// `make run` should just work: the dev user may do everything.
			a.EditorUsers = []string{a.DevUser}
		}
	case "iap":
		if a.IAPAudience == "" {
			p.problem("IAP_AUDIENCE", "is required with AUTH_MODE=iap (/projects/NUMBER/global/backendServices/ID or /projects/NUMBER/apps/PROJECT_ID)")
		} else if !iapAudience.MatchString(a.IAPAudience) {
			p.problem("IAP_AUDIENCE", "must look like /projects/NUMBER/global/backendServices/ID or /projects/NUMBER/apps/PROJECT_ID, got %q", a.IAPAudience)
		}
		checkKeysURL(p, "IAP_JWKS_URL", a.IAPJWKSURL)
	case "proxy":
		if n := len(a.ProxySecret); n < MinProxySecretBytes {
			p.problem("AUTH_PROXY_SECRET", "is required with AUTH_MODE=proxy and must be at least %d bytes (got %d); generate one with: openssl rand -base64 48",
				MinProxySecretBytes, n)
		}
		names := map[string]string{}
		for _, h := range [][2]string{{"AUTH_PROXY_SECRET_HEADER", a.ProxySecretHeader}, {"AUTH_PROXY_USER_HEADER", a.ProxyUserHeader}, {"AUTH_PROXY_GROUPS_HEADER", a.ProxyGroupsHeader}} {
			if !headerToken.MatchString(h[1]) {
				p.problem(h[0], "must be an HTTP header name, got %q", h[1])
			}
			if other, dup := names[strings.ToLower(h[1])]; dup {
				p.problem(h[0], "must differ from %s", other)
			}
			names[strings.ToLower(h[1])] = h[0]
		}
	case "cloudrun-iam":
		if len(a.CloudRunAudiences) == 0 {
			p.problem("CLOUDRUN_AUDIENCE", "is required with AUTH_MODE=cloudrun-iam: the service URL, e.g. https://SERVICE-PROJECT_NUMBER.REGION.run.app")
		}
		checkKeysURL(p, "GOOGLE_CERTS_URL", a.GoogleCertsURL)
	}
	if noRoles && (a.Mode == "iap" || a.Mode == "proxy" || a.Mode == "cloudrun-iam") {
		p.problem("VIEWER_GROUPS", "no roles granted: set at least one of VIEWER_GROUPS, EDITOR_GROUPS, VIEWER_USERS, EDITOR_USERS, "+
			"or every signed-in caller gets 403")
	}
	return a
}

func loadSignOutURL(p *parser, mode string) string {
	def := ""
	if mode == "iap" {
		def = IAPSignOutURL
	}
	v := p.str("SIGN_OUT_URL", def)
	if strings.EqualFold(v, "none") {
		return ""
	}
	if v == "" {
		return v
	}
	u, err := url.Parse(v)
	local := err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") && !strings.HasPrefix(v, "/\\")
	remote := err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
	if (!local && !remote) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		p.problem("SIGN_OUT_URL", "must be a path such as /logout, an http(s) URL, or none, got %q", v)
		return ""
	}
	return v
}

// checkKeysURL accepts https, and plain http only on the loopback (a local
// fake issuer in tests and development): keys fetched over plain HTTP from
// elsewhere could be swapped in transit.
func checkKeysURL(p *parser, name, v string) {
	u, err := url.Parse(v)
	if err == nil && u.Host != "" {
		if u.Scheme == "https" {
			return
		}
		if u.Scheme == "http" && isLoopbackHost(u.Hostname()) {
			return
		}
	}
	p.problem(name, "must be an https URL (http only for localhost), got %q", v)
}

// LogValue prints the auth settings; the proxy secret only as set or not.
func (a Auth) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("mode", a.Mode)}
	switch a.Mode {
	case "dev":
		attrs = append(attrs, slog.String("dev_user", a.DevUser), slog.Any("dev_groups", a.DevGroups),
			slog.Bool("allow_dev_on_cloud_run", a.AllowDevOnCloudRun))
	case "iap":
		attrs = append(attrs, slog.String("iap_audience", a.IAPAudience), slog.String("iap_jwks_url", a.IAPJWKSURL),
			slog.String("keys_max_stale", a.KeysMaxStale.String()))
	case "proxy":
		attrs = append(attrs, slog.Bool("proxy_secret_set", a.ProxySecret != ""),
			slog.String("proxy_secret_header", a.ProxySecretHeader),
			slog.String("proxy_user_header", a.ProxyUserHeader),
			slog.String("proxy_groups_header", a.ProxyGroupsHeader),
			slog.Any("proxy_placeholder_users", a.ProxyPlaceholderUsers))
	case "cloudrun-iam":
		attrs = append(attrs, slog.Any("cloudrun_audience", a.CloudRunAudiences), slog.String("google_certs_url", a.GoogleCertsURL),
			slog.String("keys_max_stale", a.KeysMaxStale.String()))
	}
	attrs = append(attrs,
		slog.String("user_domain", a.UserDomain),
		slog.Any("viewer_groups", a.ViewerGroups), slog.Any("editor_groups", a.EditorGroups),
		slog.Any("viewer_users", a.ViewerUsers), slog.Any("editor_users", a.EditorUsers),
		slog.Any("csrf_trusted_origins", a.TrustedOrigins),
		slog.String("sign_out_url", a.SignOutURL),
	)
	return slog.GroupValue(attrs...)
}
