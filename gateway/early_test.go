package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/tokengate/tokengate/gateway"
)

// TestEarlyAnswer checks where a refusal is answered once the gateway has
// learned a route: before grpc-gateway's handler (so before it builds the
// call's metadata) where the handler would give the same answer, and in the
// handler otherwise, with the credentials decided once per request either
// way. A middleware placed after the gateway's options, just outside the
// handler, sees only the requests the handler answers.
func TestEarlyAnswer(t *testing.T) {
	t.Parallel()
	ana := signed(t, testSecret, "ana", time.Now().Add(time.Hour))
	const echo = `{"message":"hi"}`
	cases := []struct {
		name  string
		req   inProcess
		want  answer
		early bool // answered before the handler, once learned
	}{
		{"no token", inProcess{method: "POST", target: "/v1/echo", body: echo},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, true},
		{"no token, large body", inProcess{method: "POST", target: "/v1/echo", size: 1 << 20},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, true},
		{"Authorization not printable ASCII", inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("Authorization", "Bearer \x01")}},
			answer{code: 401, msg: msgNotASCII, challenge: invalidChallenge}, true},
		{"HEAD, no token", inProcess{method: "HEAD", target: "/status"},
			answer{code: 401, challenge: plainChallenge}, true},
		// grpc-gateway parses a query before the call, and its errors
		// stand: the handler answers.
		{"no token, a query", inProcess{method: "POST", target: "/v1/echo?x=1", body: echo},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, false},
		// grpc-gateway refuses these headers before the credentials.
		{"no token, a bad Grpc-Timeout", inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("Grpc-Timeout", "soon")}},
			answer{code: 400, msg: "invalid grpc-timeout: soon"}, false},
		{"no token, a good Grpc-Timeout", inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("Grpc-Timeout", "5S")}},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, false},
		// A stream's refusal is written in the stream.
		{"stream, no token", inProcess{method: "GET", target: "/v1/echo/stream"},
			answer{code: 401, challenge: plainChallenge}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAuthenticator(t)
			var prechecks, handled atomic.Int64
			b := newBackend(t,
				grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
				grpc.ChainStreamInterceptor(a.StreamServerInterceptor()))
			g := gateway.New(gateway.WithPrecheck(func(ctx context.Context, m string) error {
				prechecks.Add(1)
				return a.Precheck(ctx, m)
			}))
			inner := func(next runtime.HandlerFunc) runtime.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request, p map[string]string) {
					handled.Add(1)
					next(w, r, p)
				}
			}
			mux := runtime.NewServeMux(append(g.ServeMuxOptions(), runtime.WithMiddlewares(inner))...)
			b.register(t, mux)
			h := g.Wrap(mux)
			// Teach the gateway the route: its RPC and, with a refusal,
			// its mux.
			learn := inProcess{method: tc.req.method, target: strings.SplitN(tc.req.target, "?", 2)[0]}
			if learn.method == "POST" {
				learn.body = echo
			}
			learn.serve(t, h)
			prechecks.Store(0)
			handled.Store(0)

			const n = 3
			for range n {
				rec, body := tc.req.serve(t, h)
				tc.want.checkRecorded(t, tc.req.method, rec)
				if tc.req.method == "POST" && body.read != 0 {
					t.Errorf("%d bytes of the body read, want none", body.read)
				}
			}
			decided := int64(n)
			if tc.want.msg == msgNotASCII {
				decided = 0 // refused for the header alone
			}
			if got := prechecks.Load(); got != decided {
				t.Errorf("the credentials were decided %d times for %d requests", got, n)
			}
			want := int64(n)
			if tc.early {
				want = 0
			}
			if got := handled.Load(); got != want {
				t.Errorf("%d of %d requests reached grpc-gateway's handler, want %d", got, n, want)
			}
			if got := b.rec.opened.Load(); got != 0 {
				t.Errorf("%d calls reached the server, want none", got)
			}
		})
	}

	t.Run("allowed", func(t *testing.T) {
		t.Parallel()
		a := newAuthenticator(t)
		var prechecks atomic.Int64
		b := newBackend(t, grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()))
		g := gateway.New(gateway.WithPrecheck(func(ctx context.Context, m string) error {
			prechecks.Add(1)
			return a.Precheck(ctx, m)
		}))
		mux := g.NewServeMux()
		b.register(t, mux)
		h := g.Wrap(mux)
		refused := inProcess{method: "POST", target: "/v1/echo", body: echo}
		allowed := inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("Authorization", "Bearer "+ana)}}
		refused.serve(t, h) // learned, and the next refusal answered early
		refused.serve(t, h)
		prechecks.Store(0)
		for i := range 3 {
			rec, body := allowed.serve(t, h)
			if rec.Code != http.StatusOK || body.read != int64(len(echo)) {
				t.Fatalf("status %d, %d bytes read; want 200 and the whole body", rec.Code, body.read)
			}
			if got := prechecks.Load(); got != int64(i+1) {
				t.Fatalf("the credentials were decided %d times for %d requests", got, i+1)
			}
		}
		if got := b.rec.opened.Load(); got != 3 {
			t.Errorf("%d calls reached the server, want 3", got)
		}
	})
}
