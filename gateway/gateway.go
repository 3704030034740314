package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata keys the gateway writes. They match what package interceptors
// reads; nothing else may set them.
const (
	AuthorizationKey = "authorization"
	StatusTokenKey   = "x-status-token"
)

// StatusTokenParam is the query parameter monitors put the status token in:
// GET /status?token=…
const StatusTokenParam = "token"

// DefaultRealm is the realm named in the WWW-Authenticate challenge.
const DefaultRealm = "tokengate"

// DefaultStatusMethods are the RPCs whose routes read ?token=.
var DefaultStatusMethods = []string{"/tokengate.v1.StatusService/Status"}

// Option configures the gateway.
type Option func(*config)

type config struct {
	realm         string
	statusMethods map[string]bool
	authenticate  func(ctx context.Context, fullMethod string) (context.Context, error)
}

// WithRealm sets the realm of the WWW-Authenticate challenge.
func WithRealm(realm string) Option {
	return func(c *config) {
		if realm != "" {
			c.realm = realm
		}
	}
}

// WithStatusMethods replaces DefaultStatusMethods: the full gRPC method names
// (/pkg.Service/Method) whose routes turn ?token= into x-status-token
// metadata; a name ending in "/" covers every method of that service, as in
// interceptors.Config.StatusMethods. The decision is made by the RPC a route
// maps to, never by the URL's text.
func WithStatusMethods(methods ...string) Option {
	return func(c *config) {
		c.statusMethods = make(map[string]bool, len(methods))
		for _, m := range methods {
			c.statusMethods[m] = true
		}
	}
}

// WithAuthenticate gives the gateway the server's authentication decision
// for the requests it answers itself, without the gRPC call they map to:
// HEAD on a streaming route and a query that is not UTF-8. Such a request
// is first decided by f, with the RPC's full method name and, as incoming
// metadata, exactly the metadata the call would have carried (the caller's
// address as its peer), so that a caller without valid credentials gets the
// same 401 as on GET. f returns a gRPC status error to refuse;
// interceptors.Authenticator.Authenticate has this signature and makes the
// interceptors' decision. f must be safe for concurrent use.
//
// Without it, those requests are answered without authentication: 400 for
// the query, 405 for HEAD on a stream. It is an option of NewServeMux and
// ServeMuxOptions; Handler does not use it.
func WithAuthenticate(f func(ctx context.Context, fullMethod string) (context.Context, error)) Option {
	return func(c *config) { c.authenticate = f }
}

// isStatusMethod reports whether method is one of the status methods, by
// name or by service.
func (c *config) isStatusMethod(method string) bool {
	if c.statusMethods[method] {
		return true
	}
	i := strings.LastIndexByte(method, '/')
	return i > 0 && c.statusMethods[method[:i+1]]
}

func newConfig(opts []Option) *config {
	c := &config{realm: DefaultRealm}
	WithStatusMethods(DefaultStatusMethods...)(c)
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// ServeMuxOptions returns the runtime.ServeMux options that carry tokengate's
// credentials from HTTP to gRPC metadata and its errors back:
//
//   - the Authorization header reaches the gRPC side as the authorization
//     metadata, and only it: Grpc-Metadata-Authorization, X-Status-Token and
//     Grpc-Metadata-X-Status-Token headers are dropped;
//   - ?token= becomes x-status-token metadata on the status routes only;
//   - Unauthenticated answers 401 with an RFC 6750 challenge;
//   - a request that cannot become a gRPC call is answered without one: an
//     Authorization value that is not printable ASCII gets 401 (grpc-gateway
//     would drop it, so that of two values the other passed alone), and a
//     query that is not UTF-8 once unescaped gets 400 (grpc-go would refuse
//     to marshal it: a 500), after the caller is authenticated when
//     WithAuthenticate is given.
//
// Pass them to runtime.NewServeMux after your own options, or use
// NewServeMux: grpc-gateway keeps only the last header matcher and error
// handler it is given, so an option of yours placed after them (such as
// runtime.WithLegacyHeaderMatching) would let Grpc-Metadata-Authorization
// through again.
func ServeMuxOptions(opts ...Option) []runtime.ServeMuxOption {
	c := newConfig(opts)
	return []runtime.ServeMuxOption{
		runtime.WithIncomingHeaderMatcher(incomingHeaderMatcher),
		runtime.WithMetadata(c.statusTokenMetadata),
		runtime.WithMetadata(cutCall),
		runtime.WithMiddlewares(refuseUnsendable),
		runtime.WithErrorHandler(c.errorHandler),
	}
}

// NewServeMux returns a runtime.ServeMux with muxOpts and then
// ServeMuxOptions, which come last so that no option of yours can replace
// the header matcher or error handler that keep credentials safe. Register
// handlers on it against a gRPC connection (Register…HandlerFromEndpoint or
// Register…HandlerClient), so that REST calls go through the server's
// interceptors; Register…HandlerServer calls the service directly and would
// skip authentication.
func NewServeMux(opts []Option, muxOpts ...runtime.ServeMuxOption) *runtime.ServeMux {
	all := append(append([]runtime.ServeMuxOption{}, muxOpts...), ServeMuxOptions(opts...)...)
	return runtime.NewServeMux(all...)
}

// incomingHeaderMatcher is grpc-gateway's default matcher, except for the
// headers that would let a caller add or override a credential. grpc-gateway
// forwards Authorization itself, as authorization metadata, ahead of the
// matched headers.
func incomingHeaderMatcher(key string) (string, bool) {
	switch strings.ToLower(key) {
	case "authorization", // already forwarded; not again as grpcgateway-authorization
		"x-status-token",
		strings.ToLower(runtime.MetadataHeaderPrefix) + AuthorizationKey,
		strings.ToLower(runtime.MetadataHeaderPrefix) + StatusTokenKey:
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

// statusTokenMetadata turns ?token= into x-status-token metadata when the
// route maps to a status RPC. Every value is passed on, so a request with
// two tokens is refused by the server instead of one being chosen here.
// gRPC metadata values must be printable ASCII (grpc-go refuses to send
// anything else, and the call would fail with Internal, HTTP 500): if any
// value is not, none is passed and the call is decided on its bearer token,
// as with a wrong status token.
func (c *config) statusTokenMetadata(ctx context.Context, r *http.Request) metadata.MD {
	method, ok := runtime.RPCMethod(ctx)
	if !ok || !c.isStatusMethod(method) {
		return nil
	}
	vals, ok := r.URL.Query()[StatusTokenParam]
	if !ok {
		return nil
	}
	for _, v := range vals {
		if !printableASCII(v) {
			return nil
		}
	}
	return metadata.MD{StatusTokenKey: vals}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// errorHandler is grpc-gateway's default error handler with an RFC 6750
// challenge on 401: grpc-gateway's own puts the gRPC message in
// WWW-Authenticate, which is not a challenge. (Errors of streaming routes
// do not pass here; Handler covers those.)
func (c *config) errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if cause := cutCause(ctx); cause != nil {
		err = c.answerCut(ctx, r, err, cause)
		if err == errHeadOnStream {
			w.Header().Set("Allow", http.MethodGet)
		}
	}
	err = validUTF8Message(err)
	if status.Code(err) == codes.Unauthenticated {
		w = &challengeWriter{ResponseWriter: w, challenge: challenge(c.realm, r)}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// validUTF8Message replaces invalid UTF-8 in a status error's message.
// grpc-gateway echoes some request input in its own errors (a bad
// Grpc-Timeout header: InvalidArgument), and cannot marshal a message that
// is not UTF-8: it would answer 500 "failed to marshal error message"
// instead of the error's own code.
func validUTF8Message(err error) error {
	se, ok := err.(interface{ GRPCStatus() *status.Status })
	if !ok || utf8.ValidString(se.GRPCStatus().Message()) {
		return err
	}
	p := se.GRPCStatus().Proto()
	p.Message = strings.ToValidUTF8(p.Message, "\uFFFD")
	return status.FromProto(p).Err()
}

// challenge builds the WWW-Authenticate value. error="invalid_token" is
// added only when the request presented a bearer token (RFC 6750 §3.1: a
// request with no credentials gets no error code). The reason stays in the
// JSON body; it is not repeated here.
func challenge(realm string, r *http.Request) string {
	ch := `Bearer realm="` + quoteSafe(realm) + `"`
	if presentedBearer(r) {
		ch += `, error="invalid_token"`
	}
	return ch
}

func presentedBearer(r *http.Request) bool {
	for _, v := range r.Header.Values("Authorization") {
		scheme, tok, _ := strings.Cut(v, " ")
		if strings.EqualFold(scheme, "bearer") && strings.TrimSpace(tok) != "" {
			return true
		}
	}
	return false
}

// quoteSafe keeps only the characters RFC 6750 allows in a quoted value
// (%x20-21 / %x23-5B / %x5D-7E): no quote, no backslash, nothing outside
// printable ASCII.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// challengeWriter sets WWW-Authenticate when a 401 status line is written,
// after whatever grpc-gateway set before it.
type challengeWriter struct {
	http.ResponseWriter
	challenge string
	wrote     bool
}

func (w *challengeWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", w.challenge)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *challengeWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *challengeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Handler wraps a gateway mux made with NewServeMux or ServeMuxOptions for
// serving:
//   - every 401 carries the RFC 6750 challenge, including those of
//     streaming routes, whose errors bypass the mux's error handler;
//   - HEAD requests are answered as the GET of the same route without a
//     body (grpc-gateway alone answers 501 for HEAD /status), except on a
//     streaming route: there the stream is not run, since its headers are
//     known only once it sends, and an endless one would never end. HEAD
//     there gets 405 with Allow: GET, after the caller is authenticated
//     when the mux has WithAuthenticate (401 as on GET otherwise).
//
// HEAD on a streaming route is recognised by the mux's options; on a mux
// without them, it would run the stream.
func Handler(mux *runtime.ServeMux, opts ...Option) http.Handler {
	c := newConfig(opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = &challengeWriter{ResponseWriter: w, challenge: challenge(c.realm, r)}
		if r.Method == http.MethodHead {
			get, release := withCut(r.Clone(r.Context()), &cut{head: true})
			defer release()
			get.Method = http.MethodGet
			mux.ServeHTTP(bodylessWriter{w}, get)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// bodylessWriter drops the body of a HEAD response, keeping its status and
// headers.
type bodylessWriter struct{ http.ResponseWriter }

func (w bodylessWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w bodylessWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// RedactURL returns u as a string fit for logs: the value of the status
// token parameter is replaced, since it is a secret that travels in a URL.
// The rest of the query is kept as it came.
func RedactURL(u *url.URL) string {
	c := *u
	c.RawQuery = redactQuery(u.RawQuery)
	return c.String()
}

// redactQuery works on the query's text rather than on url.Query, which
// drops the pairs it cannot parse (a bad escape, a ';' separator) and so
// would leave a token in such a pair in the log. Every pair separated by '&'
// or ';' whose key is, or decodes to, "token" loses its value.
func redactQuery(raw string) string {
	var b strings.Builder
	for rest := raw; rest != ""; {
		pair := rest
		sep := ""
		if i := strings.IndexAny(rest, "&;"); i >= 0 {
			pair, sep, rest = rest[:i], rest[i:i+1], rest[i+1:]
		} else {
			rest = ""
		}
		if key, _, ok := strings.Cut(pair, "="); ok {
			name, err := url.QueryUnescape(key)
			if err != nil {
				name = key
			}
			// Any case: the value is redacted even where it is not a
			// status token (?TOKEN= grants nothing), since it may be one.
			if strings.EqualFold(name, StatusTokenParam) {
				pair = key + "=REDACTED"
			}
		}
		b.WriteString(pair)
		b.WriteString(sep)
	}
	return b.String()
}
