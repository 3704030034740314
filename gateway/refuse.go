package gateway

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Some requests are answered by the gateway without the gRPC call they map
// to. They still go through grpc-gateway's handler for their route, so that
// the route, the RPC and the metadata are those of the real call, but the
// call's context is canceled, with one of the errors below as its cause,
// once the RPC is known and before it is called (cutCall). grpc-go checks
// the context before it opens a stream, so nothing reaches the server, and
// the error handler answers from the cause instead of the Canceled error
// the call failed with. Routes that are not RPCs (ServeMux.HandlePath) are
// left alone.
var (
	errMalformedAuthorization = status.Error(codes.Unauthenticated,
		"malformed authorization header: not printable ASCII")
	errQueryNotUTF8 = status.Error(codes.InvalidArgument,
		"query is not valid UTF-8 once unescaped")
	errHeadOnStream = &runtime.HTTPStatusError{
		HTTPStatus: http.StatusMethodNotAllowed,
		Err:        status.Error(codes.Unimplemented, "HEAD is not supported on a streaming route; use GET"),
	}
)

// cutKey is the context key of a *cut.
type cutKey struct{}

// cut is how the call of a request can be cut: cancel, for cause when it is
// known from the request alone, or for errHeadOnStream if head and the RPC
// streams.
type cut struct {
	cancel context.CancelCauseFunc
	cause  error
	head   bool
}

// withCut returns r with a cancelable context carrying c, and the function
// that releases it.
func withCut(r *http.Request, c *cut) (*http.Request, func()) {
	ctx, cancel := context.WithCancelCause(r.Context())
	c.cancel = cancel
	return r.WithContext(context.WithValue(ctx, cutKey{}, c)), func() { cancel(nil) }
}

// refuseUnsendable is a grpc-gateway middleware, run once a request has
// matched a route. It marks for cutting the call of a request that cannot
// become one:
//   - an Authorization value that is not printable ASCII, which grpc-gateway
//     would drop silently, so that of two values the other would pass as
//     the only one, or none with the challenge still saying invalid_token;
//   - a query that is not UTF-8 once unescaped, which grpc-gateway would copy
//     into a proto string field that grpc-go then refuses to marshal (500).
func refuseUnsendable(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		var cause error
		switch {
		case !validAuthorization(r.Header.Values("Authorization")):
			cause = errMalformedAuthorization
		case !validQuery(r.URL.RawQuery):
			cause = errQueryNotUTF8
		}
		if cause != nil {
			var release func()
			r, release = withCut(r, &cut{cause: cause})
			defer release()
		}
		next(w, r, pathParams)
	}
}

// cutCall is a metadata annotator: grpc-gateway runs it once the route's
// RPC is known, before calling it, and only on RPC routes. It cuts the call
// marked for it: a HEAD request's on a streaming route, since the headers of
// a stream are known only once it sends, and an endless one would never
// end.
func cutCall(ctx context.Context, _ *http.Request) metadata.MD {
	c, ok := ctx.Value(cutKey{}).(*cut)
	switch {
	case !ok:
	case c.cause != nil:
		c.cancel(c.cause)
	case c.head:
		if method, ok := runtime.RPCMethod(ctx); !ok || streams(method) {
			c.cancel(errHeadOnStream)
		}
	}
	return nil
}

// streams reports whether an RPC streams, from its descriptor in the global
// registry, where generated code registers it. An RPC not found there
// counts as streaming: HEAD must not start what may be a stream.
func streams(fullMethod string) bool {
	name := protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(fullMethod, "/"), "/", "."))
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil {
		return true
	}
	m, ok := d.(protoreflect.MethodDescriptor)
	return !ok || m.IsStreamingServer() || m.IsStreamingClient()
}

// cutCause returns the reason the gateway cut the call of ctx's request,
// or nil if it did not.
func cutCause(ctx context.Context) error {
	switch cause := context.Cause(ctx); cause {
	case errMalformedAuthorization, errQueryNotUTF8, errHeadOnStream:
		return cause
	}
	return nil
}

// answerCut returns the error to answer a request whose call was cut for
// cause; err is what the route's handler failed with. Credentials that
// cannot be sent are refused outright. An error grpc-gateway found before
// the call stands, as it does on every request. Otherwise the call's
// authentication comes next, as on the server, so that a caller without
// valid credentials learns no more from a bad query or a HEAD than from a
// GET; then cause.
func (c *config) answerCut(ctx context.Context, r *http.Request, err, cause error) error {
	if cause == errMalformedAuthorization {
		return cause
	}
	if status.Code(err) != codes.Canceled {
		return err
	}
	if c.authenticate != nil {
		if method, ok := runtime.RPCMethod(ctx); ok {
			if _, aerr := c.authenticate(authenticationContext(ctx, r), method); aerr != nil {
				return aerr
			}
		}
	}
	return cause
}

// authenticationContext is ctx as the server would have seen the call:
// grpc-gateway's outgoing metadata as incoming metadata, the HTTP caller as
// the peer, and no cancellation (the cut canceled ctx).
func authenticationContext(ctx context.Context, r *http.Request) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	actx := metadata.NewIncomingContext(context.WithoutCancel(ctx), md)
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		actx = peer.NewContext(actx, &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)})
	}
	return actx
}

// validAuthorization reports whether every Authorization value can travel
// as gRPC metadata (printable ASCII).
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
