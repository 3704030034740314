package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/gateway"
	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/token"
	"github.com/tokengate/tokengate/wire"
)

const (
	testSecret      = "a-secret-of-the-gateway-tests-0123456789"
	testStatusToken = "st"
)

// newAuthenticator is the server's Authenticator: ana is the only user, and
// the status token opens the status methods.
func newAuthenticator(t testing.TB) *interceptors.Authenticator {
	t.Helper()
	a, err := interceptors.New(interceptors.Config{Secret: testSecret, StatusToken: testStatusToken, Users: []string{"ana"}},
		interceptors.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// guarded is a recording backend behind a's interceptors, and a Gateway
// with a's Precheck and opts, serving the backend's routes: the whole
// wiring, in process.
func guarded(t *testing.T, a *interceptors.Authenticator, opts ...gateway.Option) (*backend, *gateway.Gateway, *runtime.ServeMux) {
	t.Helper()
	b := newBackend(t,
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()))
	g := gateway.New(append([]gateway.Option{gateway.WithPrecheck(a.Precheck)}, opts...)...)
	mux := g.NewServeMux()
	b.register(t, mux)
	return b, g, mux
}

func signed(t testing.TB, secret, user string, exp time.Time) string {
	t.Helper()
	tok, err := token.Sign([]byte(secret), token.Claims{User: user, ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// countingBody is a request body that counts the bytes read from it.
type countingBody struct {
	src  io.Reader
	read int64
}

func newCountingBody(src string, size int64) *countingBody {
	if src != "" {
		return &countingBody{src: strings.NewReader(src)}
	}
	return &countingBody{src: io.LimitReader(io.MultiReader(strings.NewReader(`{"message":"`), xs{}), size)}
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.src.Read(p)
	b.read += int64(n)
	return n, err
}

func (b *countingBody) Close() error { return nil }

// xs reads as endless 'x'.
type xs struct{}

func (xs) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// inProcess is a request served by handler.ServeHTTP, with a body that
// counts what was read of it.
type inProcess struct {
	method, target string
	header         [][2]string
	body           string // the body; "" with size: size bytes of {"message":"xxx…
	size           int64
	chunked        bool // no Content-Length
}

func (ip inProcess) serve(t *testing.T, h http.Handler) (*httptest.ResponseRecorder, *countingBody) {
	t.Helper()
	b := newCountingBody(ip.body, ip.size)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, ip.method, ip.target, nil)
	req.Body = b
	req.ContentLength = ip.size
	if ip.body != "" {
		req.ContentLength = int64(len(ip.body))
	}
	if ip.chunked {
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
	}
	for _, h := range ip.header {
		req.Header.Add(h[0], h[1])
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, b
}

// check compares an in-process answer with want, as answer.check does for
// one over the network.
func (want answer) checkRecorded(t *testing.T, method string, rec *httptest.ResponseRecorder) {
	t.Helper()
	want.check(t, method, rec.Result(), rec.Body.Bytes())
}

// TestRefusedBeforeTheBody checks issue 15: with WithPrecheck given the
// interceptors' Precheck, every request the server would refuse for its
// credentials is answered as the server would answer it, without a byte of
// its body read and without a call, and a request let in is read and
// served as before.
func TestRefusedBeforeTheBody(t *testing.T) {
	t.Parallel()
	ana := signed(t, testSecret, "ana", time.Now().Add(time.Hour))
	expired := signed(t, testSecret, "ana", time.Now().Add(-time.Hour))
	forged := signed(t, "another-secret-another-secret-another", "ana", time.Now().Add(time.Hour))
	bob := signed(t, testSecret, "bob", time.Now().Add(time.Hour))
	const echo = `{"message":"hi"}`
	bearer := func(tok string) [][2]string { return [][2]string{hdr("Authorization", "Bearer "+tok)} }
	cases := []struct {
		name string
		req  inProcess
		want answer
		// stream: the answer is in the stream, {"error": …}, as the
		// server's refusal of a stream is.
		stream bool
	}{
		{"no token", inProcess{method: "POST", target: "/v1/echo", body: echo},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, false},
		{"malformed token", inProcess{method: "POST", target: "/v1/echo", body: echo, header: bearer("abc")},
			answer{code: 401, msg: "invalid token: malformed", challenge: invalidChallenge}, false},
		{"not a bearer token", inProcess{method: "POST", target: "/v1/echo", body: echo, header: [][2]string{hdr("Authorization", "Basic YW5hOnB3")}},
			answer{code: 401, msg: "authorization metadata is not a bearer token", challenge: plainChallenge}, false},
		{"two tokens", inProcess{method: "POST", target: "/v1/echo", body: echo, header: append(bearer(ana), bearer(ana)...)},
			answer{code: 401, msg: "malformed authorization metadata: more than one value", challenge: invalidChallenge}, false},
		{"forged token", inProcess{method: "POST", target: "/v1/echo", body: echo, header: bearer(forged)},
			answer{code: 401, msg: "invalid token: signature does not match", challenge: invalidChallenge}, false},
		{"expired token", inProcess{method: "POST", target: "/v1/echo", body: echo, header: bearer(expired)},
			answer{code: 401, msg: "token expired", challenge: invalidChallenge}, false},
		{"user not allowed", inProcess{method: "POST", target: "/v1/echo", body: echo, header: bearer(bob)},
			answer{code: 401, msg: "user not allowed", challenge: invalidChallenge}, false},
		{"Authorization not printable ASCII", inProcess{method: "POST", target: "/v1/echo", body: echo, header: bearer(ana + "\xff")},
			answer{code: 401, msg: msgNotASCII, challenge: invalidChallenge}, false},
		{"a large body, no token", inProcess{method: "POST", target: "/v1/echo", size: 1 << 20},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, false},
		{"a large chunked body, expired token", inProcess{method: "POST", target: "/v1/echo", size: 1 << 20, chunked: true, header: bearer(expired)},
			answer{code: 401, msg: "token expired", challenge: invalidChallenge}, false},
		{"stream, no token", inProcess{method: "GET", target: "/v1/echo/stream?message=a", body: echo},
			answer{code: 401, challenge: plainChallenge}, true},
		{"status, wrong status token", inProcess{method: "GET", target: "/status?token=wrong", body: echo},
			answer{code: 401, msg: "status token not accepted, and no bearer token", challenge: plainChallenge}, false},
		{"status token on another route", inProcess{method: "POST", target: "/v1/echo?token=" + testStatusToken, body: echo},
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, g, mux := guarded(t, newAuthenticator(t))
			h := g.Wrap(mux)
			// The first request teaches the gateway the route; the later
			// ones are answered before grpc-gateway's handler where the
			// handler would answer the same (see TestEarlyAnswer): every
			// answer must be this one.
			rec, body := tc.req.serve(t, h)
			for range 2 {
				again, againBody := tc.req.serve(t, h)
				tc.want.checkRecorded(t, tc.req.method, again)
				sameAnswer(t, again, rec)
				if g, w := again.Header().Get("Connection"), rec.Header().Get("Connection"); g != w {
					t.Errorf("Connection %q, the first answer's %q", g, w)
				}
				if againBody.read != 0 {
					t.Errorf("%d bytes of the body read again, want none", againBody.read)
				}
			}
			tc.want.checkRecorded(t, tc.req.method, rec)
			if tc.stream {
				if st := parseError(t, true, rec.Body.Bytes()); st.Code != codes.Unauthenticated || st.Message != "missing bearer token" {
					t.Errorf("stream body %s, want the server's refusal", rec.Body)
				}
				if !strings.HasSuffix(rec.Body.String(), "}\n") {
					t.Errorf("stream body %q does not end in a newline", rec.Body)
				}
			}
			if body.read != 0 {
				t.Errorf("%d bytes of the body read, want none", body.read)
			}
			if n := b.rec.opened.Load(); n != 0 {
				t.Errorf("%d calls reached the server, want none", n)
			}
			if tc.req.body == "" {
				return // the server could not even parse it
			}
			// The answer the server gives through a gateway that does not
			// precheck (issue 15: the same status, body and challenge).
			plain := gateway.New()
			pmux := plain.NewServeMux()
			b.register(t, pmux)
			server, _ := tc.req.serve(t, plain.Wrap(pmux))
			sameAnswer(t, rec, server)
		})
	}

	// Let in: the body is read, and the call made.
	allowed := []struct {
		name string
		req  inProcess
	}{
		{"echo with a token", inProcess{method: "POST", target: "/v1/echo", body: echo, header: bearer(ana)}},
		{"echo with a token, chunked", inProcess{method: "POST", target: "/v1/echo", body: echo, chunked: true, header: bearer(ana)}},
		{"status with the status token", inProcess{method: "GET", target: "/status?token=" + testStatusToken, body: echo}},
		{"stream with a token", inProcess{method: "GET", target: "/v1/echo/stream?message=a", body: echo, header: bearer(ana)}},
	}
	for _, tc := range allowed {
		t.Run("allowed/"+tc.name, func(t *testing.T) {
			t.Parallel()
			b, g, mux := guarded(t, newAuthenticator(t))
			h := g.Wrap(mux)
			for i := range 3 { // the route learned after the first
				rec, body := tc.req.serve(t, h)
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d, want 200; body %s", rec.Code, rec.Body)
				}
				if body.read != int64(len(echo)) {
					t.Errorf("%d bytes of the body read, want all %d", body.read, len(echo))
				}
				if n := b.rec.opened.Load(); n != int64(i+1) {
					t.Errorf("%d calls reached the server after %d requests", n, i+1)
				}
			}
		})
	}
}

// sameAnswer checks that got and want have the same status, challenge,
// content type and JSON body.
func sameAnswer(t *testing.T, got, want *httptest.ResponseRecorder) {
	t.Helper()
	if got.Code != want.Code {
		t.Errorf("status %d, the server's %d", got.Code, want.Code)
	}
	for _, h := range []string{"WWW-Authenticate", "Content-Type"} {
		if g, w := got.Header().Values(h), want.Header().Values(h); !reflect.DeepEqual(g, w) {
			t.Errorf("%s %q, the server's %q", h, g, w)
		}
	}
	var g, w any
	if err := json.Unmarshal(got.Body.Bytes(), &g); err != nil {
		t.Fatalf("body %q: %v", got.Body, err)
	}
	if err := json.Unmarshal(want.Body.Bytes(), &w); err != nil {
		t.Fatalf("the server's body %q: %v", want.Body, err)
	}
	if !reflect.DeepEqual(g, w) || strings.HasSuffix(got.Body.String(), "\n") != strings.HasSuffix(want.Body.String(), "\n") {
		t.Errorf("body %q, the server's %q", got.Body, want.Body)
	}
}

// TestRefusedBeforeTheBodyOnTheMux checks that the mux alone, without Wrap,
// refuses before the body too.
func TestRefusedBeforeTheBodyOnTheMux(t *testing.T) {
	t.Parallel()
	a := newAuthenticator(t)
	b := newBackend(t, grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()))
	g := gateway.New(gateway.WithPrecheck(a.Precheck))
	mux := runtime.NewServeMux(g.ServeMuxOptions()...)
	b.register(t, mux)
	rec, body := inProcess{method: "POST", target: "/v1/echo", size: 1 << 20}.serve(t, mux)
	answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}.checkRecorded(t, "POST", rec)
	if body.read != 0 {
		t.Errorf("%d bytes of the body read, want none", body.read)
	}
}

// A refusal stands when the caller's Grpc-Timeout runs out before the cut
// call reports it: the call may fail with DeadlineExceeded or Canceled,
// whichever its context sees first, and the answer must not depend on
// that race (it was 504 or 401 on GET routes, whose handlers read no
// body, such as grpc-gateway's health endpoint). Each request is answered
// as it is without the header.
func TestRefusalOutlivesAnExpiredGrpcTimeout(t *testing.T) {
	t.Parallel()
	a := newAuthenticator(t)
	b := newBackend(t, grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(a.StreamServerInterceptor()))
	g := gateway.New(gateway.WithPrecheck(a.Precheck))
	mux := g.NewServeMux(runtime.WithHealthzEndpoint(healthpb.NewHealthClient(b.conn)))
	b.register(t, mux)
	h := g.Wrap(mux)
	for _, req := range []inProcess{
		{method: "GET", target: "/healthz"},
		{method: "GET", target: "/status"},
		{method: "GET", target: "/status?token=wrong"},
		{method: "POST", target: "/v1/echo", body: `{"message":"hi"}`},
		{method: "GET", target: "/v1/echo/stream?message=hi", header: [][2]string{hdr("Authorization", "Bearer forged")}},
	} {
		want, _ := req.serve(t, h)
		if want.Code != http.StatusUnauthorized {
			t.Fatalf("%s %s: status %d, want 401; body %s", req.method, req.target, want.Code, want.Body)
		}
		timed := req
		timed.header = append(slices.Clip(req.header), hdr("Grpc-Timeout", "1n"))
		for range 20 {
			got, _ := timed.serve(t, h)
			if got.Code != want.Code || got.Header().Get("WWW-Authenticate") != want.Header().Get("WWW-Authenticate") || got.Body.String() != want.Body.String() {
				t.Fatalf("%s %s with Grpc-Timeout 1n: %d %q %s, want %d %q %s", req.method, req.target,
					got.Code, got.Header().Get("WWW-Authenticate"), got.Body, want.Code, want.Header().Get("WWW-Authenticate"), want.Body)
			}
		}
	}
}

// grpc-gateway's fallback from a form POST to a GET route is off: it would
// parse the form, reading the body, before any middleware, so before the
// credentials are decided, and, on a mux served without Wrap, past the
// body limit. Such a POST gets grpc-gateway's answer for a method the route
// lacks, whatever its credentials, without a byte of its body read and
// without a call; X-HTTP-Method-Override, which needs the fallback, too.
func TestFormFallbackIsOff(t *testing.T) {
	t.Parallel()
	form := hdr("Content-Type", "application/x-www-form-urlencoded")
	ana := hdr("Authorization", "Bearer "+signed(t, testSecret, "ana", time.Now().Add(time.Hour)))
	for _, req := range []inProcess{
		{method: "POST", target: "/status", size: 1 << 20, chunked: true, header: [][2]string{form, ana}},
		{method: "POST", target: "/status?token=" + testStatusToken, size: 5000, header: [][2]string{form}},
		{method: "POST", target: "/status", size: 5000, chunked: true, header: [][2]string{form}},
		{method: "POST", target: "/status", size: 5000, chunked: true, header: [][2]string{form, ana, hdr("X-HTTP-Method-Override", "GET")}},
	} {
		for _, wrapped := range []bool{true, false} {
			b, g, mux := guarded(t, newAuthenticator(t), gateway.WithMaxBodySize(1000))
			h := http.Handler(mux)
			if wrapped {
				h = g.Wrap(mux)
			}
			rec, body := req.serve(t, h)
			if rec.Code != http.StatusNotImplemented {
				t.Errorf("%s %s with %d headers (Wrap: %v): status %d, want 501; body %s", req.method, req.target, len(req.header), wrapped, rec.Code, rec.Body)
			} else if st := parseError(t, false, rec.Body.Bytes()); st.Message != "Method Not Allowed" {
				t.Errorf("%s %s (Wrap: %v): message %q, want grpc-gateway's for a method the route lacks", req.method, req.target, wrapped, st.Message)
			}
			if body.read != 0 {
				t.Errorf("%s %s (Wrap: %v): %d bytes of the body read, want none", req.method, req.target, wrapped, body.read)
			}
			if n := b.rec.opened.Load(); n != 0 {
				t.Errorf("%s %s (Wrap: %v): %d calls reached the server, want none", req.method, req.target, wrapped, n)
			}
		}
	}
}

// TestBodyOverTheLimit checks WithMaxBodySize: a body over it is answered
// 413 with a JSON status, and never read to its end, after the credentials
// are checked; a body of the limit is served.
func TestBodyOverTheLimit(t *testing.T) {
	t.Parallel()
	const limit = 1024
	ana := [][2]string{hdr("Authorization", "Bearer "+signed(t, testSecret, "ana", time.Now().Add(time.Hour)))}
	atLimit := `{"message":"` + strings.Repeat("a", limit-len(`{"message":""}`)) + `"}`
	cases := []struct {
		name     string
		noLimit  bool // no WithMaxBodySize(limit)
		opts     []gateway.Option
		req      inProcess
		want     int
		msg      string
		maxRead  int64 // most bytes of the body read
		close    bool  // Connection: close
		backend  int64 // calls that reach the server
		readBody bool  // the body is read whole
	}{
		{name: "Content-Length over the limit", req: inProcess{method: "POST", target: "/v1/echo", size: limit + 1, header: ana},
			want: 413, msg: "request body larger than 1024 bytes"},
		{name: "Content-Length far over the limit: the connection closes", req: inProcess{method: "POST", target: "/v1/echo", size: 1 << 20, header: ana},
			want: 413, msg: "request body larger than 1024 bytes", close: true},
		{name: "chunked, over the limit: read up to limit+1", req: inProcess{method: "POST", target: "/v1/echo", size: 1 << 20, chunked: true, header: ana},
			want: 413, msg: "request body larger than 1024 bytes", maxRead: limit + 1, close: true},
		{name: "chunked, over the limit, on the status route", req: inProcess{method: "GET", target: "/status?token=" + testStatusToken, size: 1 << 20, chunked: true},
			want: 413, msg: "request body larger than 1024 bytes", maxRead: limit + 1, close: true},
		{name: "no token and over the limit: the credentials first", req: inProcess{method: "POST", target: "/v1/echo", size: limit + 1},
			want: 401, msg: "missing bearer token"},
		{name: "exactly the limit", req: inProcess{method: "POST", target: "/v1/echo", body: atLimit, header: ana},
			want: 200, backend: 1, readBody: true},
		{name: "exactly the limit, chunked", req: inProcess{method: "POST", target: "/v1/echo", body: atLimit, chunked: true, header: ana},
			want: 200, backend: 1, readBody: true},
		{name: "default limit: 4 MiB + 1", noLimit: true, req: inProcess{method: "POST", target: "/v1/echo", size: 4<<20 + 1, header: ana},
			want: 413, msg: "request body larger than 4194304 bytes", close: true},
		{name: "WithMaxBodySize(0) keeps the default", noLimit: true, opts: []gateway.Option{gateway.WithMaxBodySize(0)},
			req:  inProcess{method: "POST", target: "/v1/echo", size: 4<<20 + 1, header: ana},
			want: 413, msg: "request body larger than 4194304 bytes", close: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []gateway.Option
			if !tc.noLimit {
				opts = append(opts, gateway.WithMaxBodySize(limit))
			}
			b, g, mux := guarded(t, newAuthenticator(t), append(opts, tc.opts...)...)
			rec, body := tc.req.serve(t, g.Wrap(mux))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.want, rec.Body)
			}
			if tc.msg != "" {
				if st := parseError(t, false, rec.Body.Bytes()); st.Message != tc.msg {
					t.Errorf("message %q, want %q", st.Message, tc.msg)
				}
			}
			if tc.readBody {
				if body.read != int64(len(tc.req.body)) {
					t.Errorf("%d bytes read, want all %d", body.read, len(tc.req.body))
				}
			} else if body.read > tc.maxRead {
				t.Errorf("%d bytes of the body read, want at most %d", body.read, tc.maxRead)
			}
			if got := rec.Header().Get("Connection") == "close"; got != tc.close {
				t.Errorf("Connection: close is %v, want %v", got, tc.close)
			}
			if n := b.rec.opened.Load(); n != tc.backend {
				t.Errorf("%d calls reached the server, want %d", n, tc.backend)
			}
		})
	}
}

// TestBodyOverTheLimitOverTheNetwork checks the 413 and 401 answers a real
// HTTP/1.1 client gets for bodies the gateway does not read: a
// Content-Length over the limit, a chunked body over it, and a large body
// without a token. Where much is left unread, the answer says so
// (Connection: close) and the server closes the connection.
func TestBodyOverTheLimitOverTheNetwork(t *testing.T) {
	t.Parallel()
	const limit = 1024
	tok := signed(t, testSecret, "ana", time.Now().Add(time.Hour))
	e := newEnv(t, gateway.WithMaxBodySize(limit), gateway.WithPrecheck(newAuthenticator(t).Precheck))
	cases := []struct {
		name    string
		body    io.Reader
		token   string
		want    answer
		closing bool
	}{
		{"Content-Length over the limit", strings.NewReader(strings.Repeat("x", limit+1)), tok,
			answer{code: 413, msg: "request body larger than 1024 bytes"}, false},
		{"Content-Length of 1 MiB", strings.NewReader(strings.Repeat("x", 1<<20)), tok,
			answer{code: 413, msg: "request body larger than 1024 bytes"}, true},
		{"chunked over the limit", newCountingBody("", 1<<20), tok,
			answer{code: 413, msg: "request body larger than 1024 bytes"}, true},
		{"1 MiB without a token", strings.NewReader(strings.Repeat("x", 1<<20)), "",
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/v1/echo", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			tc.want.check(t, http.MethodPost, resp, body)
			if resp.Close != tc.closing {
				t.Errorf("Connection: close is %v, want %v", resp.Close, tc.closing)
			}
		})
	}
	if n := e.rec.opened.Load(); n != 0 {
		t.Errorf("%d calls reached the server, want none", n)
	}
}

// TestPrecheckErrorCode checks that a precheck's answer other than
// Unauthenticated keeps its own code, without a challenge.
func TestPrecheckErrorCode(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	g := gateway.New(gateway.WithPrecheck(func(context.Context, string, wire.Credentials) error {
		return status.Error(codes.PermissionDenied, "no")
	}))
	mux := g.NewServeMux()
	b.register(t, mux)
	rec, body := inProcess{method: "POST", target: "/v1/echo", body: `{"message":"hi"}`}.serve(t, g.Wrap(mux))
	answer{code: 403, msg: "no"}.checkRecorded(t, "POST", rec)
	if body.read != 0 || b.rec.opened.Load() != 0 {
		t.Errorf("body read %d, calls %d; want none", body.read, b.rec.opened.Load())
	}
}
