package config

import (
	"errors"
	"net/url"
	"strings"
)

// sslModes are the values libpq (and pgx) accept for sslmode.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// checkSSLMode enforces the rule that a DATABASE_URL leaving this machine
// says how it uses TLS: without sslmode, pgx (like libpq) falls back to
// "prefer", which accepts an unverified certificate or, when the server or
// anyone in between declines TLS, plaintext. Problems never quote the URL
// or any part of it: it may hold a password.
func checkSSLMode(p *parser, dsn string) {
	settings, err := connSettings(dsn)
	if err != nil {
		if looksLikeURL(dsn) {
			p.problem("DATABASE_URL", "is not a valid URL")
		} else {
			p.problem("DATABASE_URL", "cannot be parsed as key=value pairs")
		}
		return
	}
	mode, explicit := settings["sslmode"]
	name := "DATABASE_URL"
	if !explicit {
		mode, explicit = p.raw("PGSSLMODE")
		name = "PGSSLMODE"
	}
	if explicit {
		mode = strings.ToLower(strings.TrimSpace(mode))
		if !isOneOf(mode, sslModes) {
			p.problem(name, "sslmode must be one of %s", strings.Join(sslModes, ", "))
		}
		return
	}
	hosts, ok := settings["host"]
	if !ok {
		hosts, _ = p.raw("PGHOST")
	}
	for _, h := range strings.Split(hosts, ",") {
		if !isLocalPostgresHost(h) {
			p.problem("DATABASE_URL", "connects to a host beyond this machine without an sslmode, so pgx would fall back to "+
				"unverified TLS or plaintext; add sslmode=verify-full (TLS, server certificate checked; needs sslrootcert), "+
				"sslmode=require (TLS, certificate not checked) or sslmode=disable (plaintext: a private network only), "+
				"or set PGSSLMODE")
			return
		}
	}
}

// isLocalPostgresHost reports whether a libpq host entry stays on this
// machine: empty (libpq's default, a local socket or localhost), a
// Unix-socket directory, or a loopback host.
func isLocalPostgresHost(h string) bool {
	h = strings.TrimSpace(h)
	return h == "" || strings.HasPrefix(h, "/") || isLoopbackHost(h)
}

func isOneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// connSettings reads the host list and sslmode of a libpq connection
// string, URL or key=value, as libpq does: a URL's query parameters
// override its authority (?host=/run/postgresql), and ssl=true means
// sslmode=require. Only the keys the TLS rule needs are returned.
func connSettings(dsn string) (map[string]string, error) {
	if looksLikeURL(dsn) {
		return urlSettings(dsn)
	}
	return keywordSettings(dsn)
}

func urlSettings(dsn string) (map[string]string, error) {
	p := dsn[strings.Index(dsn, "://")+3:]
	// As in libpq, user info ends at an '@' met before any '/'.
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		p = p[i+1:]
	}
	var hosts []string
	for {
		var host string
		if strings.HasPrefix(p, "[") {
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, errors.New("unterminated IPv6 address")
			}
			host, p = p[1:end], p[end+1:]
		} else {
			end := strings.IndexAny(p, ":/?,")
			if end < 0 {
				end = len(p)
			}
			host, p = p[:end], p[end:]
		}
		if strings.HasPrefix(p, ":") {
			end := strings.IndexAny(p, "/?,")
			if end < 0 {
				end = len(p)
			}
			if port := strings.TrimSpace(p[1:end]); strings.Trim(port, "0123456789") != "" {
				return nil, errors.New("invalid port")
			}
			p = p[end:]
		}
		h, err := url.PathUnescape(host)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
		if !strings.HasPrefix(p, ",") {
			break
		}
		p = p[1:]
	}
	settings := map[string]string{}
	if len(hosts) > 1 || hosts[0] != "" {
		settings["host"] = strings.Join(hosts, ",")
	}
	if _, query, ok := strings.Cut(p, "?"); ok {
		for _, kv := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			key, err1 := url.PathUnescape(k)
			val, err2 := url.PathUnescape(v)
			if err := errors.Join(err1, err2); err != nil {
				return nil, err
			}
			// The last of ssl=true and sslmode wins, as in pgx and libpq.
			switch {
			case key == "ssl" && val == "true":
				settings["sslmode"] = "require"
			case key == "host" || key == "sslmode":
				settings[key] = strings.TrimSpace(val)
			}
		}
	}
	return settings, nil
}

// keywordSettings parses key=value pairs separated by white space, values
// optionally single-quoted, with backslash escapes (libpq's conninfo).
func keywordSettings(s string) (map[string]string, error) {
	settings := map[string]string{}
	s = strings.TrimSpace(s)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, errors.New("invalid keyword/value")
		}
		key := strings.TrimSpace(s[:eq])
		if strings.ContainsAny(key, " \t\n\r\v\f") {
			return nil, errors.New(`missing "=" after a keyword`)
		}
		s = strings.TrimLeft(s[eq+1:], " \t\n\r\v\f")
		var val strings.Builder
		quoted := strings.HasPrefix(s, "'")
		if quoted {
			s = s[1:]
		}
		i := 0
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				val.WriteByte(s[i])
				continue
			}
			if (quoted && c == '\'') || (!quoted && strings.IndexByte(" \t\n\r\v\f", c) >= 0) {
				break
			}
			val.WriteByte(c)
		}
		if quoted {
			if i >= len(s) {
				return nil, errors.New("unterminated quoted string")
			}
			i++ // the closing quote
		}
		s = strings.TrimLeft(s[i:], " \t\n\r\v\f")
		settings[key] = val.String()
	}
	return settings, nil
}
