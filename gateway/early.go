package gateway

import (
	"net/http"
	"sync/atomic"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
)

// A route's RPC is known only inside its grpc-gateway handler, once
// grpc-gateway has built the call's whole metadata (decide). That costs
// about as much as the rest of a refusal, so the gateway learns each route's
// RPC from its first request and, from then on, decides in track, before
// the handler runs: a refused request is answered there, and an allowed one
// goes on with its decision made (decide does not ask again). Each route
// has its own track closure (grpc-gateway wraps every handler with the
// middlewares when it is registered), which holds what was learned.
//
// The early answer is the one the handler would give. It is given only
// where nothing the handler does first could answer otherwise: a unary RPC
// (a streaming one answers in the stream, or 405 for HEAD), no path
// parameters and no query (grpc-gateway parses them before the call and
// its errors stand: 400), no form parsed by grpc-gateway's fallback from a
// POST to a GET route, and no Grpc-Timeout header (grpc-gateway refuses a
// bad one before the credentials are looked at). Other refused requests go through the handler, with the
// decision already made, so it is reported once.

// route is what the gateway learned about one route of a ServeMux.
type route struct {
	// rpc is the route's RPC, set by decide on the route's first request
	// if it is unary; nil until then, and for a streaming RPC.
	rpc     atomic.Pointer[string]
	learned atomic.Bool // rpc is set, or the RPC streams
	// mux serves the route, set by errorHandler, which is the only part of
	// the gateway grpc-gateway hands it to; the early answer needs it to
	// pick the marshaler and write the error as grpc-gateway would.
	mux atomic.Pointer[runtime.ServeMux]
}

// learn records that the route's RPC is method.
func (rt *route) learn(method string) {
	if rt.learned.Load() {
		return
	}
	if !streams(method) {
		rt.rpc.Store(&method)
	}
	rt.learned.Store(true)
}

// track is a grpc-gateway middleware, run once a request has matched a
// route: it gives a request served by the mux alone, without Wrap, the
// exchange that decide needs, and decides early on a route whose RPC it
// has learned (see route).
func (g *Gateway) track(next runtime.HandlerFunc) runtime.HandlerFunc {
	rt := &route{}
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		x := exchangeFrom(r.Context())
		if x == nil {
			r, x = g.begin(r)
			defer x.cancel(nil)
		}
		x.route = rt
		if method := rt.rpc.Load(); method != nil && g.precheck != nil && g.decideEarly(w, r, x, *method, len(pathParams) > 0) {
			return
		}
		next(w, r, pathParams)
	}
}

// decideEarly makes decide's credential decision for a call of r to
// method, and answers a refusal itself when the handler would give the
// same answer. It reports whether it answered.
func (g *Gateway) decideEarly(w http.ResponseWriter, r *http.Request, x *exchange, method string, pathParams bool) bool {
	err := errMalformedAuthorization
	if validAuthorization(r.Header.Values("Authorization")) {
		err = g.check(x, r, method)
	}
	x.decided, x.decidedFor, x.decision = true, method, err
	mux := x.route.mux.Load()
	if err == nil || mux == nil || pathParams || r.URL.RawQuery != "" || r.Form != nil || !plainHeaders(r.Header) {
		return false
	}
	x.refuse(err)
	_, m := runtime.MarshalerForRequest(mux, r)
	// As the handler's: the call's (empty) server metadata, which decides
	// whether a caller accepting trailers gets the trailer headers.
	ctx := runtime.NewServerMetadataContext(r.Context(), runtime.ServerMetadata{})
	g.errorHandler(ctx, mux, m, w, r, err)
	return true
}

// plainHeaders reports whether h has none of the headers grpc-gateway may
// refuse before the credentials are decided: Grpc-Timeout. (It also
// refuses binary metadata it cannot decode, but with the gateway's header
// matcher it never decodes any: grpc-gateway's default matcher maps
// Grpc-Metadata-X-Bin to the key X-Bin, which it then drops as not a valid
// metadata key.)
func plainHeaders(h http.Header) bool {
	_, ok := h["Grpc-Timeout"]
	return !ok
}
