package interceptors

import (
	"context"

	"google.golang.org/grpc/tap"

	"github.com/tokengate/tokengate/wire"
)

// TapHandle decides a call at the transport, before grpc-go creates its
// stream: install it with grpc.InTapHandle(a.TapHandle) next to the
// interceptors. A call it refuses never gets a stream, a goroutine, a
// decompressor or an unmarshalled message, so a caller without a valid
// token costs the server little more than its headers. A call it lets in
// carries its caller in the stream's context, and the interceptors use
// that instead of deciding again; they still decide every call that did
// not come through the tap (a server without it, a non-gRPC path).
//
// The tap sees every method name a caller sends, registered or not: call
// KnowMethods once the services are registered, so that decisions (logs,
// metric labels) name only registered methods; until then the first call
// logs a warning.
//
// The decision is the interceptors' own: the same credentials, status
// methods, decision hooks, logs, metrics, and, through the interceptors,
// the same stream expiry and revocation. Public methods and a server with
// authentication off are left to the interceptors. A method name that is
// not "/pkg.Service/Method" is refused (Unimplemented), whatever grpc-go
// would route it to.
//
// grpc-go runs the handle on the connection's reader goroutine with a
// transport lock held: while it runs, no other stream of that connection
// makes progress. It does no I/O of its own and no allocation on a cached
// token beyond the caller's context; the decision hooks run there too, so
// with the tap installed they must not block either (LogDecisions writes
// a record per denial, up to its limit per second: WithDenialLogLimit).
//
// grpc.InTapHandle is experimental in grpc-go. Everything works without
// it: the interceptors are the backstop, and nothing a caller sends can
// make them believe the tap ran. They trust the tap's caller only while it
// holds: a unary call reaches them once its whole message has arrived, and
// if the policy changed or the token expired meanwhile, they decide again.
func (a *Authenticator) TapHandle(ctx context.Context, info *tap.Info) (context.Context, error) {
	method := info.FullMethodName
	if !a.tapUsed.Load() {
		a.tapUsed.Store(true)
	}
	if a.known.Load() == nil {
		a.warnUnknownMethods.Do(func() {
			a.logger.Warn("tokengate: TapHandle runs before grpc-go routes a call, so decisions carry any method name a caller sends; call Authenticator.KnowMethods(srv) once the services are registered")
		})
	}
	if !wire.Canonical(method) {
		return nil, a.refuseMethod(ctx)
	}
	f := a.facts(method)
	if a.lets(f) {
		return ctx, nil
	}
	return a.decideAndReport(ctx, source{md: info.Header}, method, f, true)
}
