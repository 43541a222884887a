package app

import (
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
			Secret:       []byte(c.ProxySecret),
			SecretHeader: c.ProxySecretHeader,
			UserHeader:   c.ProxyUserHeader,
			GroupsHeader: c.ProxyGroupsHeader,
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
