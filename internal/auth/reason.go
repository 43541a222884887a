package auth

import (
	"errors"
	"fmt"
)

// Reason is a stable, low-cardinality code saying why a request was refused.
// Logs and metrics carry it; its values never change meaning, so dashboards
// and alerts can rely on them.
type Reason string

// Refusal reasons. Authentication failures lead to 401, role and browser
// safety failures to 403.
const (
	// ReasonMissing: the request carries no credentials at all.
	ReasonMissing Reason = "missing"
	// ReasonMalformed: a credential is present but cannot be parsed, or a
	// header value holds control characters or invalid UTF-8, or a user
	// name holds invisible format characters (a bidirectional override).
	ReasonMalformed Reason = "malformed"
	// ReasonOversized: a credential is larger than any legitimate one.
	ReasonOversized Reason = "oversized"
	// ReasonBadAlgorithm: the token is signed with an algorithm other than
	// the one the issuer uses (alg none, HS256 with a public key, ...).
	ReasonBadAlgorithm Reason = "bad_algorithm"
	// ReasonUnknownKey: the token names a key the issuer does not publish.
	ReasonUnknownKey Reason = "unknown_key"
	// ReasonKeysUnavailable: the issuer's key set could not be fetched.
	ReasonKeysUnavailable Reason = "keys_unavailable"
	// ReasonBadSignature: the signature does not verify.
	ReasonBadSignature Reason = "bad_signature"
	// ReasonExpired: exp is in the past (beyond the allowed skew).
	ReasonExpired Reason = "expired"
	// ReasonNotYetValid: nbf or iat is in the future (beyond the skew).
	ReasonNotYetValid Reason = "not_yet_valid"
	// ReasonWrongAudience: the token was issued for another service.
	ReasonWrongAudience Reason = "wrong_audience"
	// ReasonWrongIssuer: the token was issued by someone else.
	ReasonWrongIssuer Reason = "wrong_issuer"
	// ReasonMissingClaim: a required claim (email, exp, iat) is absent.
	ReasonMissingClaim Reason = "missing_claim"
	// ReasonUntrustedProxy: identity headers arrived without the proxy's
	// shared secret, or with a wrong one.
	ReasonUntrustedProxy Reason = "untrusted_proxy"
	// ReasonPlaceholderUser: the sign-on proxy sent, with a valid secret, a
	// user value that proxies write when nobody signed in, such as Apache's
	// "(null)": its configuration lets that path through unauthenticated.
	ReasonPlaceholderUser Reason = "placeholder_user"
	// ReasonAmbiguous: a header that must appear once appeared several times.
	ReasonAmbiguous Reason = "ambiguous"
	// ReasonForbiddenRole: the caller is known but lacks the role.
	ReasonForbiddenRole Reason = "forbidden_role"
	// ReasonCrossOrigin: an unsafe request came from another site.
	ReasonCrossOrigin Reason = "cross_origin"
	// ReasonInternal: the authenticator failed for a reason of its own.
	ReasonInternal Reason = "internal"
)

// Refusal is the error every Authenticator in this package returns. It
// carries the Reason for logs and metrics and a detail that never contains
// the credential itself.
type Refusal struct {
	Reason Reason
	Err    error
}

func (e *Refusal) Error() string {
	if e.Err == nil {
		return string(e.Reason)
	}
	return fmt.Sprintf("%s: %v", e.Reason, e.Err)
}

func (e *Refusal) Unwrap() error { return e.Err }

// refuse builds a *Refusal with a formatted detail. Callers must never pass
// the credential or raw header values into the detail.
func refuse(reason Reason, format string, args ...any) error {
	return &Refusal{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// errMissing is the refusal for "no credentials at all"; it matches
// ErrNoIdentity so callers of the older seam keep working.
func errMissing(what string) error {
	return &Refusal{Reason: ReasonMissing, Err: fmt.Errorf("%w: %s", ErrNoIdentity, what)}
}

// ReasonOf returns the reason code of an authentication error: the Reason of
// a *Refusal, ReasonMissing for a bare ErrNoIdentity, ReasonInternal
// otherwise.
func ReasonOf(err error) Reason {
	if r, ok := errors.AsType[*Refusal](err); ok {
		return r.Reason
	}
	if errors.Is(err, ErrNoIdentity) {
		return ReasonMissing
	}
	return ReasonInternal
}
