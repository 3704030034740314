// Package gateway lets REST callers reach a tokengate-protected gRPC service
// through grpc-gateway v2 and get the same decisions as gRPC callers.
//
// New makes a Gateway, which holds the settings (WithRealm,
// WithStatusMethods, WithPrecheck, WithMaxBodySize) and hands out what needs
// them:
//
//	g := gateway.New(gateway.WithPrecheck(auth.Precheck))
//	mux := g.NewServeMux()               // grpc-gateway's mux, tokengate's options last
//	tokengatev1.RegisterEchoServiceHandlerClient(ctx, mux, client)
//	http.Handle("/", g.Wrap(mux))        // serves the mux
//	http.Handle("GET /metrics", g.Guard("/metrics", metricsHandler))
//
// It maps HTTP to gRPC metadata and back: the Authorization header becomes
// the one authorization metadata value (no other header can add or override
// it), ?token= becomes x-status-token metadata on the status routes only,
// decided by the RPC the route maps to, and an Unauthenticated answer
// becomes 401 with an RFC 6750 challenge (WWW-Authenticate: Bearer
// realm="tokengate", plus error="invalid_token" when a token was presented).
// Handlers must be registered against a gRPC connection
// (Register…HandlerFromEndpoint or Register…HandlerClient), never with
// Register…HandlerServer, which would skip the server's interceptors.
//
// The decisions are the server's. With WithPrecheck (given
// interceptors.Authenticator.Precheck, the interceptors' own verdict) the
// gateway asks for it as soon as a request's RPC is known, before reading
// its body, and answers a request the server would refuse for its
// credentials itself, with the same status, body and challenge; the
// interceptors still decide every call that goes through. On a mux made by
// NewServeMux, once the gateway has learned a route's RPC, it decides in
// its own middleware, before grpc-gateway's handler builds the call's
// metadata, and answers most refusals there. A body larger
// than the server would receive (WithMaxBodySize) gets 413 without being
// read to its end.
//
// A request that cannot become a gRPC call is answered by the gateway
// without one, with the same JSON error body: 401 for an Authorization value
// that is not printable ASCII, 400 for a query or a path parameter that is
// not UTF-8 (after the credentials are checked). Wrap adds HEAD support on GET routes (HEAD
// /status for monitors) without ever running a stream: HEAD on a streaming
// route is answered 405 (Allow: GET), after the credentials are checked.
// Guard puts a plain HTTP handler behind the same decision. RedactURL keeps
// the status token out of access logs.
//
// This package knows nothing of JWT.
package gateway
