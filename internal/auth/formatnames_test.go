package auth

import (
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// User names reach pages and logs: one that would display as something
// else (a right-to-left override, an isolate, a zero width space) is
// refused as malformed from every source; joiners and flag tags are text.
func TestUserNamesWithFormatCharacters(t *testing.T) {
	t.Parallel()
	iapIssuer := newFakeIssuer(t, jose.ES256)
	iap := newTestIAP(t, iapIssuer, "@example.edu")
	googleIssuer := newFakeIssuer(t, jose.RS256)
	crun := newTestCloudRun(t, googleIssuer)
	proxy := newTestProxy(t)

	authenticate := map[string]func(email string) (User, error){
		"proxy": func(email string) (User, error) {
			return proxy.Authenticate(proxyRequest("X-Auth-Proxy-Secret: "+testSecret, "X-Forwarded-User: "+email))
		},
		"iap": func(email string) (User, error) {
			return iap.Authenticate(iapRequest(iapIssuer.sign("key-1", claims(IAPIssuer, testIAPAudience, email))))
		},
		"cloudrun-iam": func(email string) (User, error) {
			return crun.Authenticate(bearer("Bearer " + googleIssuer.sign("key-1", claims("https://accounts.google.com", testServiceURL, email))))
		},
	}
	refused := []string{
		"gpj.exe\u202E@example.edu", // shows as "exe.jpg"-style reversal
		"ad\u200Bmin@example.edu",
		"\u2067alice\u2069@example.edu",
		"alice\u200F@example.edu",
		"alice\u061C@example.edu",
		"alice\uFEFF@example.edu",
		"alice\U000E0061\U000E007F@example.edu",
	}
	accepted := map[string]string{
		"ali\u200Dce@example.edu":   "ali\u200Dce",
		"می\u200Cخواهم@example.edu": "می\u200Cخواهم",
		"🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F@example.edu": "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
	}
	for source, auth := range authenticate {
		for _, email := range refused {
			u, err := auth(email)
			if err == nil || ReasonOf(err) != ReasonMalformed {
				t.Errorf("%s %q: %+v, %v; want %s", source, email, u, err, ReasonMalformed)
			}
		}
		for email, want := range accepted {
			if u, err := auth(email); err != nil || u.Name != want {
				t.Errorf("%s %q: %+v, %v; want %q", source, email, u, err, want)
			}
		}
	}
}
