package interceptors

import (
	"context"
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

// endAtExpiry ends a stream when its token expires: the handler's context
// is cancelled and the call returns Unauthenticated ("token expired") at
// once, even if the handler is blocked in RecvMsg. Returning ends the RPC,
// which in turn unblocks the handler's RecvMsg and SendMsg.
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

	done := make(chan error, 1)
	go func() { done <- handler(srv, wrapped) }()

	timer := time.NewTimer(deadline.Sub(a.now()))
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		cancel(ErrTokenExpiredInStream)
		if a.hooks != nil {
			a.report(ss.Context(), Decision{FullMethod: info.FullMethod, Reason: ReasonExpired,
				User: claims.User, Err: ErrTokenExpiredInStream})
		}
		return denialFor(ErrTokenExpiredInStream).status
	}
}
