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
// Handler adds HEAD support on GET routes (HEAD /status for monitors), and
// RedactURL keeps the status token out of access logs.
//
// This package knows nothing of JWT.
package gateway
