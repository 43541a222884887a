package config

import "log/slog"

// Auth selects how callers are identified. Issue #3 grows this into IAP,
// proxy and Cloud Run IAM modes; the core only knows "dev" and "none".
type Auth struct {
	Mode      string // "", "dev"
	DevUser   string
	DevGroups []string
}

func loadAuth(p *parser, onCloudRun bool) Auth {
	a := Auth{
		Mode:      p.oneOf("AUTH_MODE", "none", "none", "dev"),
		DevUser:   p.str("DEV_USER", "developer@example.com"),
		DevGroups: p.list("DEV_GROUPS"),
	}
	if a.Mode == "dev" && onCloudRun {
		p.problem("AUTH_MODE", "dev gives every caller a fixed identity and is refused on Cloud Run (K_SERVICE is set)")
	}
	return a
}

// LogValue prints the auth settings; none of them are secret yet.
func (a Auth) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mode", a.Mode),
		slog.String("dev_user", a.DevUser),
		slog.Any("dev_groups", a.DevGroups),
	)
}
