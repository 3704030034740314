// Package interceptors enforces tokengate's bearer tokens on a gRPC server:
// every unary and streaming method, checked before the handler runs.
//
// Build an Authenticator from a Config (ConfigFromEnv reads Brevia's
// variables: TOKENS_SECRET, TOKENS_SECRET_PREVIOUS, TOKENS_USERS,
// STATUS_TOKEN) and install its two interceptors, which are
// go-grpc-middleware's auth interceptors driven by Authenticator.AuthFunc:
//
//	a, err := interceptors.New(cfg)
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
//	)
//
// A call is let in when its metadata holds exactly one "authorization:
// Bearer <token>" value whose token the token package's Verifier accepts. Status
// methods (wire.DefaultStatusMethods: tokengate's Status RPC and grpc.health.v1)
// also accept the STATUS_TOKEN in x-status-token metadata, compared in
// constant time; anywhere else it grants nothing. Public methods skip the
// check. An empty secret turns authentication off, with a warning, as in
// Brevia. Every denial is codes.Unauthenticated with a short reason
// ("missing bearer token", "token expired", "user not allowed", …) and never
// the token or the secret.
//
// Handlers learn who called with UserFromContext, ClaimsFromContext and
// StatusTokenFromContext. Streams are checked when they open, and ended with
// "token expired" when their token expires (WithStreamExpiry). Every
// decision can be observed through WithDecisionHook, for logs and metrics.
//
// On the client side, BearerToken, MintingCredentials (which makes and
// renews its own tokens) and StatusTokenCredentials attach credentials as
// grpc.PerRPCCredentials. LogDecisions logs every decision with slog, and
// package interceptors/metrics exports them to Prometheus.
//
// Note that go-grpc-middleware's auth lets a service that implements
// auth.ServiceAuthFuncOverride replace the check for its own methods; do not
// implement it on services that must stay protected.
package interceptors
