package service

import (
	"log/slog"
	"slices"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/config"
)

// authOptions maps the validated configuration onto internal/auth's plain
// options; auth knows nothing of config and config nothing of auth.
func authOptions(c config.Auth) auth.Options {
	return auth.Options{
		Mode:          c.Mode,
		Dev:           auth.User{Name: c.DevUser, Groups: c.DevGroups},
		DevOnCloudRun: c.Mode == auth.ModeDev && c.OnCloudRun,
		IAPAudience:   c.IAPAudience,
		IAPKeysURL:    c.IAPJWKSURL,
		Proxy: auth.ProxyOptions{
			Secret:           []byte(c.ProxySecret),
			SecretHeader:     c.ProxySecretHeader,
			UserHeader:       c.ProxyUserHeader,
			GroupsHeader:     c.ProxyGroupsHeader,
			PlaceholderUsers: c.ProxyPlaceholderUsers,
		},
		CloudRunAudiences: c.CloudRunAudiences,
		GoogleCertsURL:    c.GoogleCertsURL,
		UserDomain:        c.UserDomain,
		KeysMaxStale:      c.KeysMaxStale,
	}
}

// authPolicy maps the role lists onto an auth.Policy.
func authPolicy(c config.Auth) auth.Policy {
	return auth.Policy{
		ViewerGroups: c.ViewerGroups,
		EditorGroups: c.EditorGroups,
		ViewerUsers:  c.ViewerUsers,
		EditorUsers:  c.EditorUsers,
	}
}

// warnWildcardGrants logs when "*" meets cloudrun-iam. Any Google account
// can obtain an ID token for any audience (a service account in a project
// of its own, for one), so "*" is only as narrow as Cloud Run's own IAM
// check: right for a --no-allow-unauthenticated service, wide open on a
// public one. The safe public set-up is IAP or a load balancer in front.
func warnWildcardGrants(c config.Auth, logger *slog.Logger) {
	if c.Mode != auth.ModeCloudRunIAM {
		return
	}
	for _, g := range []struct {
		name  string
		users []string
	}{{"VIEWER_USERS", c.ViewerUsers}, {"EDITOR_USERS", c.EditorUsers}} {
		if slices.Contains(g.users, auth.AnyUser) {
			logger.Warn("AUTH_MODE=cloudrun-iam with "+g.name+"=*: every caller holding a Google ID token for "+
				"CLOUDRUN_AUDIENCE gets this role; safe only while the service is private "+
				"(--no-allow-unauthenticated, callers need roles/run.invoker). For a public service put IAP "+
				"in front and use AUTH_MODE=iap (docs/auth.md)",
				slog.String("grant", g.name))
		}
	}
}
