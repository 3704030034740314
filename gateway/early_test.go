package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/gateway"
	"github.com/tokengate/tokengate/wire"
)

// earlyEnv is the whole wiring on a mux made by NewServeMux, counting the
// precheck's decisions and the requests that reach grpc-gateway's handler
// (an annotator of the user's runs inside it, and only there).
type earlyEnv struct {
	b                  *backend
	h                  http.Handler // Wrap(mux), or the mux alone
	prechecks, handled atomic.Int64
}

func newEarlyEnv(t *testing.T, wrap bool) *earlyEnv {
	t.Helper()
	a := newAuthenticator(t)
	e := &earlyEnv{}
	e.b = newBackend(t,
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()))
	g := gateway.New(gateway.WithPrecheck(func(ctx context.Context, m string, creds wire.Credentials) error {
		e.prechecks.Add(1)
		return a.Precheck(ctx, m, creds)
	}))
	mux := g.NewServeMux(runtime.WithMetadata(func(context.Context, *http.Request) metadata.MD {
		e.handled.Add(1)
		return nil
	}))
	e.b.register(t, mux)
	e.h = mux
	if wrap {
		e.h = g.Wrap(mux)
	}
	return e
}

func (e *earlyEnv) reset() { e.prechecks.Store(0); e.handled.Store(0) }

// sameRecorded checks that got is want to the byte: status, every header,
// trailers and body.
func sameRecorded(t *testing.T, got, want *httptest.ResponseRecorder) {
	t.Helper()
	g, w := got.Result(), want.Result()
	if g.StatusCode != w.StatusCode {
		t.Errorf("status %d, the handler's %d", g.StatusCode, w.StatusCode)
	}
	if !reflect.DeepEqual(g.Header, w.Header) {
		t.Errorf("headers %q, the handler's %q", g.Header, w.Header)
	}
	if !reflect.DeepEqual(g.Trailer, w.Trailer) {
		t.Errorf("trailers %q, the handler's %q", g.Trailer, w.Trailer)
	}
	if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Errorf("body %q, the handler's %q", got.Body, want.Body)
	}
}

// TestEarlyAnswer checks where a refusal is answered once a mux made by
// NewServeMux has learned a route: before grpc-gateway's handler where the
// handler would give the same answer, byte for byte, and in the handler
// otherwise; the credentials are decided once per request either way, and
// not at all where grpc-gateway refuses the request first.
func TestEarlyAnswer(t *testing.T) {
	t.Parallel()
	const echo = `{"message":"hi"}`
	cases := []struct {
		name    string
		req     inProcess
		want    answer
		early   bool // answered before the handler, once learned
		handled bool // the handler's annotators run
		decided bool // the precheck is asked
	}{
		{"no token", inProcess{method: "POST", target: "/v1/echo", body: echo},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, true, false, true},
		{"no token, large body", inProcess{method: "POST", target: "/v1/echo", size: 1 << 20},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, true, false, true},
		{"no token, large chunked body", inProcess{method: "POST", target: "/v1/echo", size: 1 << 20, chunked: true},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, true, false, true},
		{"no token, accepts trailers", inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("TE", "trailers")}},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, true, false, true},
		{"no token, asks for another marshaler", inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("Accept", "application/octet-stream")}},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, true, false, true},
		{"Authorization not printable ASCII", inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("Authorization", "Bearer \x01")}},
			answer{code: 401, msg: msgNotASCII, challenge: invalidChallenge}, true, false, false},
		{"HEAD, no token", inProcess{method: "HEAD", target: "/status"},
			answer{code: 401, challenge: plainChallenge}, true, false, true},
		// grpc-gateway parses a query before the call, and its errors
		// stand: the handler answers.
		{"no token, a query", inProcess{method: "POST", target: "/v1/echo?x=1", body: echo},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, false, true, true},
		// grpc-gateway refuses a bad Grpc-Timeout before the credentials:
		// with one, they are left to the handler.
		{"no token, a bad Grpc-Timeout", inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("Grpc-Timeout", "soon")}},
			answer{code: 400, msg: "invalid grpc-timeout: soon"}, false, false, false},
		{"no token, a good Grpc-Timeout", inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("Grpc-Timeout", "5S")}},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, false, true, true},
		// A stream's refusal is written in the stream.
		{"stream, no token", inProcess{method: "GET", target: "/v1/echo/stream"},
			answer{code: 401, challenge: plainChallenge}, false, true, true},
	}
	for _, tc := range cases {
		for _, wrap := range []bool{true, false} {
			if !wrap && tc.req.method == "HEAD" {
				continue // grpc-gateway alone has no HEAD route: 501
			}
			name := tc.name
			if !wrap {
				name += ", mux alone"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				// The handler's answer: the request as a route's first.
				first := newEarlyEnv(t, wrap)
				want, _ := tc.req.serve(t, first.h)

				e := newEarlyEnv(t, wrap)
				// Teach the gateway the route: its RPC and, with a
				// refusal, its mux.
				learn := inProcess{method: tc.req.method, target: strings.SplitN(tc.req.target, "?", 2)[0]}
				if learn.method == "POST" {
					learn.body = echo
				}
				learn.serve(t, e.h)
				e.reset()

				const n = 3
				for range n {
					rec, body := tc.req.serve(t, e.h)
					if wrap {
						tc.want.checkRecorded(t, tc.req.method, rec)
					}
					sameRecorded(t, rec, want)
					if tc.req.method == "POST" && body.read != 0 && tc.want.code != 400 {
						t.Errorf("%d bytes of the body read, want none", body.read)
					}
				}
				wantDecided, wantHandled := int64(0), int64(0)
				if tc.decided {
					wantDecided = n
				}
				if tc.handled {
					wantHandled = n
				}
				if got := e.prechecks.Load(); got != wantDecided {
					t.Errorf("the credentials were decided %d times for %d requests, want %d", got, n, wantDecided)
				}
				if got := e.handled.Load(); got != wantHandled {
					t.Errorf("%d of %d requests reached grpc-gateway's handler, want %d", got, n, wantHandled)
				}
				if got := e.b.rec.opened.Load(); got != 0 {
					t.Errorf("%d calls reached the server, want none", got)
				}
			})
		}
	}

	t.Run("allowed first", func(t *testing.T) {
		t.Parallel()
		ana := signed(t, testSecret, "ana", time.Now().Add(time.Hour))
		e := newEarlyEnv(t, true)
		refused := inProcess{method: "POST", target: "/v1/echo", body: echo}
		allowed := inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("Authorization", "Bearer "+ana)}}
		for i := range 3 {
			rec, body := allowed.serve(t, e.h)
			if rec.Code != http.StatusOK || body.read != int64(len(echo)) {
				t.Fatalf("status %d, %d bytes read; want 200 and the whole body", rec.Code, body.read)
			}
			if got := e.prechecks.Load(); got != int64(i+1) {
				t.Fatalf("the credentials were decided %d times for %d requests", got, i+1)
			}
		}
		// The RPC is known, the mux not yet: the first refusal goes
		// through the handler, which teaches it; the next is early.
		e.reset()
		refused.serve(t, e.h)
		refused.serve(t, e.h)
		if got := e.handled.Load(); got != 1 {
			t.Errorf("%d of 2 refusals reached grpc-gateway's handler, want the first only", got)
		}
		if got := e.prechecks.Load(); got != 2 {
			t.Errorf("the credentials were decided %d times for 2 requests", got)
		}
		if got := e.b.rec.opened.Load(); got != 3 {
			t.Errorf("%d calls reached the server, want the 3 allowed", got)
		}
	})

	// A request whose credentials the early decision let in can still be
	// refused by decide, after grpc-gateway's handler has started: its
	// call must then be cut, as on a route's first request.
	t.Run("let in, then refused", func(t *testing.T) {
		t.Parallel()
		ana := signed(t, testSecret, "ana", time.Now().Add(time.Hour))
		a := newAuthenticator(t)
		b := newBackend(t, grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()))
		const limit = 1024
		g := gateway.New(gateway.WithPrecheck(a.Precheck), gateway.WithMaxBodySize(limit))
		mux := g.NewServeMux()
		b.register(t, mux)
		h := g.Wrap(mux)
		bearer := [][2]string{hdr("Authorization", "Bearer "+ana)}
		for _, tc := range []struct {
			name       string
			learn, req inProcess
			code       int
		}{
			// grpc-gateway decodes the message from the first read, then
			// reads the rest, ignores that it failed, and makes the call.
			{"a chunked body that outgrows the limit after its message",
				inProcess{method: "POST", target: "/v1/echo", body: echo, header: bearer},
				inProcess{method: "POST", target: "/v1/echo", body: echo + strings.Repeat(" ", 2*limit), chunked: true, header: bearer}, 413},
			// A route without a body makes the call without reading it.
			{"a query that is not UTF-8",
				inProcess{method: "GET", target: "/status", header: bearer},
				inProcess{method: "GET", target: "/status?x=%ff", header: bearer}, 400},
		} {
			for range 2 { // the route's first request, then a learned one
				if rec, _ := tc.learn.serve(t, h); rec.Code != http.StatusOK {
					t.Fatalf("status %d, want 200", rec.Code)
				}
				before := b.rec.opened.Load()
				if rec, _ := tc.req.serve(t, h); rec.Code != tc.code {
					t.Errorf("%s: status %d, want %d; body %s", tc.name, rec.Code, tc.code, rec.Body)
				}
				if n := b.rec.opened.Load() - before; n != 0 {
					t.Errorf("%s: %d calls reached the server, want none", tc.name, n)
				}
			}
		}
	})

	// On a mux made with ServeMuxOptions, a middleware of the user's may
	// come after tokengate's and change the request: nothing is decided
	// before it runs.
	t.Run("a middleware after the options", func(t *testing.T) {
		t.Parallel()
		ana := signed(t, testSecret, "ana", time.Now().Add(time.Hour))
		a := newAuthenticator(t)
		b := newBackend(t, grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()))
		g := gateway.New(gateway.WithPrecheck(a.Precheck))
		fromCookie := func(next runtime.HandlerFunc) runtime.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request, p map[string]string) {
				if c, err := r.Cookie("session"); err == nil {
					r.Header.Set("Authorization", "Bearer "+c.Value)
				}
				next(w, r, p)
			}
		}
		mux := runtime.NewServeMux(append(g.ServeMuxOptions(), runtime.WithMiddlewares(fromCookie))...)
		b.register(t, mux)
		h := g.Wrap(mux)
		refused := inProcess{method: "POST", target: "/v1/echo", body: echo}
		withCookie := inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("Cookie", "session="+ana)}}
		refused.serve(t, h)
		refused.serve(t, h)
		for range 2 {
			if rec, _ := withCookie.serve(t, h); rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200: the middleware's credentials; body %s", rec.Code, rec.Body)
			}
		}
	})
}

// TestBodyReadOnAnotherGoroutine checks a handler shaped like grpc-gateway's
// client-streaming and bidirectional ones: it reads the body on a goroutine
// of its own, and may answer an error on the request's goroutine
// meanwhile. The body outgrows the limit as it is read, so the gateway's
// refusal and the error handler meet (the race detector, on in CI, watches
// them), and the answer is one of the two, never a mix or a crash.
func TestBodyReadOnAnotherGoroutine(t *testing.T) {
	t.Parallel()
	g := gateway.New(gateway.WithMaxBodySize(64))
	mux := g.NewServeMux()
	err := mux.HandlePath(http.MethodPost, "/stream-in", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		ctx, err := runtime.AnnotateContext(r.Context(), mux, r, "/tokengate.v1.EchoService/ClientStreamingEcho", runtime.WithHTTPPathPattern("/stream-in"))
		if err != nil {
			t.Error(err)
			return
		}
		read := make(chan struct{})
		go func() {
			defer close(read)
			_, _ = io.Copy(io.Discard, r.Body)
		}()
		_, m := runtime.MarshalerForRequest(mux, r)
		runtime.HTTPError(ctx, mux, m, w, r, status.Error(codes.Unavailable, "the server went away"))
		<-read
	})
	if err != nil {
		t.Fatal(err)
	}
	h := g.Wrap(mux)
	for range 20 {
		rec, _ := inProcess{method: "POST", target: "/stream-in", size: 1 << 16, chunked: true}.serve(t, h)
		if rec.Code != http.StatusServiceUnavailable && rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 503 or 413; body %s", rec.Code, rec.Body)
		}
		if st := parseError(t, false, rec.Body.Bytes()); st.Code != codes.Unavailable && st.Code != codes.ResourceExhausted {
			t.Fatalf("body %s: neither the error nor the refusal", rec.Body)
		}
	}
}
