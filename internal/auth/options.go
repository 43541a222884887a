package auth

import (
	"log/slog"
	"net/http"
	"time"
)

// Modes accepted by New.
const (
	ModeNone        = "none"
	ModeDev         = "dev"
	ModeProxy       = "proxy"
	ModeIAP         = "iap"
	ModeCloudRunIAM = "cloudrun-iam"
)

// Options selects and configures one Authenticator from plain values, so
// that configuration code (which reads the environment) and this package
// stay independent of each other.
type Options struct {
	Mode string // one of the Mode constants; "" means none

	// Dev is the fixed identity of ModeDev.
	Dev User
	// DevOnCloudRun is true when ModeDev was allowed on Cloud Run by an
	// explicit override; New then logs a loud warning.
	DevOnCloudRun bool

	IAPAudience string
	IAPKeysURL  string

	Proxy ProxyOptions // UserDomain is taken from Options.UserDomain

	CloudRunAudiences []string
	GoogleCertsURL    string

	// UserDomain, e.g. "@example.edu", is stripped from user names in every
	// mode.
	UserDomain string

	// HTTPClient fetches key sets; a client with a 10 s timeout when nil.
	HTTPClient *http.Client
	// KeysMaxStale is how long a key set serves without a successful
	// fetch (iap, cloudrun-iam); 24 h when zero.
	KeysMaxStale time.Duration
	// Now is the clock for token checks; time.Now when nil.
	Now func() time.Time
}

// New returns the Authenticator for o.Mode. It logs the chosen mode once,
// and loudly when a development identity is active on Cloud Run.
func New(o Options, logger *slog.Logger) (Authenticator, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ks := KeySetOptions{Client: o.HTTPClient, Now: o.Now, MaxStale: o.KeysMaxStale, Logger: logger}
	var (
		a   Authenticator
		err error
	)
	switch o.Mode {
	case "", ModeNone:
		a = None{}
	case ModeDev:
		if o.Dev.Name == "" {
			return nil, errorf("dev mode needs a user name")
		}
		a = Dev{User: o.Dev}
		if o.DevOnCloudRun {
			logger.Error("AUTH_MODE=dev ON CLOUD RUN: every caller on the internet is signed in as the dev user; "+
				"remove ALLOW_DEV_AUTH_ON_CLOUD_RUN unless this service is private",
				slog.String("dev_user", o.Dev.Name))
		}
	case ModeProxy:
		p := o.Proxy
		p.UserDomain = o.UserDomain
		a, err = NewProxy(p)
	case ModeIAP:
		a, err = NewIAP(IAPOptions{Audience: o.IAPAudience, KeysURL: o.IAPKeysURL, KeySet: ks, UserDomain: o.UserDomain, Now: o.Now})
	case ModeCloudRunIAM:
		a, err = NewCloudRunIAM(CloudRunIAMOptions{Audiences: o.CloudRunAudiences, CertsURL: o.GoogleCertsURL, KeySet: ks, UserDomain: o.UserDomain, Now: o.Now})
	default:
		return nil, errorf("unknown mode %q", o.Mode)
	}
	if err != nil {
		return nil, err
	}
	logger.Info("sign-in configured", slog.String("mode", modeName(o.Mode)))
	return a, nil
}

func modeName(m string) string {
	if m == "" {
		return ModeNone
	}
	return m
}
