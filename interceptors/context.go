package interceptors

import (
	"context"

	"github.com/tokengate/tokengate/token"
)

type callerKey struct{}

// callerContext carries who called to the handler. It is one small
// allocation per call, where context.WithValue and a boxed value would be
// two; the verified token it points to is shared with the verifier's cache.
// BenchmarkTrickCallerContext (tricks_test.go) measures it against the
// plain context.WithValue: 67 against 108 ns, 1 allocation against 2.
type callerContext struct {
	context.Context
	verified    token.VerifiedToken // zero unless let in by a verified token
	statusToken bool
	tapped      bool // decided by TapHandle (see below)
	// gen is the generation of the policy that let the call in, so that
	// the interceptors can tell whether a tap's decision still holds (a
	// uint32 beside the bools keeps the context at 32 bytes, one size
	// class below a pointer's 48).
	gen uint32
	// tapped marks a call decided by TapHandle: the interceptors then use
	// this caller instead of deciding again. Only this package can make a
	// callerContext, so no caller can set it.
}

func (c *callerContext) Value(key any) any {
	if key == (callerKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func callerFrom(ctx context.Context) *callerContext {
	c, _ := ctx.Value(callerKey{}).(*callerContext)
	return c
}

// UserFromContext returns the user named by the caller's verified token. It
// reports false when the call was let in without a token: through the status
// token, a public method, or with authentication off.
func UserFromContext(ctx context.Context) (string, bool) {
	c := callerFrom(ctx)
	if c == nil || c.verified.User() == "" { // a verified user is never empty
		return "", false
	}
	return c.verified.User(), true
}

// ClaimsFromContext returns the claims of the caller's verified token.
func ClaimsFromContext(ctx context.Context) (token.Claims, bool) {
	c := callerFrom(ctx)
	if c == nil || c.verified.User() == "" {
		return token.Claims{}, false
	}
	return c.verified.Claims(), true
}

// StatusTokenFromContext reports whether the call was let in by the status
// token rather than a user's token.
func StatusTokenFromContext(ctx context.Context) bool {
	c := callerFrom(ctx)
	return c != nil && c.statusToken
}
