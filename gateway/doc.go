// Package gateway lets REST callers reach a tokengate-protected gRPC service
// through grpc-gateway v2 and get the same decisions as gRPC callers.
//
// It maps HTTP to gRPC metadata and back, and nothing more: the
// Authorization header becomes the one authorization metadata value (no
// other header can add or override it), ?token= becomes x-status-token
// metadata on the status routes only, decided by the RPC the route maps to,
// and an Unauthenticated answer becomes 401 with an RFC 6750 challenge
// (WWW-Authenticate: Bearer realm="tokengate", plus error="invalid_token"
// when a token was presented). The decisions themselves are made by the
// server's interceptors (package interceptors), so handlers must be
// registered against a gRPC connection (Register…HandlerFromEndpoint or
// Register…HandlerClient), never with Register…HandlerServer, which would
// skip them.
//
// A request that cannot become a gRPC call is answered by the gateway
// without one, with the same JSON error body: 401 for an Authorization value
// that is not printable ASCII, 400 for a query that is not UTF-8. With
// WithAuthenticate (given interceptors.Authenticator.Authenticate, the
// server's own decision), the caller is authenticated first, so that a
// caller without valid credentials gets 401 there too.
//
// Handler adds HEAD support on GET routes (HEAD /status for monitors),
// without ever running a stream: HEAD on a streaming route is answered 405
// (Allow: GET), after authentication with WithAuthenticate. RedactURL keeps
// the status token out of access logs.
//
// This package knows nothing of JWT.
package gateway
