// Package interceptors enforces tokengate's bearer tokens on a gRPC server:
// every unary and streaming method, checked before the handler runs.
//
// # Wiring
//
// Build an Authenticator from a Config and install its two interceptors,
// which are go-grpc-middleware's auth interceptors driven by
// Authenticator.AuthFunc, and, optionally, its TapHandle, which makes the
// same decision at the transport before grpc-go reads the request:
//
//	cfg, err := interceptors.ConfigFromEnv()
//	a, err := interceptors.New(cfg)
//	srv := grpc.NewServer(
//		grpc.InTapHandle(a.TapHandle), // optional, refuses before reading
//		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
//	)
//	a.KnowMethods(srv) // after registering the services
//
// ConfigFromEnv reads Brevia's variables (TOKENS_SECRET,
// TOKENS_SECRET_PREVIOUS, TOKENS_USERS, STATUS_TOKEN) and tokengate's
// (TOKENS_LEEWAY, TOKENS_CACHE_SIZE) from the environment, else from ./.env,
// names in any case, as Brevia's settings are read; the first four may name
// files instead (TOKENS_SECRET_FILE, …). Anything that could leave
// authentication weaker than meant is an error, never a warning.
//
// # Decisions
//
// A call is let in when its metadata holds exactly one "authorization:
// Bearer <token>" value whose token the token package's Verifier accepts.
// Status methods (wire.DefaultStatusMethods: tokengate's Status RPC and
// grpc.health.v1) also accept the STATUS_TOKEN in x-status-token metadata,
// compared in constant time; anywhere else it grants nothing. Public methods
// skip the check. An empty secret turns authentication off, with a warning,
// as in Brevia. Every denial is codes.Unauthenticated with a short reason
// ("missing bearer token", "token expired", "user not allowed", …) and never
// the token or the secret; a method name that is not "/pkg.Service/Method"
// is refused with Unimplemented.
//
// Handlers learn who called with UserFromContext, ClaimsFromContext and
// StatusTokenFromContext. Streams are checked when they open, and ended with
// "token expired" when their token expires (WithStreamExpiry). Every
// decision can be observed through WithDecisionHook: LogDecisions logs them
// with slog, and package interceptors/metrics exports them to Prometheus.
// Precheck gives a front end (the REST gateway) the same verdict early.
//
// # Live policy
//
// Authenticator.Update applies a new secret, previous secret, user list or
// status token to a running server, atomically, and ends the open streams
// the new policy refuses; a bad policy changes nothing. NewFileWatcher calls
// it whenever a policy file changes (Kubernetes Secret volumes, Docker
// secrets, Vault agent templates). WithPolicyHook observes every change.
//
// # Client credentials
//
// On the client side, BearerToken, MintingCredentials (which makes and
// renews its own tokens, MintingCredentialsFromFile with a secret that
// rotates) and StatusTokenCredentials attach credentials as
// grpc.PerRPCCredentials. They refuse to send a credential over a
// connection without transport security unless given AllowInsecure.
//
// Note that go-grpc-middleware's auth lets a service that implements
// auth.ServiceAuthFuncOverride replace the check for its own methods; do not
// implement it on services that must stay protected.
package interceptors
