package interceptors

import (
	"context"
	"time"

	"github.com/tokengate/tokengate/token"
)

type callerKey struct{}

// callerContext carries who called to the handler. It is one small
// allocation per call, where context.WithValue and a boxed value would be
// two; the verified token it points to is shared with the verifier's cache.
// BenchmarkTrickCallerContext (tricks_test.go) measures it against the
// plain context.WithValue.
type callerContext struct {
	context.Context
	verified token.VerifiedToken // zero unless let in by a verified token
	// gen is the generation of the policy that let the call in, so that
	// the interceptors can tell whether a tap's decision still holds.
	gen         uint32
	statusToken bool
	// tapped marks a call decided by TapHandle: the interceptors then use
	// this caller instead of deciding again, until the monotonic clock
	// (time.Since(processStart)) reaches until, when the verified token
	// expires. Only this package can make a callerContext, so no caller
	// can set them.
	tapped bool
	until  time.Duration
}

// processStart is the origin of the monotonic times in callerContext:
// time.Since(processStart) reads one clock where time.Now reads two.
var processStart = time.Now()

// Value answers callerKey with c. Every value a handler or grpc-go looks up
// in the call's context passes through it, so the key is told by its type
// alone, which costs no call to compare.
func (c *callerContext) Value(key any) any {
	if _, ok := key.(callerKey); ok {
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
