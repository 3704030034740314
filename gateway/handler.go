package gateway

import (
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
)

// Wrap returns the handler that serves mux, a ServeMux made with
// g.NewServeMux or g.ServeMuxOptions:
//   - every 401 carries the RFC 6750 challenge, including those of
//     streaming routes, whose errors bypass the mux's error handler;
//   - no more than WithMaxBodySize bytes of a request body are read by the
//     mux (its middlewares and handlers included);
//   - HEAD requests are answered as the GET of the same route without a
//     body (grpc-gateway alone answers 501 for HEAD /status), except on a
//     streaming route: there the stream is not run, since its headers are
//     known only once it sends, and an endless one would never end. HEAD
//     there gets 405 with Allow: GET, after the credentials are checked
//     when the Gateway has WithPrecheck (401 as on GET otherwise).
//
// HEAD on a streaming route is recognised by the mux's options; on a mux
// without them, it would run the stream.
func (g *Gateway) Wrap(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = &challengeWriter{ResponseWriter: w, challenges: g.challenges, r: r}
		head := r.Method == http.MethodHead
		if head {
			r = r.Clone(r.Context())
			r.Method = http.MethodGet
			w = bodylessWriter{w}
		}
		r, x := g.begin(r)
		x.head = head
		mux.ServeHTTP(w, r)
	})
}

// Guard returns a handler that lets a request reach next only if the
// Gateway's decision function (WithPrecheck) lets a call to fullMethod in
// with the request's credentials, for plain HTTP handlers beside the
// gateway's routes, such as a metrics page. The request is judged as a
// route of the gateway would be: the same header checks (one Authorization
// value that is not printable ASCII refuses the request; two values reach
// the decision as two), ?token= as the status token only if fullMethod is a
// status method, the HTTP caller's address (the peer of a denial's
// report). A refusal is answered as the gateway answers, with a JSON
// status body, and 401 with the challenge for Unauthenticated; the body is
// never read.
//
// fullMethod names the handler in decisions (logs, metrics): give a fixed
// name, never one taken from the request. Guard panics if the Gateway has
// no WithPrecheck, since it would let every request through.
func (g *Gateway) Guard(fullMethod string, next http.Handler) http.Handler {
	if g.precheck == nil {
		panic("gateway: Guard needs a decision function: make the Gateway with WithPrecheck")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := errMalformedAuthorization
		if validAuthorization(r.Header["Authorization"]) {
			err = g.check(r.Context(), r, fullMethod)
		}
		if err != nil {
			_, m := runtime.MarshalerForRequest(g.plain, r)
			g.errorHandler(r.Context(), g.plain, m, w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bodylessWriter drops the body of a HEAD response, keeping its status and
// headers.
type bodylessWriter struct{ http.ResponseWriter }

func (w bodylessWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w bodylessWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
