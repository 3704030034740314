package gateway_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"sync"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/gateway"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/wire"
)

const (
	plainChallenge   = `Bearer realm="tokengate"`
	invalidChallenge = `Bearer realm="tokengate", error="invalid_token"`
	msgQueryNotUTF8  = "query is not valid UTF-8 once unescaped"
	msgPathNotUTF8   = "path parameter is not valid UTF-8 once unescaped"
	msgNotASCII      = "malformed authorization header: not printable ASCII"
	msgHeadOnStream  = "HEAD is not supported on a streaming route; use GET"
)

// asked is one question put to an authenticator.
type asked struct {
	method string
	md     metadata.MD
	peer   net.Addr
}

// authenticator is a WithPrecheck function with the interceptors' answers
// for a few fixed credentials: "Bearer good" anywhere, and x-status-token
// "st" on the status RPC. It records what it is asked.
type authenticator struct {
	mu    sync.Mutex
	asked []asked
}

func (a *authenticator) precheck(_ context.Context, method string, creds wire.Credentials) error {
	md := credentialMD(creds)
	q := asked{method: method, md: md}
	if ap, err := netip.ParseAddrPort(creds.RemoteAddr); err == nil {
		q.peer = net.TCPAddrFromAddrPort(ap)
	}
	a.mu.Lock()
	a.asked = append(a.asked, q)
	a.mu.Unlock()
	if method == statusRPC && reflect.DeepEqual(md.Get(wire.StatusTokenKey), []string{"st"}) {
		return nil
	}
	switch auth := md.Get(wire.AuthorizationKey); {
	case len(auth) == 0:
		return status.Error(codes.Unauthenticated, "missing bearer token")
	case len(auth) == 1 && auth[0] == "Bearer good":
		return nil
	}
	return status.Error(codes.Unauthenticated, "invalid token")
}

// credentialMD is creds as the call's metadata.
func credentialMD(creds wire.Credentials) metadata.MD {
	md := metadata.MD{}
	if creds.Authorization != nil {
		md[wire.AuthorizationKey] = creds.Authorization
	}
	if creds.StatusToken != nil {
		md[wire.StatusTokenKey] = creds.StatusToken
	}
	return md
}

// only returns the one question asked and fails the test unless there was
// exactly one.
func (a *authenticator) only(t *testing.T) asked {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.asked) != 1 {
		t.Fatalf("authenticator asked %d times, want once: %+v", len(a.asked), a.asked)
	}
	return a.asked[0]
}

func (a *authenticator) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.asked)
}

// answer is what a test expects of an HTTP response.
type answer struct {
	code      int
	msg       string // the JSON error body's message; "" for a success
	challenge string // the one WWW-Authenticate value; "": none
	allow     string // the Allow header; "": none
}

// check compares the response with want. A HEAD response has no body to
// read the message from.
func (want answer) check(t *testing.T, method string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != want.code {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, want.code, body)
	}
	if got := resp.Header.Values("WWW-Authenticate"); want.challenge == "" && len(got) != 0 {
		t.Errorf("WWW-Authenticate = %q, want none", got)
	} else if want.challenge != "" && !reflect.DeepEqual(got, []string{want.challenge}) {
		t.Errorf("WWW-Authenticate = %q, want exactly [%s]", got, want.challenge)
	}
	if got := resp.Header.Get("Allow"); got != want.allow {
		t.Errorf("Allow = %q, want %q", got, want.allow)
	}
	if method == http.MethodHead {
		if len(body) != 0 {
			t.Errorf("HEAD body %q, want none", body)
		}
		return
	}
	if want.msg != "" {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		if st := parseError(t, false, body); st.Message != want.msg {
			t.Errorf("message %q, want %q", st.Message, want.msg)
		}
	}
}

// TestHeadOnStream checks that HEAD on a streaming route never starts the
// stream: the caller is authenticated as on GET (with WithPrecheck), then
// told to use GET (405, Allow: GET).
func TestHeadOnStream(t *testing.T) {
	t.Parallel()
	const target = "/v1/echo/stream?message=a+b"
	cases := []struct {
		name   string
		withFn bool // give the Gateway WithPrecheck
		target string
		header [][2]string
		want   answer
	}{
		{"no credentials", true, target, nil,
			answer{code: 401, challenge: plainChallenge}},
		{"invalid token", true, target, [][2]string{hdr("Authorization", "Bearer bad")},
			answer{code: 401, challenge: invalidChallenge}},
		{"two tokens", true, target, [][2]string{hdr("Authorization", "Bearer good"), hdr("Authorization", "Bearer good")},
			answer{code: 401, challenge: invalidChallenge}},
		{"valid token", true, target, [][2]string{hdr("Authorization", "Bearer good")},
			answer{code: 405, allow: http.MethodGet}},
		{"Authorization not printable ASCII", true, target, [][2]string{hdr("Authorization", "Bearer caf\xc3\xa9")},
			answer{code: 401, challenge: invalidChallenge}},
		{"query not UTF-8, no credentials", true, "/v1/echo/stream?message=%ff", nil,
			answer{code: 401, challenge: plainChallenge}},
		{"query not UTF-8, valid token", true, "/v1/echo/stream?message=%ff", [][2]string{hdr("Authorization", "Bearer good")},
			answer{code: 400}},
		// grpc-gateway refuses this before any call, on GET too.
		{"repeated ?message=, no credentials", true, "/v1/echo/stream?message=a&message=b", nil,
			answer{code: 400}},
		// Without WithPrecheck the gateway cannot ask the server without
		// opening the stream, so it answers without authentication.
		{"no WithPrecheck, no credentials", false, target, nil,
			answer{code: 405, allow: http.MethodGet}},
		{"no WithPrecheck, a token", false, target, [][2]string{hdr("Authorization", "Bearer good")},
			answer{code: 405, allow: http.MethodGet}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &authenticator{}
			var opts []gateway.Option
			if tc.withFn {
				opts = append(opts, gateway.WithPrecheck(a.precheck))
			}
			e := newEnv(t, opts...)
			resp, body := e.do(t, request{method: http.MethodHead, target: tc.target, header: tc.header})
			tc.want.check(t, http.MethodHead, resp, body)
			if n := e.rec.opened.Load(); n != 0 {
				t.Errorf("%d calls reached the server, want none: HEAD must not start the stream", n)
			}
		})
	}
}

// TestHeadOnStreamAsksWhatTheCallWouldCarry checks the question put to
// WithPrecheck: the stream's RPC, the credentials the call would have
// carried, and the HTTP caller as the peer.
func TestHeadOnStreamAsksWhatTheCallWouldCarry(t *testing.T) {
	t.Parallel()
	a := &authenticator{}
	e := newEnv(t, gateway.WithPrecheck(a.precheck))
	resp, body := e.do(t, request{method: http.MethodHead, target: "/v1/echo/stream?message=a&token=st",
		header: [][2]string{hdr("Authorization", "Bearer good"), hdr("Grpc-Metadata-Authorization", "Bearer evil")}})
	answer{code: 405, allow: http.MethodGet}.check(t, http.MethodHead, resp, body)
	q := a.only(t)
	if q.method != streamRPC {
		t.Errorf("method %q, want %q", q.method, streamRPC)
	}
	checkCredentialMD(t, call{method: q.method, md: q.md}, map[string][]string{wire.AuthorizationKey: {"Bearer good"}})
	if tcp, ok := q.peer.(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() || tcp.Port == 0 {
		t.Errorf("peer = %v, want the HTTP caller's loopback address", q.peer)
	}
}

// TestHeadOnUnaryMakesTheCall checks that HEAD /status, once let in by
// WithPrecheck, is a call decided by the server: the backend sees it, and
// the gateway asked its question once, before it (issue 15: every request
// is prechecked, where WithAuthenticate was asked only without a call).
func TestHeadOnUnaryMakesTheCall(t *testing.T) {
	t.Parallel()
	a := &authenticator{}
	e := newEnv(t, gateway.WithPrecheck(a.precheck))
	resp, body := e.do(t, request{method: http.MethodHead, target: "/status?token=st"})
	answer{code: 200}.check(t, http.MethodHead, resp, body)
	if got := e.rec.only(t); got.method != statusRPC {
		t.Errorf("backend method %q, want %q", got.method, statusRPC)
	}
	if q := a.only(t); q.method != statusRPC {
		t.Errorf("asked about %q, want %q", q.method, statusRPC)
	}
}

// TestInvalidUTF8Query checks a query that is not UTF-8 once unescaped,
// which grpc-go would refuse to marshal (500): it is never sent, the caller
// is authenticated first (WithPrecheck), and a caller let in gets 400.
func TestInvalidUTF8Query(t *testing.T) {
	t.Parallel()
	targets := []struct {
		route string
		req   func(header ...[2]string) request
	}{
		{"stream value", func(h ...[2]string) request { return get("/v1/echo/stream?message=%ff", h...) }},
		{"stream key", func(h ...[2]string) request { return get("/v1/echo/stream?message=a&%ff=1", h...) }},
		{"status token", func(h ...[2]string) request { return get("/status?token=%c3%28", h...) }},
		{"unary", func(h ...[2]string) request { return post("/v1/echo?x=%ff", h...) }},
	}
	cases := []struct {
		name      string
		withFn    bool
		noHandler bool // serve the mux alone
		header    [][2]string
		want      answer
	}{
		{"no credentials", true, false, nil,
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}},
		{"invalid token", true, false, [][2]string{hdr("Authorization", "Bearer bad")},
			answer{code: 401, msg: "invalid token", challenge: invalidChallenge}},
		{"valid token", true, false, [][2]string{hdr("Authorization", "Bearer good")},
			answer{code: 400, msg: msgQueryNotUTF8}},
		{"mux alone, no credentials", true, true, nil,
			answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}},
		{"mux alone, valid token", true, true, [][2]string{hdr("Authorization", "Bearer good")},
			answer{code: 400, msg: msgQueryNotUTF8}},
		{"no WithPrecheck, no credentials", false, false, nil,
			answer{code: 400, msg: msgQueryNotUTF8}},
	}
	for _, tg := range targets {
		for _, tc := range cases {
			t.Run(tg.route+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				a := &authenticator{}
				var opts []gateway.Option
				if tc.withFn {
					opts = append(opts, gateway.WithPrecheck(a.precheck))
				}
				b := newBackend(t)
				g := gateway.New(opts...)
				mux := g.NewServeMux()
				b.register(t, mux)
				var h http.Handler = mux
				if !tc.noHandler {
					h = g.Wrap(mux)
				}
				e := serveHTTP(t, b, h)
				r := tg.req(tc.header...)
				resp, body := e.do(t, r)
				tc.want.check(t, r.method, resp, body)
				if n := b.rec.opened.Load(); n != 0 {
					t.Errorf("%d calls reached the server, want none", n)
				}
			})
		}
	}
}

// TestInvalidUTF8QueryWithStatusToken checks that a valid ?token= lets a
// caller in on the status route even when the rest of the query is bad.
func TestInvalidUTF8QueryWithStatusToken(t *testing.T) {
	t.Parallel()
	a := &authenticator{}
	e := newEnv(t, gateway.WithPrecheck(a.precheck))
	resp, body := e.do(t, get("/status?token=st&x=%ff"))
	answer{code: 400, msg: msgQueryNotUTF8}.check(t, http.MethodGet, resp, body)
	if q := a.only(t); !reflect.DeepEqual(q.md.Get(wire.StatusTokenKey), []string{"st"}) || q.method != statusRPC {
		t.Errorf("asked %s with x-status-token %q", q.method, q.md.Get(wire.StatusTokenKey))
	}
	resp, body = e.do(t, get("/v1/echo/stream?message=%C3%A9t%C3%A9", hdr("Authorization", "Bearer good")))
	answer{code: 200}.check(t, http.MethodGet, resp, body)
}

// TestInvalidUTF8PathParameter checks a path parameter as the query: one
// that is not UTF-8 once unescaped is answered 400 without a call (grpc-go
// would refuse to marshal it into a string field: 500), after the
// credentials (401 without them). The route is as protoc-gen-grpc-gateway
// writes one for get: "/v1/say/{message}"; each request is served three
// times, so that the later ones find the route learned.
func TestInvalidUTF8PathParameter(t *testing.T) {
	t.Parallel()
	a := &authenticator{}
	b := newBackend(t)
	g := gateway.New(gateway.WithPrecheck(a.precheck))
	mux := g.NewServeMux()
	client := tokengatev1.NewEchoServiceClient(b.conn)
	const pattern = "/v1/say/{message}"
	if err := mux.HandlePath(http.MethodGet, pattern, func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		_, out := runtime.MarshalerForRequest(mux, r)
		ctx, err := runtime.AnnotateContext(r.Context(), mux, r, unaryRPC, runtime.WithHTTPPathPattern(pattern))
		if err != nil {
			runtime.HTTPError(r.Context(), mux, out, w, r, err)
			return
		}
		resp, err := client.UnaryEcho(ctx, &tokengatev1.EchoRequest{Message: params["message"]})
		if err != nil {
			runtime.HTTPError(ctx, mux, out, w, r, err)
			return
		}
		runtime.ForwardResponseMessage(ctx, mux, out, w, r, resp)
	}); err != nil {
		t.Fatal(err)
	}
	e := serveHTTP(t, b, g.Wrap(mux))
	good := hdr("Authorization", "Bearer good")
	for _, tc := range []struct {
		req   request
		want  answer
		calls int64
	}{
		{get("/v1/say/%C3%A9t%C3%A9", good), answer{code: 200}, 1},
		{get("/v1/say/%ff", good), answer{code: 400, msg: msgPathNotUTF8}, 0},
		{get("/v1/say/%ff"), answer{code: 401, msg: "missing bearer token", challenge: plainChallenge}, 0},
	} {
		for range 3 {
			before := b.rec.opened.Load()
			resp, body := e.do(t, tc.req)
			tc.want.check(t, tc.req.method, resp, body)
			if n := b.rec.opened.Load() - before; n != tc.calls {
				t.Errorf("GET %s: %d calls reached the server, want %d", tc.req.target, n, tc.calls)
			}
		}
	}
}

// TestNonASCIIAuthorizationOnTheMux checks that the mux alone, without
// Wrap, refuses an Authorization value that cannot be gRPC metadata,
// rather than letting grpc-gateway drop it: the call would then go out
// without it (a misleading "missing bearer token"), or with the other value
// of two as the only one.
func TestNonASCIIAuthorizationOnTheMux(t *testing.T) {
	t.Parallel()
	headers := map[string][][2]string{
		"UTF-8":                   {hdr("Authorization", "Bearer caf\xc3\xa9")},
		"byte 0xff":               {hdr("Authorization", "Bearer x\xff")},
		"tab":                     {hdr("Authorization", "Bearer\tx")},
		"valid and one with 0xff": {hdr("Authorization", "Bearer good"), hdr("Authorization", "Bearer x\xff")},
		"not bearer, not ASCII":   {hdr("Authorization", "Basic \xe9")},
	}
	for _, route := range routes {
		for name, h := range headers {
			t.Run(route.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				b := newBackend(t)
				mux := runtime.NewServeMux(gateway.New().ServeMuxOptions()...)
				b.register(t, mux)
				e := serveHTTP(t, b, mux)
				r := route.req("", h...)
				resp, body := e.do(t, r)
				want := answer{code: 401, msg: msgNotASCII, challenge: invalidChallenge}
				if name == "not bearer, not ASCII" || name == "tab" { // a tab does not end the scheme
					want.challenge = plainChallenge
				}
				want.check(t, r.method, resp, body)
				if n := b.rec.opened.Load(); n != 0 {
					t.Errorf("%d calls reached the server, want none", n)
				}
			})
		}
	}
}

// TestHandlePathRoutesAreLeftAlone checks that a route that is not an RPC
// (ServeMux.HandlePath) sees the request as it came, with a live context,
// whatever its Authorization or query: there is no call to cut.
func TestHandlePathRoutesAreLeftAlone(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	g := gateway.New(gateway.WithPrecheck((&authenticator{}).precheck))
	mux := g.NewServeMux()
	err := mux.HandlePath(http.MethodGet, "/raw", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		if err := r.Context().Err(); err != nil {
			http.Error(w, err.Error(), http.StatusTeapot)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	if err != nil {
		t.Fatal(err)
	}
	e := serveHTTP(t, b, g.Wrap(mux))
	for _, r := range []request{
		get("/raw", hdr("Authorization", "Bearer caf\xc3\xa9")),
		get("/raw?x=%ff"),
		{method: http.MethodHead, target: "/raw"},
	} {
		resp, body := e.do(t, r)
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("%s %s %q: status %d, want 204; body %s", r.method, r.target, r.header, resp.StatusCode, body)
		}
	}
}
