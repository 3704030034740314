package gateway

import (
	"context"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/wire"
)

// ServeMuxOptions returns the runtime.ServeMux options that carry tokengate's
// credentials from HTTP to gRPC metadata and its errors back:
//
//   - the Authorization header reaches the gRPC side as the authorization
//     metadata, and only it: Grpc-Metadata-Authorization, X-Status-Token and
//     Grpc-Metadata-X-Status-Token headers are dropped;
//   - ?token= becomes x-status-token metadata on the status routes only;
//   - with WithPrecheck, a request the server would refuse for its
//     credentials is answered before its body is read;
//   - a request that cannot become a gRPC call is answered without one: an
//     Authorization value that is not printable ASCII gets 401 (grpc-gateway
//     would drop it, so that of two values the other passed alone), and a
//     query or a path parameter that is not UTF-8 once unescaped gets 400
//     (grpc-go would refuse to marshal it: a 500), after the credentials
//     are checked;
//   - a body larger than WithMaxBodySize gets 413;
//   - grpc-gateway's fallback from a form POST to a GET route (and its
//     X-HTTP-Method-Override, which needs it) is off: it parses the form,
//     reading the body, before any middleware runs, that is before the
//     credentials are decided and out of reach of the body limit on a mux
//     served without Wrap. Such a POST gets grpc-gateway's answer to a
//     method a route lacks (501, "Method Not Allowed"), its body unread;
//   - Unauthenticated answers 401 with an RFC 6750 challenge.
//
// Pass them to runtime.NewServeMux after your own options, or use
// NewServeMux: grpc-gateway keeps only the last header matcher and error
// handler it is given, so an option of yours placed after them (such as
// runtime.WithLegacyHeaderMatching) would let Grpc-Metadata-Authorization
// through again.
//
// A mux made by NewServeMux also decides, once it knows a route's RPC,
// before grpc-gateway's handler, and answers most refusals there (cheaper:
// grpc-gateway has not built the call's metadata yet). One made with these
// options decides in the handler only, since an option of yours after them
// (a middleware) could change the request after an early decision. The
// early decision assumes that a route always calls the same RPC, as
// generated routes do: a HandlePath handler of yours that calls
// runtime.AnnotateContext with an RPC it picks per request should be on a
// mux made with these options.
func (g *Gateway) ServeMuxOptions() []runtime.ServeMuxOption {
	return g.muxOptions(false)
}

// muxOptions are ServeMuxOptions; early says they come last (NewServeMux),
// which lets the gateway decide before grpc-gateway's handler (see route).
func (g *Gateway) muxOptions(early bool) []runtime.ServeMuxOption {
	return []runtime.ServeMuxOption{
		runtime.WithIncomingHeaderMatcher(incomingHeaderMatcher),
		runtime.WithMetadata(g.statusTokenMetadata),
		runtime.WithMetadata(g.decide),
		runtime.WithMiddlewares(g.track(early)),
		runtime.WithErrorHandler(g.errorHandler),
		runtime.WithDisablePathLengthFallback(),
	}
}

// NewServeMux returns a runtime.ServeMux with muxOpts and then
// ServeMuxOptions, which come last so that no option of yours can replace
// the header matcher or error handler that keep credentials safe. Register
// handlers on it against a gRPC connection (Register…HandlerFromEndpoint or
// Register…HandlerClient), so that REST calls go through the server's
// interceptors; Register…HandlerServer calls the service directly and would
// skip authentication. Serve it with Wrap.
func (g *Gateway) NewServeMux(muxOpts ...runtime.ServeMuxOption) *runtime.ServeMux {
	return runtime.NewServeMux(append(slices.Clip(muxOpts), g.muxOptions(true)...)...)
}

// incomingHeaderMatcher is grpc-gateway's default matcher, except for the
// headers that would let a caller add or override a credential. grpc-gateway
// forwards Authorization itself, as authorization metadata, ahead of the
// matched headers.
//
// grpc-gateway asks it about every header of every request, so the answers
// for the headers callers commonly send are computed once (commonHeaders).
func incomingHeaderMatcher(key string) (string, bool) {
	if m, ok := commonHeaders[key]; ok {
		return m.name, m.ok
	}
	return matchHeader(key)
}

func matchHeader(key string) (string, bool) {
	for _, refused := range refusedHeaders {
		if strings.EqualFold(key, refused) {
			return "", false
		}
	}
	return runtime.DefaultHeaderMatcher(key)
}

// refusedHeaders are the headers incomingHeaderMatcher never forwards.
var refusedHeaders = []string{
	"Authorization", // already forwarded; not again as grpcgateway-authorization
	wire.StatusTokenKey,
	runtime.MetadataHeaderPrefix + wire.AuthorizationKey,
	runtime.MetadataHeaderPrefix + wire.StatusTokenKey,
}

type match struct {
	name string
	ok   bool
}

// commonHeaders holds matchHeader's answers for the headers grpc-gateway
// forwards by default (its permanent HTTP headers), the refused ones and a
// few that every client sends, by canonical name, the form net/http gives
// them in.
var commonHeaders = func() map[string]match {
	m := map[string]match{}
	for _, h := range append([]string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language",
		"Accept-Ranges", "Cache-Control", "Connection", "Content-Type",
		"Cookie", "Date", "Expect", "From", "Host", "If-Match",
		"If-Modified-Since", "If-None-Match", "If-Schedule-Tag-Match",
		"If-Unmodified-Since", "Max-Forwards", "Origin", "Pragma", "Referer",
		"User-Agent", "Via", "Warning", "X-Forwarded-For", "X-Forwarded-Host",
	}, refusedHeaders...) {
		h = textproto.CanonicalMIMEHeaderKey(h)
		name, ok := matchHeader(h)
		m[h] = match{name, ok}
	}
	return m
}()

// errorHandler is grpc-gateway's default error handler with an RFC 6750
// challenge on 401 (grpc-gateway's own puts the gRPC message in
// WWW-Authenticate, which is not a challenge), and the gateway's own
// refusals answered in place of the errors they caused. (Errors of a
// stream once it has started do not pass here; Wrap covers those.)
func (g *Gateway) errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	var read int64
	eof, inStream := false, false
	if x := exchangeFrom(ctx); x != nil {
		refusal := x.refused()
		if x.route != nil && refusal != nil && x.route.mux.Load() == nil {
			x.route.mux.Store(mux) // for track's early answers: see route
		}
		err = x.answer(err)
		read, eof = x.body.read()
		inStream = x.inStream && err == refusal
	}
	if leavesBodyUnread(r, read, eof) {
		w.Header().Set("Connection", "close")
	}
	if err == errHeadOnStream {
		w.Header().Set("Allow", http.MethodGet)
	}
	err = validUTF8Message(err)
	if _, wrapped := w.(*challengeWriter); !wrapped && status.Code(err) == codes.Unauthenticated {
		w = &challengeWriter{ResponseWriter: w, challenges: g.challenges, r: r}
	}
	if inStream {
		streamError(ctx, mux, m, w, r, err)
		return
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// streamError answers err as a streaming route answers the server's
// refusal of its call: the error as the stream's one message,
// {"error": …} and a delimiter, as grpc-gateway's ForwardResponseStream
// writes it when the first message it receives is an error.
func streamError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	w.Header().Set("Content-Type", m.ContentType(st.Proto()))
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	runtime.HTTPStreamError(ctx, mux, m, w, r, err)
	delimiter := []byte("\n")
	if d, ok := m.(runtime.Delimited); ok {
		delimiter = d.Delimiter()
	}
	_, _ = w.Write(delimiter)
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
