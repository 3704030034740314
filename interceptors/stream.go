package interceptors

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
)

// chainStream runs outer, then inner around the handler.
func chainStream(outer, inner grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return outer(srv, ss, info, func(srv any, ss grpc.ServerStream) error {
			return inner(srv, ss, info, handler)
		})
	}
}

// abandonedHandlerGrace is how long a handler may keep running after its
// stream was ended at token expiry before it is reported as stuck.
const abandonedHandlerGrace = 10 * time.Second

// handlerOutcome is how a stream handler run on its own goroutine ended:
// it returned err, or it panicked with panicValue.
type handlerOutcome struct {
	err        error
	panicked   bool
	panicValue any
	stack      []byte
}

// runHandler runs handler and sends its outcome to done, a panic included:
// a panic on a goroutine of ours would otherwise kill the process, out of
// reach of any recovery interceptor the server has chained before us.
func runHandler(done chan<- handlerOutcome, handler grpc.StreamHandler, srv any, ss grpc.ServerStream) {
	out := handlerOutcome{panicked: true}
	defer func() {
		if out.panicked {
			out.panicValue = recover()
			out.stack = debug.Stack()
		}
		done <- out
	}()
	out.err = handler(srv, ss)
	out.panicked = false
}

// endAtExpiry ends a stream when its token expires: the handler's context
// is cancelled and the call returns Unauthenticated ("token expired") at
// once, even if the handler is blocked in RecvMsg. Returning ends the RPC,
// which in turn unblocks the handler's RecvMsg and SendMsg.
//
// The handler runs on a goroutine of its own so that the timer can end the
// call while the handler is blocked. A panic in it is carried back and
// raised again here, on the call's goroutine, so that a recovery
// interceptor chained before tokengate handles it as it would without
// tokengate. A handler still running when its stream was cut is watched
// until it returns (see watchAbandoned).
//
// A token is valid through its exp second (see package token), so the
// stream ends when that second, plus the leeway, is over.
func (a *Authenticator) endAtExpiry(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	claims, ok := ClaimsFromContext(ss.Context())
	if !ok {
		return handler(srv, ss) // status token or no token: nothing expires
	}
	deadline := claims.ExpiresAt.Truncate(time.Second).Add(time.Second + a.leeway)
	ctx, cancel := context.WithCancelCause(ss.Context())
	defer cancel(nil)
	wrapped := &middleware.WrappedServerStream{ServerStream: ss, WrappedContext: ctx}

	done := make(chan handlerOutcome, 1)
	go runHandler(done, handler, srv, wrapped)

	timer := time.NewTimer(deadline.Sub(a.now()))
	defer timer.Stop()
	select {
	case out := <-done:
		if out.panicked {
			panic(out.panicValue)
		}
		return out.err
	case <-timer.C:
		cancel(ErrTokenExpiredInStream)
		method := a.methodName(info.FullMethod, true)
		if a.hooks != nil {
			a.report(ss.Context(), Decision{FullMethod: method, Reason: ReasonExpired,
				User: claims.User, Err: ErrTokenExpiredInStream})
		}
		go a.watchAbandoned(done, method, abandonedHandlerGrace)
		return denialFor(ErrTokenExpiredInStream).status
	}
}

// watchAbandoned waits for the handler of a stream that was ended at token
// expiry. Ending the RPC unblocks the handler's RecvMsg and SendMsg, so a
// handler that uses its stream or its context returns at once; one that
// does not is logged after grace, and a panic after the cut, which no
// recovery interceptor can see any more, is logged with its stack instead
// of being lost.
func (a *Authenticator) watchAbandoned(done <-chan handlerOutcome, method string, grace time.Duration) {
	timer := time.NewTimer(grace)
	defer timer.Stop()
	var out handlerOutcome
	select {
	case out = <-done:
	case <-timer.C:
		a.logger.Warn("tokengate: stream handler still running after its stream was ended at token expiry; it should return when its context is done",
			"method", method, "after", grace)
		out = <-done
	}
	if out.panicked {
		a.logger.Error("tokengate: stream handler panicked after its stream was ended at token expiry",
			"method", method, "panic", fmt.Sprint(out.panicValue), "stack", string(out.stack))
	}
}
