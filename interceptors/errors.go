package interceptors

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/token"
)

// Errors about the authorization metadata itself, before any token is looked
// at. Like the token package's sentinels they never carry caller input.
var (
	ErrMultipleCredentials = errors.New("interceptors: more than one authorization value")
	ErrNotBearer           = errors.New("interceptors: authorization is not a bearer token")
	// ErrMalformedMethod refuses a call whose method name is not
	// "/pkg.Service/Method" (see wire.Canonical), whatever grpc-go would
	// route it to.
	ErrMalformedMethod = errors.New("interceptors: malformed method name")
	// ErrTokenExpiredInStream ends a stream whose token expired while it was
	// open (see WithStreamExpiry).
	ErrTokenExpiredInStream = errors.New("interceptors: token expired during the stream")
	// ErrStatusTokenNotAccepted refuses a call that carried a status token
	// that did not let it in (a wrong one, more than one, one sent to a
	// server without STATUS_TOKEN or to a method that is not a status
	// method) and no bearer token. Like Brevia, the call fell through to
	// the bearer check; it is token.ErrMissing (errors.Is), told apart so
	// that a monitor with the wrong status token is not reported as sending
	// nothing.
	ErrStatusTokenNotAccepted = fmt.Errorf("interceptors: status token not accepted: %w", token.ErrMissing)
)

// Reason names why a call was allowed or denied, in a form fit for logs and
// metric labels. It never contains caller input.
type Reason string

// The reasons a Decision can carry.
const (
	ReasonValidToken   Reason = "valid_token"
	ReasonStatusToken  Reason = "status_token"
	ReasonAuthDisabled Reason = "auth_disabled"
	ReasonMissingToken Reason = "missing_token"
	// ReasonStatusTokenNotAccepted: see ErrStatusTokenNotAccepted.
	ReasonStatusTokenNotAccepted Reason = "status_token_not_accepted"
	ReasonMalformedMetadata      Reason = "malformed_metadata"
	ReasonMalformedMethod        Reason = "malformed_method"
	ReasonNotBearer              Reason = "not_bearer"
	ReasonTooLarge               Reason = "token_too_large"
	ReasonInvalidToken           Reason = "invalid_token"
	ReasonExpired                Reason = "token_expired"
	ReasonNotYetValid            Reason = "token_not_yet_valid"
	ReasonUserNotAllowed         Reason = "user_not_allowed"
)

// denial is how one class of failure is answered. All gRPC status codes
// this package returns are chosen here.
type denial struct {
	err    error
	reason Reason
	status error // built once: denying allocates nothing
}

func deny(err error, reason Reason, msg string) denial {
	return denial{err: err, reason: reason, status: status.Error(codes.Unauthenticated, msg)}
}

// denyAs is deny with another code, for refusals that are not about
// credentials.
func denyAs(code codes.Code, err error, reason Reason, msg string) denial {
	return denial{err: err, reason: reason, status: status.Error(code, msg)}
}

var denials = []denial{
	// Before token.ErrMissing, which it wraps.
	deny(ErrStatusTokenNotAccepted, ReasonStatusTokenNotAccepted, "status token not accepted, and no bearer token"),
	deny(token.ErrMissing, ReasonMissingToken, "missing bearer token"),
	denyAs(codes.Unimplemented, ErrMalformedMethod, ReasonMalformedMethod, "malformed method name"),
	deny(ErrMultipleCredentials, ReasonMalformedMetadata, "malformed authorization metadata: more than one value"),
	deny(ErrNotBearer, ReasonNotBearer, "authorization metadata is not a bearer token"),
	deny(token.ErrTooLarge, ReasonTooLarge, "invalid token: larger than 8 KiB"),
	deny(token.ErrMalformed, ReasonInvalidToken, "invalid token: malformed"),
	deny(token.ErrAlgorithm, ReasonInvalidToken, "invalid token: algorithm must be HS256"),
	deny(token.ErrSignatureInvalid, ReasonInvalidToken, "invalid token: signature does not match"),
	deny(token.ErrInvalidClaims, ReasonInvalidToken, "invalid token: bad claims"),
	deny(token.ErrNoExpiry, ReasonInvalidToken, "invalid token: exp claim required"),
	deny(token.ErrInvalidUser, ReasonInvalidToken, "invalid token: user claim must be a non-blank string"),
	deny(token.ErrAudience, ReasonInvalidToken, "invalid token: aud claim not accepted"),
	deny(token.ErrInvalidSubject, ReasonInvalidToken, "invalid token: sub claim must be a string"),
	deny(token.ErrInvalidJTI, ReasonInvalidToken, "invalid token: jti claim must be a string"),
	deny(token.ErrAtHash, ReasonInvalidToken, "invalid token: at_hash claim not accepted"),
	deny(token.ErrExpired, ReasonExpired, "token expired"),
	deny(ErrTokenExpiredInStream, ReasonExpired, "token expired"),
	deny(ErrStatusTokenChanged, ReasonInvalidToken, "status token no longer accepted"),
	deny(token.ErrNotYetValid, ReasonNotYetValid, "token not valid yet"),
	deny(token.ErrUserNotAllowed, ReasonUserNotAllowed, "user not allowed"),
}

var denyOther = deny(nil, ReasonInvalidToken, "invalid token")

// denialFor maps any authentication error to its answer. Unknown errors
// are still Unauthenticated: bad input must never come out as Unknown.
func denialFor(err error) denial {
	for _, d := range denials {
		if err == d.err {
			return d
		}
	}
	for _, d := range denials {
		if errors.Is(err, d.err) {
			return d
		}
	}
	return denyOther
}
