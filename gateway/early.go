package gateway

import (
	"context"
	"net/http"
	"sync/atomic"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
)

// A route's RPC is known only inside its grpc-gateway handler, once
// grpc-gateway has built the call's whole metadata (decide). That costs
// about as much as the rest of a refusal, so on a ServeMux made by
// NewServeMux the gateway learns each route's RPC from the requests that
// reach decide and, from then on, decides in track, before the handler
// runs: a refused request is answered there, and an allowed one goes on
// with its decision made (decide does not ask again). Each route has its
// own track closure (grpc-gateway wraps every handler with the middlewares
// when it is registered), which holds what was learned.
//
// Only on a mux made by NewServeMux: there tokengate's options come last,
// so track is the innermost middleware and decides on the request exactly
// as decide would see it; a middleware of the user's placed after
// ServeMuxOptions could still change it (or answer it). The header matcher
// is tokengate's too, so grpc-gateway decodes no header as binary metadata
// (it forwards only its permanent HTTP headers, none ending in -Bin), and
// the one header it can refuse before the credentials is Grpc-Timeout.
//
// A route is learned only from a handler's call that names its HTTP
// pattern (generated handlers and grpc-gateway's health endpoint do), and
// is forgotten once it names a second RPC: the early decision assumes a
// route always calls the same RPC, as those do. A ServeMux.HandlePath
// handler that calls runtime.AnnotateContext with an RPC it picks per
// request breaks that assumption: until the gateway sees it name another
// RPC, its requests are decided for the first one (fail-closed: a refusal
// the server would not give, or a call the server decides again).
//
// The early answer is the handler's answer. It is given only where nothing
// the handler does first could answer otherwise: a unary RPC (a streaming
// one answers in the stream, or 405 for HEAD), no path parameters and no
// query (grpc-gateway parses them before the call and its errors stand:
// 400), no form parsed (by a middleware of the user's: grpc-gateway's own
// form fallback is off, see ServeMuxOptions), and no Grpc-Timeout header (grpc-gateway refuses a bad one before
// the credentials are looked at; with one, the decision is left to decide).
// Other refused requests go through the handler, with the decision already
// made, so it is reported once. What an early answer skips: the route's
// other metadata annotators, and, in the error handler's context, the
// RPC name and timeout that grpc-gateway's AnnotateContext would have put
// there (a WithForwardResponseRewriter that reads runtime.RPCMethod finds
// none).

// route is what the gateway learned about one route of a ServeMux.
type route struct {
	// rpc is the first RPC a call of the route named, set by decide.
	rpc atomic.Pointer[learnedRPC]
	// varies says calls of the route named another RPC than rpc.
	varies atomic.Bool
	// mux serves the route, set by errorHandler, which is the only part of
	// the gateway grpc-gateway hands it to; the early answer needs it to
	// pick the marshaler and write the error as grpc-gateway would.
	mux atomic.Pointer[runtime.ServeMux]
}

// learnedRPC is an RPC a route calls.
type learnedRPC struct {
	method string
	unary  bool
}

// learn records that a call of the route named method.
func (rt *route) learn(method string) {
	p := rt.rpc.Load()
	if p == nil {
		if rt.rpc.CompareAndSwap(nil, &learnedRPC{method: method, unary: !streams(method)}) {
			return
		}
		p = rt.rpc.Load()
	}
	if p.method != method && !rt.varies.Load() {
		rt.varies.Store(true)
	}
}

// known returns the route's RPC if the early decision may use it.
func (rt *route) known() (string, bool) {
	p := rt.rpc.Load()
	if p == nil || !p.unary || rt.varies.Load() {
		return "", false
	}
	return p.method, true
}

// track returns the grpc-gateway middleware of the gateway's options, run
// once a request has matched a route. It gives a request served by the mux
// alone, without Wrap, the exchange that decide needs; with early (a mux
// made by NewServeMux), decides early on a route whose RPC it has learned
// (see route); and, unless that decision settled that decide will let the
// call go, gives the handler a context that a refusal cancels, so that the
// call it makes is cut before it reaches the server.
func (g *Gateway) track(early bool) runtime.Middleware {
	return func(next runtime.HandlerFunc) runtime.HandlerFunc {
		rt := &route{}
		return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
			x := exchangeFrom(r.Context())
			if x == nil {
				r, x = g.begin(r)
			}
			x.route = rt
			x.pathNotUTF8 = !validParams(pathParams)
			settled := false
			if method, ok := rt.known(); ok && early && g.precheck != nil && plainHeaders(r.Header) {
				var answered bool
				if answered, settled = g.decideEarly(w, r, x, method, len(pathParams) > 0); answered {
					return
				}
			}
			if !settled {
				ctx, cancel := context.WithCancelCause(r.Context())
				defer cancel(nil)
				r = r.WithContext(ctx)
				x.cancel = cancel
				if refusal := x.refused(); refusal != nil { // by the body, read by a middleware before
					cancel(refusal)
				}
			}
			next(w, r, pathParams)
		}
	}
}

// decideEarly makes decide's credential decision for a call of r to
// method, and answers a refusal itself when the handler would give the
// same answer. It reports whether it answered, and whether decide will
// refuse nothing: the credentials let the call in and nothing else can
// stop it (decide's other causes; a body past the limit, which only one of
// unknown length can become).
func (g *Gateway) decideEarly(w http.ResponseWriter, r *http.Request, x *exchange, method string, pathParams bool) (answered, settled bool) {
	err := errMalformedAuthorization
	if validAuthorization(r.Header["Authorization"]) {
		err = g.check(r.Context(), r, method)
	}
	x.decidedFor, x.decision = method, err
	if err == nil {
		// A body of unknown length may still outgrow the limit: grpc-gateway
		// reads what follows the JSON message, ignoring the error, and then
		// makes the call, which the refusal must cut.
		return false, x.refused() == nil && g.cut(x, r, method) == nil && r.Body == &x.body && x.body.declared >= 0 && x.body.declared <= g.maxBody
	}
	mux := x.route.mux.Load()
	if mux == nil || pathParams || r.URL.RawQuery != "" || r.Form != nil {
		return false, false
	}
	x.refuse(err)
	_, m := runtime.MarshalerForRequest(mux, r)
	m = g.errorBodies.marshaler(m)
	// As the handler's: the call's (empty) server metadata, which decides
	// whether a caller accepting trailers gets the trailer headers.
	ctx := runtime.NewServerMetadataContext(r.Context(), runtime.ServerMetadata{})
	g.errorHandler(ctx, mux, m, w, r, err)
	return true, false
}

// plainHeaders reports whether h has none of the headers grpc-gateway may
// refuse before the credentials are decided, with tokengate's header
// matcher: Grpc-Timeout.
func plainHeaders(h http.Header) bool {
	_, ok := h["Grpc-Timeout"]
	return !ok
}

// validParams reports whether every path parameter, as grpc-gateway hands
// it to the route (unescaped), is valid UTF-8.
func validParams(params map[string]string) bool {
	for _, v := range params {
		if !utf8.ValidString(v) {
			return false
		}
	}
	return true
}
