package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/tokengate/tokengate/wire"
)

// Some requests are refused by the gateway itself: for their credentials
// (WithPrecheck), for a body that is too large, or because they cannot
// become a gRPC call. The first request of a route goes through
// grpc-gateway's handler for the route, so that the route, the RPC and the
// metadata are those of the real call, and the gateway decides as soon as
// the RPC is known, in a metadata annotator that grpc-gateway runs before
// the handler reads the body (decide). A refused request's body can no
// longer be read, and its call's context is canceled with the refusal as
// its cause: grpc-go checks the context before it opens a stream, so
// nothing reaches the server. The handler then fails, and the error handler
// answers the refusal instead of the error it caused. Once the route's RPC
// is known, most refusals are answered before the handler (see route).
// Routes that are not RPCs (ServeMux.HandlePath) are left alone.
var (
	errMalformedAuthorization = status.Error(codes.Unauthenticated,
		"malformed authorization header: not printable ASCII")
	errQueryNotUTF8 = status.Error(codes.InvalidArgument,
		"query is not valid UTF-8 once unescaped")
	errPathNotUTF8 = status.Error(codes.InvalidArgument,
		"path parameter is not valid UTF-8 once unescaped")
	errHeadOnStream = &runtime.HTTPStatusError{
		HTTPStatus: http.StatusMethodNotAllowed,
		Err:        status.Error(codes.Unimplemented, "HEAD is not supported on a streaming route; use GET"),
	}
)

// exchangeKey is the context key of an *exchange.
type exchangeKey struct{}

// exchange is the gateway's state of one request, found in its context: it
// is the request's context, and answers exchangeKey with itself (one
// allocation where context.WithValue would add two). Its fields are set on
// the request's goroutine before the route's handler runs, except refusal
// and the body's counts, which a streaming route's handler may change from
// the goroutine that reads the body: mu guards those.
type exchange struct {
	context.Context // the request's
	// cancel cancels the context of the route's handler, and so its call,
	// for a refusal; set by track, nil where no call can need it.
	cancel context.CancelCauseFunc
	body   body // the request's body, as handlers read it
	head   bool // a HEAD request, served as GET
	// pathNotUTF8 says a path parameter of the route is not valid UTF-8
	// once unescaped (set by track).
	pathNotUTF8 bool
	mu          sync.Mutex
	// refusal is why the gateway refused the request; nil if it did not.
	// Guarded by mu: read it with refused.
	refusal error
	// inStream says the refusal stands for the server's answer on a route
	// whose answers are streams, so it is written as the server's would
	// be: in the stream.
	inStream bool
	// route is the route the request matched, set by track (nil for a
	// request of a mux without ServeMuxOptions' middleware).
	route *route
	// decidedFor is the RPC whose call track already made the credential
	// decision for ("": none), and decision its outcome (nil: let in).
	decidedFor string
	decision   error
}

func (x *exchange) Value(key any) any {
	if key == (exchangeKey{}) {
		return x
	}
	return x.Context.Value(key)
}

// begin returns r with a new exchange as its context and a body that reads
// at most g.maxBody bytes, and the exchange.
func (g *Gateway) begin(r *http.Request) (*http.Request, *exchange) {
	x := &exchange{Context: r.Context()}
	src := r.Body
	if src == nil {
		src = http.NoBody
	}
	x.body = body{src: src, x: x, limit: g.maxBody, declared: r.ContentLength, tooLarge: g.errTooLarge}
	r = r.WithContext(x)
	r.Body = &x.body
	return r, x
}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// refuse records the gateway's answer to the request, unless it has one
// already, makes the body unreadable and cuts the call.
func (x *exchange) refuse(err error) {
	x.mu.Lock()
	if x.refusal != nil {
		x.mu.Unlock()
		return
	}
	x.refusal = err
	x.mu.Unlock()
	if x.cancel != nil {
		x.cancel(err)
	}
}

// refused returns the gateway's refusal of the request, or nil.
func (x *exchange) refused() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.refusal
}

// answer returns the error to answer the request with, err being what its
// handler failed with. A refusal replaces the errors it caused (a body that
// cannot be read, a canceled call, or one whose Grpc-Timeout ran out
// before the cut reached it: the refusal came first, and which error the
// call reports is a race). An error grpc-gateway found on its own
// before the call (a bad Grpc-Timeout, a repeated query parameter of a
// scalar field) stands, as it does on every request, except against
// credentials that cannot be sent, which are refused outright.
func (x *exchange) answer(err error) error {
	x.mu.Lock()
	refusal, bodyRefused := x.refusal, x.body.refused
	x.mu.Unlock()
	switch {
	case refusal == nil:
		return err
	case refusal == errMalformedAuthorization, bodyRefused, status.Code(err) == codes.Canceled, status.Code(err) == codes.DeadlineExceeded:
		return refusal
	}
	return err
}

// decide is a metadata annotator: grpc-gateway runs it once the route's RPC
// is known, before the handler reads the request's body, and only on RPC
// routes. It teaches the route its RPC, and refuses, in this order (the
// first two decided by track already, on a route whose RPC it knows):
//   - an Authorization value that is not printable ASCII, which grpc-gateway
//     would drop silently, so that of two values the other would pass as
//     the only one, or none with the challenge still saying invalid_token;
//   - credentials the server would refuse (WithPrecheck), so that a caller
//     without valid credentials learns no more from what follows than from
//     any other request;
//   - a query or a path parameter that is not UTF-8 once unescaped, which
//     grpc-gateway would copy into a proto string field that grpc-go then
//     refuses to marshal (500);
//   - HEAD on a streaming route, since the headers of a stream are known
//     only once it sends, and an endless one would never end;
//   - a body whose Content-Length is over WithMaxBodySize.
func (g *Gateway) decide(ctx context.Context, r *http.Request) metadata.MD {
	x := exchangeFrom(ctx)
	method, ok := runtime.RPCMethod(ctx)
	if x == nil || !ok {
		return nil
	}
	if _, generated := runtime.HTTPPathPattern(ctx); generated && x.route != nil {
		x.route.learn(method)
	}
	var err error
	switch {
	case x.decidedFor == method: // by track: see route
		err = x.decision
	case !validAuthorization(r.Header["Authorization"]):
		err = errMalformedAuthorization
	default:
		err = g.check(ctx, r, method)
	}
	if err == errMalformedAuthorization {
		x.refuse(err)
		return nil
	}
	cut := g.cut(x, r, method)
	if err != nil {
		// Where the call would have been made, the refusal stands for the
		// server's answer, and is written as that would be.
		x.inStream = cut == nil && serverStreams(method)
		x.refuse(err)
		return nil
	}
	switch {
	case cut != nil:
		x.refuse(cut)
	case r.ContentLength > g.maxBody:
		x.refuse(g.errTooLarge)
	}
	return nil
}

// cut returns why a call of r to method cannot be made, whatever the
// credentials, or nil.
func (g *Gateway) cut(x *exchange, r *http.Request, method string) error {
	switch {
	case !validQuery(r.URL.RawQuery):
		return errQueryNotUTF8
	case x.pathNotUTF8:
		return errPathNotUTF8
	case x.head && streams(method):
		return errHeadOnStream
	}
	return nil
}

// check asks WithPrecheck's function about a call of r to method; nil
// without one.
func (g *Gateway) check(ctx context.Context, r *http.Request, method string) error {
	if g.precheck == nil {
		return nil
	}
	return g.precheck(ctx, method, g.credentials(r, method))
}

// credentials are the credentials a call of r to method will carry, as the
// server will see them: the authorization values grpc-gateway forwards
// (every Authorization header value, in order; decide has refused any that
// could not travel) and the x-status-token values of statusTokenMetadata,
// and the HTTP caller's address. No other header reaches the server under
// those keys: incomingHeaderMatcher drops them.
func (g *Gateway) credentials(r *http.Request, method string) wire.Credentials {
	return wire.Credentials{
		Authorization: r.Header["Authorization"],
		StatusToken:   g.statusTokens(r, method),
		RemoteAddr:    r.RemoteAddr,
	}
}

// streams reports whether an RPC streams, either way. An RPC not found
// counts as streaming: HEAD must not start what may be a stream.
func streams(fullMethod string) bool {
	m, ok := methodDescriptor(fullMethod)
	return !ok || m.IsStreamingServer() || m.IsStreamingClient()
}

// serverStreams reports whether the answer of an RPC is a stream, which
// grpc-gateway writes as one JSON object per message.
func serverStreams(fullMethod string) bool {
	m, ok := methodDescriptor(fullMethod)
	return ok && m.IsStreamingServer()
}

// methodDescriptor finds an RPC in the global registry, where generated
// code registers it.
func methodDescriptor(fullMethod string) (protoreflect.MethodDescriptor, bool) {
	name := protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(fullMethod, "/"), "/", "."))
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil {
		return nil, false
	}
	m, ok := d.(protoreflect.MethodDescriptor)
	return m, ok
}

// validAuthorization reports whether every Authorization value can travel
// as gRPC metadata (printable ASCII). Callers pass r.Header["Authorization"]:
// net/http stores header names canonical, and Header.Values would
// canonicalize the name again on every request.
func validAuthorization(vals []string) bool {
	for _, v := range vals {
		if !printableASCII(v) {
			return false
		}
	}
	return true
}

// validQuery reports whether every key and value of the query unescapes to
// valid UTF-8. Pairs that do not unescape at all are left to grpc-gateway,
// which answers them with 400.
func validQuery(raw string) bool {
	if raw == "" {
		return true
	}
	for _, part := range strings.FieldsFunc(raw, func(r rune) bool { return r == '&' || r == ';' }) {
		if s, err := url.QueryUnescape(part); err == nil && !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
