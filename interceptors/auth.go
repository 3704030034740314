package interceptors

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	grpcmw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors" // not this package: go-grpc-middleware's call metadata
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/tokengate/tokengate/token"
	"github.com/tokengate/tokengate/wire"
)

// Decision is what the Authenticator decided about one call. It never holds
// the token or the status token.
type Decision struct {
	FullMethod string
	Allowed    bool
	Reason     Reason
	// User is the token's user when the token was verified.
	User string
	// Err is the cause of a denial (test it with errors.Is against the
	// sentinels of this package and of package token); nil when allowed.
	Err error
	// Duration is the time the decision took; zero when StreamEnded and for
	// a method name refused for its shape (ReasonMalformedMethod), which
	// are not timed.
	Duration time.Duration
	// StreamEnded marks the denial that ends an open stream: its token
	// expired (see WithStreamExpiry) or a new policy refuses it (see
	// Update). Nothing was verified for it.
	StreamEnded bool
}

// DecisionHook sees every decision. It runs on the call's goroutine, or,
// for calls TapHandle decides, on the connection's reader goroutine with a
// transport lock held, so it must be quick, never block, and be safe for
// concurrent use. A hook that panics is logged with its stack (at its
// 1st, 2nd, 4th, 8th… panic) and ignored: the decision stands and the
// other hooks still see it. A hook must never call runtime.Goexit (as
// testing's FailNow does), which nothing can stop: on the reader goroutine
// it hangs the connection.
type DecisionHook func(ctx context.Context, d Decision)

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithLogger sets the logger for configuration warnings (default
// slog.Default()). Decisions are logged only through WithDecisionHook and
// LogDecisions.
func WithLogger(l *slog.Logger) Option {
	return func(a *Authenticator) {
		if l != nil {
			a.logger = l
		}
	}
}

// WithDecisionHook adds a hook that sees every decision. Hooks run in the
// order they were added.
func WithDecisionHook(h DecisionHook) Option {
	return func(a *Authenticator) {
		if h != nil {
			a.hooks = append(a.hooks, hook[DecisionHook]{h, new(atomic.Uint64)})
		}
	}
}

// WithStreamExpiry sets whether a stream is ended with Unauthenticated
// ("token expired") when its token expires while it is open. It is on by
// default; with it off a stream is checked only when it opens.
func WithStreamExpiry(on bool) Option {
	return func(a *Authenticator) { a.streamExpiry = on }
}

// Authenticator decides, for every call, whether its credentials let it in.
// Build one with New and install its interceptors on a grpc.Server.
type Authenticator struct {
	disabled      bool   // fixed at New: a reload never turns auth on or off
	cfg           Config // as given to New
	policy        atomic.Pointer[policy]
	updateMu      sync.Mutex // one Update at a time
	streams       streamRegistry
	statusMethods wire.MethodSet
	publicMethods wire.MethodSet
	streamExpiry  bool
	hooks         []hook[DecisionHook]
	policyHooks   []hook[PolicyHook]
	logger        *slog.Logger
	// known holds the methods the server registered (KnowMethods), with
	// their facts; nil until then.
	known              atomic.Pointer[map[string]methodFacts]
	tapUsed            atomic.Bool // TapHandle has run at least once
	warnUnknownMethods sync.Once   // TapHandle without KnowMethods
}

// New builds an Authenticator from cfg. With an empty cfg.Secret
// authentication is off and New logs a warning saying so.
func New(cfg Config, opts ...Option) (*Authenticator, error) {
	if err := checkConfig(cfg); err != nil { // before any warning about cfg
		return nil, err
	}
	a := &Authenticator{
		cfg:           cfg,
		publicMethods: wire.NewMethodSet(cfg.PublicMethods...),
		streamExpiry:  true,
		logger:        slog.Default(),
	}
	a.statusMethods = statusMethodSet(cfg.StatusMethods)
	for _, opt := range opts {
		opt(a)
	}

	if cfg.Secret == "" {
		a.disabled = true
		a.logger.Warn("tokengate: authentication is disabled because TOKENS_SECRET is empty: every call is allowed")
		if cfg.PreviousSecret != "" {
			a.logger.Warn("tokengate: TOKENS_SECRET_PREVIOUS is set but ignored while TOKENS_SECRET is empty")
		}
	} else if len(cfg.Secret) < token.MinSecretSize {
		a.logger.Warn("tokengate: TOKENS_SECRET is shorter than 32 bytes; make a stronger one with `openssl rand -hex 32`",
			"length", len(cfg.Secret))
	}
	if cfg.Secret != "" && !token.BreviaVerifiesWith([]byte(cfg.Secret)) {
		a.logger.Warn("tokengate: Brevia (python-jose) would refuse every token signed with TOKENS_SECRET: it reads a key that is JSON (a quoted string, an object, a list...) as the JSON's value, and refuses one holding a public key or certificate; make one with `openssl rand -hex 32`")
	}
	p, err := a.newPolicy(cfg)
	if err != nil {
		return nil, err
	}
	a.policy.Store(p)
	return a, nil
}

// statusMethodSet is the set of Config.StatusMethods names: nil means
// wire.DefaultStatusMethods, an empty list none.
func statusMethodSet(names []string) wire.MethodSet {
	if names == nil {
		names = wire.DefaultStatusMethods
	}
	return wire.NewMethodSet(names...)
}

// ErrBlankSecret refuses a secret, previous secret or status token of white
// space only: a file holding a blank line, or a variable set to a space.
// Brevia would sign and verify with it (or compare a status token with it);
// it is a mistake, and a key anyone can guess.
// Authentication is off only with an empty secret.
var ErrBlankSecret = errors.New("interceptors: the secret is only white space")

// ErrNoUsers is returned by New for a Config whose Users list is not empty
// but names nobody (only blank names): an allow-list of nothing allows
// nothing, and tokengate will not read it as "anyone".
var ErrNoUsers = errors.New("interceptors: the users allow-list names no user")

// checkConfig refuses settings that cannot be meant, whether auth is on or
// not, so that a mistake is found at startup rather than when the secret is
// first set.
func checkConfig(cfg Config) error {
	if err := token.CheckLeeway(cfg.Leeway); err != nil {
		return fmt.Errorf("interceptors: Config.Leeway: %w", err)
	}
	for _, s := range []struct{ name, env, value string }{
		{"Secret", envSecret, cfg.Secret},
		{"PreviousSecret", envPreviousSecret, cfg.PreviousSecret},
		{"StatusToken", envStatusToken, cfg.StatusToken},
	} {
		if blankSecret(s.value) {
			return fmt.Errorf("%w: Config.%s (%s or %s)", ErrBlankSecret, s.name, s.env, s.env+fileSuffix)
		}
	}
	if len(cfg.Users) > 0 && !slices.ContainsFunc(cfg.Users, func(u string) bool { return strings.TrimSpace(u) != "" }) {
		return ErrNoUsers
	}
	return nil
}

// UnaryServerInterceptor returns the interceptor for unary calls.
func (a *Authenticator) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	i := auth.UnaryServerInterceptor(a.AuthFunc)
	if a.publicMethods.Empty() {
		return i
	}
	return selector.UnaryServerInterceptor(i, selector.MatchFunc(a.requiresAuth))
}

// StreamServerInterceptor returns the interceptor for streaming calls, all
// three kinds. The credentials are checked once, when the stream opens; the
// stream is then ended when the token expires (see WithStreamExpiry).
func (a *Authenticator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	i := auth.StreamServerInterceptor(a.AuthFunc)
	if !a.disabled {
		i = chainStream(i, a.watchStream)
	}
	if a.publicMethods.Empty() {
		return i
	}
	return selector.StreamServerInterceptor(i, selector.MatchFunc(a.requiresAuth))
}

func (a *Authenticator) requiresAuth(ctx context.Context, _ grpcmw.CallMeta) bool {
	// Not CallMeta's Service and Method: go-grpc-middleware splits the name
	// at its first "/", grpc-go routes by its last (see wire.SplitMethod).
	method, _ := grpc.Method(ctx)
	// A name that is not canonical is never public (MethodSet.Contains),
	// so AuthFunc refuses it, as the tap does.
	return !a.facts(method).public
}

// AuthFunc is the go-grpc-middleware auth.AuthFunc behind both interceptors,
// for callers who compose their own chain. It reads the method from
// grpc.Method(ctx), so it works inside a grpc.Server (public methods are the
// interceptors' business, not AuthFunc's).
func (a *Authenticator) AuthFunc(ctx context.Context) (context.Context, error) {
	if a.tapped(ctx) {
		return ctx, nil // decided, reported and carried by TapHandle
	}
	method, _ := grpc.Method(ctx)
	return a.authenticate(ctx, method, true)
}

// tapped reports whether TapHandle let the call of ctx in and its decision
// still holds (see stillValid). The tap decided on the method name grpc-go
// routes by, and only a canonical one, so a token's decision, which is the
// same for every method, needs no name. A status token's is for status
// methods only: the call's method is checked again, in case the tapped
// context reached another call (a handler passing its context to an
// in-process channel).
func (a *Authenticator) tapped(ctx context.Context) bool {
	// Looked up only once a tap has run: a miss walks the whole context
	// chain.
	if !a.tapUsed.Load() {
		return false
	}
	c := callerFrom(ctx)
	if c == nil || !c.tapped || !a.stillValid(c) {
		return false
	}
	if c.statusToken {
		method, _ := grpc.Method(ctx)
		return a.facts(method).status
	}
	return true
}

// Authenticate decides one call to fullMethod from the incoming metadata in
// ctx, as the interceptors do, and returns the context for the handler or a
// gRPC status error (always codes.Unauthenticated). It is for guarding
// something that is not a gRPC method with the same rules, such as an HTTP
// metrics endpoint. fullMethod names the call in decisions (logs, metrics):
// give a fixed name, never one taken from the request.
func (a *Authenticator) Authenticate(ctx context.Context, fullMethod string) (context.Context, error) {
	return a.authenticate(ctx, fullMethod, false)
}

// Precheck decides a call to fullMethod the way the interceptors will, from
// creds, the credentials the call will carry, for a front end that refuses
// early: the REST gateway, before it reads a request body
// (gateway.WithPrecheck). It returns nil for a call the interceptors would
// let in, or the same status error they would return. A denial is reported
// to the decision hooks, since the call will never reach the interceptors,
// with a context whose incoming metadata holds creds and whose peer is
// creds.RemoteAddr; an allowed call is not, since the interceptors decide
// it again, and report it, when it arrives. The interceptors stay the
// authority: Precheck only saves work. It allocates nothing for a cached
// token.
func (a *Authenticator) Precheck(ctx context.Context, fullMethod string, creds wire.Credentials) error {
	f := a.facts(fullMethod)
	if a.lets(f) {
		return nil
	}
	start := time.Now()
	_, d := a.decide(ctx, source{creds: &creds}, fullMethod, f.status, start)
	if d.Allowed {
		return nil
	}
	if a.hooks != nil {
		d.FullMethod = a.methodName(fullMethod, f, false)
		d.Duration = time.Since(start)
		a.report(frontEndContext(ctx, creds), d)
	}
	return denialFor(d.Err).status
}

// frontEndContext is ctx as the server would see the call of creds, as far
// as credentials go: their metadata, and the caller as the peer.
func frontEndContext(ctx context.Context, creds wire.Credentials) context.Context {
	md := metadata.MD{}
	if len(creds.Authorization) > 0 {
		md[wire.AuthorizationKey] = creds.Authorization
	}
	if len(creds.StatusToken) > 0 {
		md[wire.StatusTokenKey] = creds.StatusToken
	}
	ctx = metadata.NewIncomingContext(ctx, md)
	if ap, err := netip.ParseAddrPort(creds.RemoteAddr); err == nil {
		ctx = peer.NewContext(ctx, &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)})
	}
	return ctx
}

// authenticate is AuthFunc and Authenticate; fromServer says the method
// name came from the gRPC server, that is from the caller.
func (a *Authenticator) authenticate(ctx context.Context, fullMethod string, fromServer bool) (context.Context, error) {
	if fromServer {
		if !wire.Canonical(fullMethod) {
			return nil, a.refuseMethod(ctx)
		}
		if a.tapped(ctx) {
			return ctx, nil
		}
	}
	return a.decideAndReport(ctx, source{}, fullMethod, a.facts(fullMethod), fromServer)
}

// methodFacts is what applies to a method name: whether it is public, a
// status method, and registered on the server (known only once
// KnowMethods was called).
type methodFacts struct {
	public, status, registered bool
}

// facts returns fullMethod's facts: from KnowMethods' table when the
// server registered it (one lookup for all of them), else from the method
// sets.
func (a *Authenticator) facts(fullMethod string) methodFacts {
	if known := a.known.Load(); known != nil {
		if f, ok := (*known)[fullMethod]; ok {
			return f
		}
	}
	return methodFacts{public: a.publicMethods.Contains(fullMethod), status: a.statusMethods.Contains(fullMethod)}
}

// lets reports whether every call to a method of facts f passes without a
// credential: authentication off, or a public method.
func (a *Authenticator) lets(f methodFacts) bool {
	return a.disabled || f.public
}

// stillValid reports whether a call TapHandle let in may still go on when
// the interceptors run, which for a unary call is only once its whole
// message has arrived: the tap must have been this Authenticator's, under
// the policy still in force, and the token must not have expired since.
// Otherwise the interceptors decide again.
func (a *Authenticator) stillValid(c *callerContext) bool {
	p := a.policy.Load()
	if c.gen != p.gen { // another policy, or another Authenticator
		return false
	}
	return c.statusToken || time.Since(processStart) < c.until
}

// decideAndReport decides one call to fullMethod, of facts f, with the
// credentials of src, and reports it to the hooks.
func (a *Authenticator) decideAndReport(ctx context.Context, src source, fullMethod string, f methodFacts, fromServer bool) (context.Context, error) {
	start := time.Now()
	c, d := a.decide(ctx, src, fullMethod, f.status, start)
	if a.hooks != nil {
		d.FullMethod = a.methodName(fullMethod, f, fromServer)
		d.Duration = time.Since(start)
		a.report(ctx, d)
	}
	switch {
	case !d.Allowed:
		return nil, denialFor(d.Err).status
	case c.Context == nil: // authentication off
		return ctx, nil
	}
	caller := new(callerContext) // only here, so that a denial allocates none
	*caller = c
	return caller, nil
}

// refuseMethod refuses a call whose method name is not canonical.
func (a *Authenticator) refuseMethod(ctx context.Context) error {
	if a.hooks != nil {
		a.report(ctx, Decision{FullMethod: UnregisteredMethod, Reason: ReasonMalformedMethod, Err: ErrMalformedMethod})
	}
	return denialFor(ErrMalformedMethod).status
}

// decide decides one call to method at the time now, with the credentials
// of src; status says method is a status method. For a call it lets in
// with credentials, it returns the caller, a tapped one when src is the
// transport's (TapHandle), as a value, so that a caller that only wants the
// verdict (Precheck) allocates nothing; with authentication off, a caller
// with no Context.
func (a *Authenticator) decide(ctx context.Context, src source, method string, status bool, now time.Time) (callerContext, Decision) {
	if a.disabled {
		return callerContext{}, Decision{Allowed: true, Reason: ReasonAuthDisabled}
	}
	p := a.policy.Load() // once: the whole call is decided by one policy
	var statusTokens []string
	if len(p.statusToken) > 0 && status {
		statusTokens = src.values(ctx, wire.StatusTokenKey)
		if hasStatusToken(statusTokens, p.statusToken) {
			return callerContext{Context: ctx, statusToken: true, gen: p.gen, tapped: src.md != nil}, Decision{Allowed: true, Reason: ReasonStatusToken}
		}
	}
	tok, err := bearerToken(src.values(ctx, wire.AuthorizationKey))
	if err != nil {
		if err == token.ErrMissing {
			// Say what the caller did send: a status token that did not let
			// the call in, on any method, so that the answer does not tell
			// which methods are status methods.
			if statusTokens == nil {
				statusTokens = src.values(ctx, wire.StatusTokenKey)
			}
			if len(statusTokens) > 0 {
				err = ErrStatusTokenNotAccepted
			}
		}
		return callerContext{}, Decision{Reason: denialFor(err).reason, Err: err}
	}
	verified, err := p.verifier.VerifyAt(tok, now)
	if err != nil {
		return callerContext{}, Decision{Reason: denialFor(err).reason, Err: err}
	}
	c := callerContext{Context: ctx, verified: verified, gen: p.gen}
	if src.md != nil {
		c.tapped, c.until = true, tappedUntil(now, verified.ExpiresAt(), p.leeway)
	}
	return c, Decision{Allowed: true, Reason: ReasonValidToken, User: verified.User()}
}

// validUntil returns when a token that expires at exp stops being valid
// under leeway: the check (!now.Truncate(time.Second).After(exp+leeway))
// lets it in while the clock's whole second is at most exp+leeway's, that
// is until the next second begins. Tapped calls and stream expiry both end
// there.
func validUntil(exp time.Time, leeway time.Duration) time.Time {
	return exp.Add(leeway).Truncate(time.Second).Add(time.Second)
}

// tappedUntil is validUntil(exp, leeway) in the monotonic time of
// processStart, now being the decision's time, which has a monotonic
// reading: where a tapped call's decision stops holding. It runs on every
// tapped call, so it works in whole seconds and nanoseconds rather than
// with time.Time's methods, which cost five times as much. A token good for
// centuries would overflow the result, which saturates.
func tappedUntil(now, exp time.Time, leeway time.Duration) time.Duration {
	// validUntil's second: exp's, plus the whole seconds of exp's fraction
	// and leeway (both at least 0), plus one.
	until := exp.Unix() + (int64(exp.Nanosecond())+int64(leeway))/int64(time.Second) + 1
	secs := until - now.Unix() // at least 1 for a token valid at now
	elapsed := now.Sub(processStart)
	if secs < 0 {
		return elapsed // already past: stillValid holds no more
	}
	// The sum is elapsed + secs s - now's nanoseconds, at most MaxInt64
	// while secs is at most this (in uint64, where it cannot overflow).
	// secs s alone may then pass MaxInt64 by less than a second: the
	// difference wraps back, as Go's integers do, to its exact value.
	nsec := int64(now.Nanosecond())
	if uint64(secs) > (uint64(math.MaxInt64-int64(elapsed))+uint64(nsec))/uint64(time.Second) {
		return math.MaxInt64
	}
	return elapsed + time.Duration(secs*int64(time.Second)-nsec)
}

// source is where decide reads a call's credentials: md when the
// transport handed the call's metadata over (TapHandle), without a copy;
// creds when a front end did (Precheck); else ctx's incoming metadata,
// which grpc-go gives only as a copy.
type source struct {
	md    metadata.MD
	creds *wire.Credentials
}

// values returns the values of key, wire.AuthorizationKey or
// wire.StatusTokenKey, in the call's credentials.
func (s source) values(ctx context.Context, key string) []string {
	switch {
	case s.md != nil:
		return s.md[key]
	case s.creds == nil:
		return metadata.ValueFromIncomingContext(ctx, key)
	case key == wire.AuthorizationKey:
		return s.creds.Authorization
	}
	return s.creds.StatusToken
}

// hasStatusToken reports whether vals is exactly one x-status-token equal
// to want. A wrong one is not an error: like Brevia, the call then falls
// through to the bearer check.
func hasStatusToken(vals []string, want []byte) bool {
	return len(vals) == 1 && subtle.ConstantTimeCompare([]byte(vals[0]), want) == 1
}

// bearerToken returns the token of the call's one "authorization: Bearer
// <token>" metadata value. The scheme is case-insensitive (RFC 7235).
func bearerToken(vals []string) (string, error) {
	switch len(vals) {
	case 0:
		return "", token.ErrMissing
	case 1:
	default:
		return "", ErrMultipleCredentials
	}
	v := vals[0]
	if len(v) > len("Bearer ") && v[6] == ' ' && v[len(v)-1] > ' ' && strings.EqualFold(v[:6], "bearer") {
		// The usual "Bearer <token>", decided without scanning it: 7 ns
		// against the plain parser's 17 (BenchmarkTrickBearerToken).
		return v[7:], nil
	}
	if strings.TrimSpace(v) == "" {
		return "", token.ErrMissing
	}
	scheme, tok, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "bearer") {
		return "", ErrNotBearer
	}
	if strings.TrimSpace(tok) == "" { // "Bearer" and blanks: no token at all
		return "", token.ErrMissing
	}
	return tok, nil
}

// UnregisteredMethod is the name a Decision gives a call whose method name
// cannot be trusted in logs and metric labels: not valid UTF-8, longer than
// 256 bytes, not starting with "/", or, once KnowMethods was called,
// not registered on the server. With a grpc.UnknownServiceHandler, the
// stream interceptors run for every name a client sends; folding them into
// one value keeps label sets bounded and every label valid.
const UnregisteredMethod = "unregistered"

// maxMethodNameSize is the longest method name a Decision carries as it is.
const maxMethodNameSize = 256

// KnowMethods tells the Authenticator which methods srv (a *grpc.Server)
// serves, so that decisions about any other name a caller sends (possible
// only with a grpc.UnknownServiceHandler) carry UnregisteredMethod instead. Call it
// once every service is registered, before or after Serve; it is safe to
// call concurrently with calls. Without it, names are only checked for
// shape (see UnregisteredMethod).
func (a *Authenticator) KnowMethods(srv interface {
	GetServiceInfo() map[string]grpc.ServiceInfo
}) {
	known := map[string]methodFacts{}
	for service, info := range srv.GetServiceInfo() {
		for _, m := range info.Methods {
			// Only names of the right shape, so that methodName can
			// trust what it finds here.
			if name := "/" + service + "/" + m.Name; wellFormedName(name) {
				known[name] = methodFacts{
					public:     a.publicMethods.Contains(name),
					status:     a.statusMethods.Contains(name),
					registered: true,
				}
			}
		}
	}
	a.known.Store(&known)
}

// methodName is the name decisions carry for fullMethod, of facts f. Names
// that came from the server (that is, from the caller) must also be
// registered, once the Authenticator knows what is.
func (a *Authenticator) methodName(fullMethod string, f methodFacts, fromServer bool) string {
	if f.registered {
		return fullMethod // KnowMethods kept only well-formed names
	}
	if fromServer && a.known.Load() != nil {
		return UnregisteredMethod
	}
	if !wellFormedName(fullMethod) {
		return UnregisteredMethod
	}
	return fullMethod
}

// wellFormedName reports whether a method name can be a label, and a log
// field, as it is: UTF-8 of graphic characters and spaces only, so no
// control character, line or paragraph separator or bidirectional
// override. HTTP/2 cannot carry a control character in a path, but
// grpc.Server.ServeHTTP takes the path percent-decoded, so "%0a" or an
// escape sequence could reach a log handler that does not quote its
// fields.
func wellFormedName(name string) bool {
	if name == "" || name[0] != '/' || len(name) > maxMethodNameSize || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if !unicode.IsGraphic(r) {
			return false
		}
	}
	return true
}
