package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// maxTokenBytes bounds the tokens we parse. IAP assertions and Google ID
// tokens are around 1 KiB; anything near this size is an attack or a bug.
const maxTokenBytes = 8 << 10

// tokenVerifier checks a JWT in compact serialization against one issuer:
// exactly one signature algorithm, the issuer's published keys, its issuer
// names, our audiences and the time claims. Signature checks are done by
// go-jose; this type only decides which key and which claims are acceptable.
type tokenVerifier struct {
	keys      *KeySet
	alg       jose.SignatureAlgorithm
	issuers   []string
	audiences []string
	leeway    time.Duration
	// maxLifetime rejects tokens whose exp-iat exceeds what the issuer
	// ever grants (0: no limit).
	maxLifetime time.Duration
	now         func() time.Time
}

// tokenClaims are the claims we read from IAP assertions and Google ID
// tokens.
type tokenClaims struct {
	jwt.Claims
	Email         string `json:"email"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
}

// verify returns the claims of a valid token, or a *Refusal. It never puts
// the token or parts of it into the error.
func (v *tokenVerifier) verify(ctx context.Context, raw string) (tokenClaims, error) {
	var c tokenClaims
	if raw == "" {
		return c, errMissing("empty token")
	}
	if len(raw) > maxTokenBytes {
		return c, refuse(ReasonOversized, "token of %d bytes exceeds %d", len(raw), maxTokenBytes)
	}
	if !compactJWS(raw) {
		return c, refuse(ReasonMalformed, "not a compact JWS (three base64url parts)")
	}
	sig, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{v.alg})
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return c, refuse(ReasonBadAlgorithm, "signature algorithm is not %s", v.alg)
		}
		return c, refuse(ReasonMalformed, "parse token: %w", err)
	}
	if len(sig.Signatures) != 1 {
		return c, refuse(ReasonMalformed, "token has %d signatures", len(sig.Signatures))
	}
	kid := sig.Signatures[0].Header.KeyID
	if kid == "" {
		return c, refuse(ReasonMalformed, "token header has no key id")
	}
	key, err := v.keys.Key(ctx, kid)
	if err != nil {
		return c, err
	}
	if !keyFits(key, v.alg) {
		return c, refuse(ReasonBadAlgorithm, "published key %q is not a %s key", kid, v.alg)
	}
	payload, err := sig.Verify(key.Key)
	if err != nil {
		return c, refuse(ReasonBadSignature, "signature does not verify with key %q", kid)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, refuse(ReasonMalformed, "decode claims: %w", err)
	}
	return c, v.checkClaims(c)
}

func (v *tokenVerifier) checkClaims(c tokenClaims) error {
	if !slices.Contains(v.issuers, c.Issuer) {
		return refuse(ReasonWrongIssuer, "issuer is not one of %q", v.issuers)
	}
	if !slices.ContainsFunc(v.audiences, c.Audience.Contains) {
		return refuse(ReasonWrongAudience, "audience is not one of %q", v.audiences)
	}
	if c.Expiry == nil || c.IssuedAt == nil {
		return refuse(ReasonMissingClaim, "token lacks exp or iat")
	}
	now := v.now()
	switch err := c.ValidateWithLeeway(jwt.Expected{Time: now}, v.leeway); {
	case errors.Is(err, jwt.ErrExpired):
		return refuse(ReasonExpired, "token expired at %s", c.Expiry.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return refuse(ReasonNotYetValid, "token not valid before %s", now.Add(v.leeway).UTC().Format(time.RFC3339))
	case err != nil:
		return refuse(ReasonMalformed, "claims: %w", err)
	}
	if v.maxLifetime > 0 && c.Expiry.Time().Sub(c.IssuedAt.Time()) > v.maxLifetime {
		return refuse(ReasonMalformed, "token lifetime exceeds %s", v.maxLifetime)
	}
	if c.Email == "" {
		return refuse(ReasonMissingClaim, "token has no email claim")
	}
	if c.EmailVerified != nil && !*c.EmailVerified {
		return refuse(ReasonMissingClaim, "token email is not verified")
	}
	return nil
}

// compactJWS reports whether s has the shape header.payload.signature with
// base64url characters only. It keeps the JSON serialization (which go-jose
// would also accept) and stray characters away from the parser.
func compactJWS(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '.':
			dots++
		case b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z', b >= '0' && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return dots == 2
}

// keyFits reports whether a published key can verify alg: an issuer's key
// set may hold keys for other algorithms, and a key must never be used with
// an algorithm it was not made for.
func keyFits(k jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	switch alg {
	case jose.ES256:
		pk, ok := k.Key.(*ecdsa.PublicKey)
		return ok && pk.Curve == elliptic.P256()
	case jose.RS256:
		pk, ok := k.Key.(*rsa.PublicKey)
		return ok && pk.N.BitLen() >= 2048
	}
	return false
}

// errorf is a small helper for constructor errors.
func errorf(format string, args ...any) error { return fmt.Errorf("auth: "+format, args...) }
