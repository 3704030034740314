package gateway

import (
	"context"
	"fmt"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/wire"
)

// DefaultRealm is the realm named in the WWW-Authenticate challenge.
const DefaultRealm = "tokengate"

// DefaultMaxBodySize is the largest request body the gateway reads unless
// told otherwise: 4 MiB, grpc-go's default limit on a message a server
// receives (grpc.MaxRecvMsgSize), so that a body the server would refuse is
// refused before it is read.
const DefaultMaxBodySize = 4 << 20

// Gateway holds the settings of tokengate's REST face and hands out what
// needs them: the options of a grpc-gateway ServeMux (ServeMuxOptions,
// NewServeMux), the handler that serves it (Wrap), and a guard for plain
// HTTP handlers (Guard). Make one with New and take everything from it, so
// that the realm, the status methods and the decision function are the same
// everywhere. A Gateway is safe for concurrent use.
type Gateway struct {
	realm         string
	challenges    challenges // of realm
	statusMethods wire.MethodSet
	precheck      func(ctx context.Context, fullMethod string, creds wire.Credentials) error
	maxBody       int64
	errTooLarge   error
	// plain is a ServeMux with only tokengate's header matcher and status
	// token; it answers Guard's refusals.
	plain *runtime.ServeMux
	// errorBodies keeps the marshalled bodies of early answers.
	errorBodies errorBodies
}

// Option configures a Gateway.
type Option func(*Gateway)

// New returns a Gateway with opts applied over the defaults: DefaultRealm,
// wire.DefaultStatusMethods, DefaultMaxBodySize and no decision function.
func New(opts ...Option) *Gateway {
	g := &Gateway{
		realm:         DefaultRealm,
		statusMethods: wire.NewMethodSet(wire.DefaultStatusMethods...),
		maxBody:       DefaultMaxBodySize,
	}
	for _, opt := range opts {
		opt(g)
	}
	g.challenges = newChallenges(g.realm)
	g.errTooLarge = &runtime.HTTPStatusError{
		HTTPStatus: http.StatusRequestEntityTooLarge,
		Err:        status.Error(codes.ResourceExhausted, fmt.Sprintf("request body larger than %d bytes", g.maxBody)),
	}
	g.plain = runtime.NewServeMux(
		runtime.WithIncomingHeaderMatcher(incomingHeaderMatcher),
		runtime.WithMetadata(g.statusTokenMetadata),
	)
	return g
}

// WithRealm sets the realm of the WWW-Authenticate challenge; an empty realm
// keeps DefaultRealm.
func WithRealm(realm string) Option {
	return func(g *Gateway) {
		if realm != "" {
			g.realm = realm
		}
	}
}

// WithStatusMethods replaces wire.DefaultStatusMethods: the full gRPC method
// names (/pkg.Service/Method) whose routes turn ?token= into x-status-token
// metadata; a name ending in "/" covers every method of that service, as in
// interceptors.Config.StatusMethods, and a name written otherwise is
// ignored. The decision is made by the RPC a route maps to, never by the
// URL's text. Give the server the same list.
func WithStatusMethods(methods ...string) Option {
	return func(g *Gateway) { g.statusMethods = wire.NewMethodSet(methods...) }
}

// WithPrecheck gives the gateway the server's verdict on a call's
// credentials, so that a request the server would refuse is refused before
// its body is read, and the requests the gateway answers without a call
// (HEAD on a streaming route, a query or path parameter that is not UTF-8)
// are answered 401 like the call would be. Guard decides with it too.
//
// f is asked once per request to an RPC route, as soon as the RPC is known
// (on a mux made by NewServeMux, once it has learned the route's RPC,
// before grpc-gateway's handler runs; never for ServeMux.HandlePath routes
// unless their handler calls runtime.AnnotateContext, as grpc-gateway's
// health endpoint does): with the RPC's full method name
// (Guard: the name it was given), the request's context, and the call's
// credentials as the call will carry them: authorization (every
// Authorization value, in order) and, on status routes, x-status-token
// (from ?token=), with the HTTP caller's address. f must not change them:
// they are the request's own header values, not copies. Nothing else of the
// call's metadata is made for it (no other header, none of your own
// annotators' metadata): making it would cost more than the decision. It
// returns nil to let the request go on, to the server, whose interceptors
// decide the call again and stay the authority, or a gRPC status error,
// which is the answer:
// Unauthenticated becomes 401 with the challenge, as from the server.
// interceptors.Authenticator.Precheck has this signature and makes the
// interceptors' decision. f must be safe for concurrent use.
//
// Without it the gateway decides nothing: every request goes to the server
// with its body, HEAD on a streaming route gets 405 and a query or path
// parameter that is not UTF-8 400 whatever the credentials, and Guard
// cannot be used.
func WithPrecheck(f func(ctx context.Context, fullMethod string, creds wire.Credentials) error) Option {
	return func(g *Gateway) { g.precheck = f }
}

// WithMaxBodySize sets the largest request body the gateway reads, in
// bytes, in place of DefaultMaxBodySize; n <= 0 keeps the default. Match the
// server's grpc.MaxRecvMsgSize. A larger body is answered 413 without being
// read to its end: at once when its Content-Length says so, else when byte
// n+1 arrives. A caller the server would refuse for its credentials gets
// that answer (401) first.
func WithMaxBodySize(n int64) Option {
	return func(g *Gateway) {
		if n > 0 {
			g.maxBody = n
		}
	}
}
