// Package metrics exports the Authenticator's decisions to Prometheus.
//
// New registers the collectors; Hook returns the DecisionHook and
// PolicyHook the PolicyHook that feed them:
//
//	m, err := metrics.New(prometheus.DefaultRegisterer)
//	a, err := interceptors.New(cfg,
//		interceptors.WithDecisionHook(m.Hook()),
//		interceptors.WithPolicyHook(m.PolicyHook()))
//
// The collectors are
//
//	tokengate_auth_decisions_total{method,result,reason}  counter
//	tokengate_auth_verification_seconds{result}           histogram
//	tokengate_policy_reloads_total{result}                counter
//	tokengate_policy_applied_timestamp_seconds            gauge
//
// For decisions, result is "allowed" or "denied" and reason is the Decision's Reason
// ("valid_token", "token_expired", "user_not_allowed", …). The histogram's
// buckets run from 100ns to 10ms: a cached token is checked in well under a
// microsecond and a full HS256 verification in a few. A stream ended because
// its token expired, or that a new policy refused, is counted as a denial
// but not timed, since nothing was verified then; so is a method name
// refused for its shape (any caller can send those). For reloads, result is
// "applied" or "rejected" (a rejected policy leaves the previous one
// serving: see Authenticator.Update and NewFileWatcher), and the gauge holds
// when the policy in force was applied.
//
// The method label is the full gRPC method name, "/pkg.Service/Method". It
// stays bounded because gRPC calls interceptors only for the methods
// registered on the server: a call to any other name is answered
// Unimplemented before the interceptors, and so this hook, see it. Two
// things break that bound: the Authenticator's TapHandle, which runs before
// grpc-go routes a call, and a grpc.UnknownServiceHandler, which runs the
// stream interceptors for every name a client sends. With either, call
// Authenticator.KnowMethods(srv) once the services are registered, and
// every other name is counted as interceptors.UnregisteredMethod. Names
// that are not valid UTF-8, do not start with "/" or are longer than 256
// bytes are folded the same way even without it, so no caller can make the
// hook panic. And the label holds at most 1024 method names: past that, a
// method not seen before is counted as interceptors.UnregisteredMethod
// (with a warning, once per bound reached), so that even without KnowMethods no caller
// can grow the label set without end. Denials may bring in only half as
// many names, so that callers without a valid token cannot crowd out the
// methods first called with one. A method seen before keeps its own
// series. The warning goes to slog.Default().
//
// The reason label has a fixed set of values, and no label ever carries a
// user or a token.
package metrics
