package gateway_test

import (
	"context"
	"net"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokengate/tokengate/gateway"
	"github.com/tokengate/tokengate/wire"
)

// TestGuard checks that Guard decides a plain handler's requests with the
// Gateway's decision function, after the mux's header checks, and refuses
// exactly as the gateway's routes do, without reading the body.
func TestGuard(t *testing.T) {
	t.Parallel()
	ana := signed(t, testSecret, "ana", time.Now().Add(time.Hour))
	expired := signed(t, testSecret, "ana", time.Now().Add(-time.Hour))
	bob := signed(t, testSecret, "bob", time.Now().Add(time.Hour))
	cases := []struct {
		name   string
		query  string
		header [][2]string
		size   int64 // of the body
		want   answer
	}{
		{"valid token", "", [][2]string{hdr("Authorization", "Bearer "+ana)}, 0,
			answer{code: 200}},
		{"no token", "", nil, 0,
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}},
		{"no token, a large body", "", nil, 1 << 20,
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}},
		{"expired token", "", [][2]string{hdr("Authorization", "Bearer "+expired)}, 0,
			answer{code: 401, msg: "token expired", challenge: invalidChallenge}},
		{"user not allowed", "", [][2]string{hdr("Authorization", "Bearer "+bob)}, 0,
			answer{code: 401, msg: "user not allowed", challenge: invalidChallenge}},
		{"two Authorization headers", "", [][2]string{hdr("Authorization", "Bearer "+ana), hdr("Authorization", "Bearer "+ana)}, 0,
			answer{code: 401, msg: "malformed authorization metadata: more than one value", challenge: invalidChallenge}},
		{"a valid token and one not printable ASCII", "", [][2]string{hdr("Authorization", "Bearer "+ana), hdr("Authorization", "Bearer "+ana+"\xff")}, 0,
			answer{code: 401, msg: msgNotASCII, challenge: invalidChallenge}},
		{"Grpc-Metadata-Authorization", "", [][2]string{hdr("Grpc-Metadata-Authorization", "Bearer "+ana)}, 0,
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}},
		{"?token= is no status token here", "?token=" + testStatusToken, nil, 0,
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, g, mux := guarded(t, newAuthenticator(t))
			var ran atomic.Bool
			h := g.Guard("/metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				ran.Store(true)
				_, _ = w.Write([]byte("metrics"))
			}))
			req := inProcess{method: "POST", target: "/metrics" + tc.query, header: tc.header, size: tc.size}
			rec, body := req.serve(t, h)
			tc.want.checkRecorded(t, req.method, rec)
			if ran.Load() != (tc.want.code == 200) {
				t.Errorf("the guarded handler ran: %v", ran.Load())
			}
			if tc.want.code == 200 {
				return
			}
			if body.read != 0 {
				t.Errorf("%d bytes of the body read, want none", body.read)
			}
			if got, want := rec.Header().Get("Connection") == "close", tc.size >= 256<<10; got != want {
				t.Errorf("Connection: close is %v, want %v", got, want)
			}
			// The gateway's own answer to the same credentials.
			route := req
			route.target = "/v1/echo" + tc.query
			routeRec, _ := route.serve(t, g.Wrap(mux))
			sameAnswer(t, rec, routeRec)
			if n := b.rec.opened.Load(); n != 0 {
				t.Errorf("%d calls reached the server, want none", n)
			}
		})
	}
}

// TestGuardAsks checks the question Guard puts to the decision function:
// the name it was given, the credentials as the call of a route would
// carry them (?token= only for a status method, by default those of
// wire.DefaultStatusMethods, the interceptors' list), and the HTTP caller
// as the peer.
func TestGuardAsks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method string
		opts         []gateway.Option
		wantToken    []string
	}{
		{"not a status method", "/metrics", nil, nil},
		{"tokengate's Status", statusRPC, nil, []string{"st"}},
		{"grpc.health.v1, as for the interceptors", "/grpc.health.v1.Health/Check", nil, []string{"st"}},
		{"WithStatusMethods", "/metrics.Page/Get", []gateway.Option{gateway.WithStatusMethods("/metrics.Page/")}, []string{"st"}},
		{"WithStatusMethods replaces the defaults", statusRPC, []gateway.Option{gateway.WithStatusMethods("/metrics.Page/")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &authenticator{}
			g := gateway.New(append(tc.opts, gateway.WithPrecheck(a.precheck))...)
			h := g.Guard(tc.method, http.NotFoundHandler())
			req := inProcess{method: "GET", target: "/page?token=st",
				header: [][2]string{hdr("Authorization", "Bearer good"), hdr("X-Status-Token", "evil")}}
			req.serve(t, h)
			q := a.only(t)
			if q.method != tc.method {
				t.Errorf("method %q, want %q", q.method, tc.method)
			}
			checkCredentialMD(t, call{method: q.method, md: q.md}, map[string][]string{
				wire.AuthorizationKey: {"Bearer good"},
				wire.StatusTokenKey:   tc.wantToken,
			})
			if tcp, ok := q.peer.(*net.TCPAddr); !ok || tcp.String() != "192.0.2.1:1234" {
				t.Errorf("peer = %v, want the HTTP caller (httptest's 192.0.2.1:1234)", q.peer)
			}
		})
	}
}

// TestGuardNeedsPrecheck: without a decision function Guard would let
// everything through, so it refuses to be built.
func TestGuardNeedsPrecheck(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("Guard without WithPrecheck did not panic")
		}
	}()
	gateway.New().Guard("/metrics", http.NotFoundHandler())
}

// TestGuardKeepsTheRequestsContext checks that a request let in reaches the
// guarded handler as it came: its own context, its body unread.
func TestGuardKeepsTheRequestsContext(t *testing.T) {
	t.Parallel()
	g := gateway.New(gateway.WithPrecheck(func(context.Context, string, wire.Credentials) error { return nil }))
	type key struct{}
	var got any
	var n int
	h := g.Guard("/metrics", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got = r.Context().Value(key{})
		buf := make([]byte, 64)
		n, _ = r.Body.Read(buf)
	}))
	req := inProcess{method: "POST", target: "/metrics", body: "hello"}
	rec, _ := req.serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, "mine")))
	}))
	if rec.Code != 200 || !reflect.DeepEqual(got, "mine") || n != len("hello") {
		t.Errorf("status %d, context value %v, read %d; want 200, mine, 5", rec.Code, got, n)
	}
}
