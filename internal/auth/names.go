package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"example.com/example-function/internal/formatchar"
)

// maxIdentityBytes bounds a user or groups header value. 16 KiB is twice
// the 8 KiB a large group list reaches in practice, and well under the
// server's header limit.
const maxIdentityBytes = 16 << 10

// checkText refuses values that are ambiguous to log, compare or render:
// invalid UTF-8 and control characters (including tab, DEL and the C1
// range). net/http already refuses CR, LF and NUL, but other servers and
// direct handler calls may not.
func checkText(what, s string) error {
	if len(s) > maxIdentityBytes {
		return refuse(ReasonOversized, "%s of %d bytes exceeds %d", what, len(s), maxIdentityBytes)
	}
	if !utf8.ValidString(s) {
		return refuse(ReasonMalformed, "%s is not valid UTF-8", what)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return refuse(ReasonMalformed, "%s contains control characters", what)
	}
	return nil
}

// userName validates a user name from a header or token and strips the
// configured domain suffix, so that "alice@example.edu" becomes "alice",
// the name a campus sign-on knows her by. Only an exact (ASCII case-insensitive)
// suffix is stripped; other domains keep their full address, so no outside
// account can collide with a local name. Invisible format characters
// (bidirectional overrides and the like, see internal/formatchar) are
// refused: a name shown in pages and logs must read as what it is.
func userName(raw, domain string) (string, error) {
	if err := checkText("user", raw); err != nil {
		return "", err
	}
	if r, _, found := formatchar.Find(raw); found {
		return "", refuse(ReasonMalformed, "user contains the invisible format character U+%04X", r)
	}
	name := strings.TrimSpace(raw)
	if name == "" {
		return "", errMissing("empty user")
	}
	if domain != "" && len(name) >= len(domain) && asciiEqualFold(name[len(name)-len(domain):], domain) {
		name = strings.TrimSpace(name[:len(name)-len(domain)])
		if name == "" {
			return "", errMissing("user is only the domain")
		}
	}
	return name, nil
}

// ParseGroups splits a colon-separated group list as sent by the sign-on
// proxy ("staff:admins"). Empty entries from stray colons and surrounding
// spaces are dropped, duplicates are removed, order is kept. Control
// characters and invalid UTF-8 make the whole value invalid: it is refused,
// not repaired.
func ParseGroups(s string) ([]string, error) {
	if err := checkText("groups", s); err != nil {
		return nil, err
	}
	var groups []string
	seen := make(map[string]bool)
	for g := range strings.SplitSeq(s, ":") {
		g = strings.TrimSpace(g)
		if g == "" || seen[g] {
			continue
		}
		seen[g] = true
		groups = append(groups, g)
	}
	return groups, nil
}

// asciiEqualFold compares case-insensitively in ASCII only. Unicode folding
// would let, say, a Kelvin sign stand in for "k" in a user name.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if asciiLower(a[i]) != asciiLower(b[i]) {
			return false
		}
	}
	return true
}

func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
