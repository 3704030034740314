package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/gateway"
	"github.com/tokengate/tokengate/wire"
)

// request is one HTTP request to make against an env. Headers are a list so
// that one name can be sent several times.
type request struct {
	method string
	target string
	header [][2]string
	body   string
}

func get(target string, header ...[2]string) request {
	return request{method: http.MethodGet, target: target, header: header}
}

func post(target string, header ...[2]string) request {
	return request{method: http.MethodPost, target: target, header: header, body: `{"message":"hi"}`}
}

func hdr(name, value string) [2]string { return [2]string{name, value} }

// do sends r over loopback and returns the response with its body read.
func (e *env) do(t *testing.T, r request) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, e.url+r.target, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range r.header {
		req.Header.Add(h[0], h[1])
	}
	if r.body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", r.method, r.target, err)
	}
	return resp, b
}

// The three routes, with the RPC each maps to.
var routes = []struct {
	name string
	req  func(query string, header ...[2]string) request
	rpc  string
}{
	{"status", func(q string, h ...[2]string) request { return get("/status"+q, h...) }, statusRPC},
	{"unary", func(q string, h ...[2]string) request { return post("/v1/echo"+q, h...) }, unaryRPC},
	{"stream", func(q string, h ...[2]string) request {
		if q == "" {
			q = "?message=hi"
		} else {
			q = "?message=hi&" + q[1:]
		}
		return get("/v1/echo/stream"+q, h...)
	}, streamRPC},
}

// TestMetadataMapping checks, route by route, exactly which credentials
// metadata the backend receives for each way of sending credentials over
// HTTP.
func TestMetadataMapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		query  string
		header [][2]string
		// want maps metadata keys to exactly the values the backend must see
		// (absent: the key must not be there at all). authorization and
		// x-status-token are always checked, absent unless listed.
		want map[string][]string
		// statusWant replaces want on the status route.
		statusWant map[string][]string
	}{
		{
			name:   "no credentials",
			header: nil,
		},
		{
			name:   "one Authorization header",
			header: [][2]string{hdr("Authorization", "Bearer x")},
			want:   map[string][]string{"authorization": {"Bearer x"}},
		},
		{
			name:   "Authorization header is passed verbatim, whatever the scheme",
			header: [][2]string{hdr("Authorization", "Basic YW5hOnB3")},
			want:   map[string][]string{"authorization": {"Basic YW5hOnB3"}},
		},
		{
			name:   "Grpc-Metadata-Authorization alone",
			header: [][2]string{hdr("Grpc-Metadata-Authorization", "Bearer evil")},
		},
		{
			name:   "Grpc-Metadata-Authorization next to a real Authorization",
			header: [][2]string{hdr("Grpc-Metadata-Authorization", "Bearer evil"), hdr("Authorization", "Bearer x")},
			want:   map[string][]string{"authorization": {"Bearer x"}},
		},
		{
			name:   "lower-case grpc-metadata-authorization",
			header: [][2]string{hdr("grpc-metadata-authorization", "Bearer evil")},
		},
		{
			name:   "two Authorization headers reach the backend as two values",
			header: [][2]string{hdr("Authorization", "Bearer a"), hdr("Authorization", "Bearer b")},
			want:   map[string][]string{"authorization": {"Bearer a", "Bearer b"}},
		},
		{
			name:   "X-Status-Token header",
			header: [][2]string{hdr("X-Status-Token", "abc")},
		},
		{
			name:   "Grpc-Metadata-X-Status-Token header",
			header: [][2]string{hdr("Grpc-Metadata-X-Status-Token", "abc")},
		},
		{
			name:       "?token=",
			query:      "?token=abc",
			statusWant: map[string][]string{"x-status-token": {"abc"}},
		},
		{
			name:       "?token= twice: every value is passed on",
			query:      "?token=a&token=b",
			statusWant: map[string][]string{"x-status-token": {"a", "b"}},
		},
		{
			name:       "?token= empty",
			query:      "?token=",
			statusWant: map[string][]string{"x-status-token": {""}},
		},
		{
			name:       "?token= percent-encoded",
			query:      "?token=a%2Bb%20c",
			statusWant: map[string][]string{"x-status-token": {"a+b c"}},
		},
		{
			name:       "?tok%65n= is the same parameter once decoded",
			query:      "?tok%65n=abc",
			statusWant: map[string][]string{"x-status-token": {"abc"}},
		},
		{
			// Metadata values must be printable ASCII: grpc-go would refuse
			// to send the call (Internal, HTTP 500). Such a token is no
			// status token: the call is decided on the bearer token alone.
			name:  "?token= not printable ASCII",
			query: "?token=caf%C3%A9",
		},
		{
			name:  "?token= with a control character next to a good one",
			query: "?token=abc&token=a%00b",
		},
		{
			name:  "?Token= is another parameter",
			query: "?Token=abc",
		},
		{
			name:       "?token= wins over X-Status-Token headers",
			query:      "?token=abc",
			header:     [][2]string{hdr("X-Status-Token", "evil"), hdr("Grpc-Metadata-X-Status-Token", "evil")},
			statusWant: map[string][]string{"x-status-token": {"abc"}},
		},
		{
			name:   "?token= and Authorization together",
			query:  "?token=abc",
			header: [][2]string{hdr("Authorization", "Bearer x")},
			want:   map[string][]string{"authorization": {"Bearer x"}},
			statusWant: map[string][]string{
				"authorization":  {"Bearer x"},
				"x-status-token": {"abc"},
			},
		},
	}
	for _, route := range routes {
		for _, tc := range cases {
			t.Run(route.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				resp, body := e.do(t, route.req(tc.query, tc.header...))
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200; body %s", resp.StatusCode, body)
				}
				got := e.rec.only(t)
				if got.method != route.rpc {
					t.Fatalf("backend method %q, want %q", got.method, route.rpc)
				}
				want := tc.want
				if route.rpc == statusRPC && tc.statusWant != nil {
					want = tc.statusWant
				}
				checkCredentialMD(t, got, want)
			})
		}
	}
}

// checkCredentialMD asserts the exact values of authorization and
// x-status-token (absent unless in want) and of any other key in want, and
// that no other key carries a credential.
func checkCredentialMD(t *testing.T, got call, want map[string][]string) {
	t.Helper()
	keys := map[string]bool{wire.AuthorizationKey: true, wire.StatusTokenKey: true}
	for k := range want {
		keys[k] = true
	}
	for k := range keys {
		if g, w := got.md.Get(k), want[k]; !reflect.DeepEqual(g, w) {
			t.Errorf("backend sees %s = %q, want %q", k, g, w)
		}
	}
	for k := range got.md {
		if k != wire.AuthorizationKey && k != wire.StatusTokenKey &&
			(strings.Contains(k, "authorization") || strings.Contains(k, "status-token")) {
			t.Errorf("backend sees credential under another key: %s = %q", k, got.md[k])
		}
	}
	if t.Failed() {
		t.Logf("all metadata: %v", got.md)
	}
}

// TestStatusMethodsDecideByRPC checks that ?token= follows the RPC a route
// maps to, as configured, and never the URL's text.
func TestStatusMethodsDecideByRPC(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		opts    []gateway.Option
		req     request
		rpc     string
		wantTok []string
	}{
		{"default: /status", nil, get("/status?token=abc"), statusRPC, []string{"abc"}},
		{"default: /v1/echo", nil, post("/v1/echo?token=abc"), unaryRPC, nil},
		{"default: /v1/echo/stream", nil, get("/v1/echo/stream?message=hi&token=abc"), streamRPC, nil},
		{"default: status in the query of another route", nil, post("/v1/echo?token=abc&next=/status"), unaryRPC, nil},
		{"UnaryEcho only: /v1/echo", []gateway.Option{gateway.WithStatusMethods(unaryRPC)}, post("/v1/echo?token=abc"), unaryRPC, []string{"abc"}},
		{"UnaryEcho only: /status", []gateway.Option{gateway.WithStatusMethods(unaryRPC)}, get("/status?token=abc"), statusRPC, nil},
		{"UnaryEcho only: /v1/echo/stream", []gateway.Option{gateway.WithStatusMethods(unaryRPC)}, get("/v1/echo/stream?message=hi&token=abc"), streamRPC, nil},
		{"stream and status: /v1/echo/stream", []gateway.Option{gateway.WithStatusMethods(statusRPC, streamRPC)}, get("/v1/echo/stream?message=hi&token=abc"), streamRPC, []string{"abc"}},
		{"stream and status: /status", []gateway.Option{gateway.WithStatusMethods(statusRPC, streamRPC)}, get("/status?token=abc"), statusRPC, []string{"abc"}},
		{"none: /status", []gateway.Option{gateway.WithStatusMethods()}, get("/status?token=abc"), statusRPC, nil},
		{"a whole service: /status", []gateway.Option{gateway.WithStatusMethods("/tokengate.v1.StatusService/")}, get("/status?token=abc"), statusRPC, []string{"abc"}},
		{"a whole service: /v1/echo", []gateway.Option{gateway.WithStatusMethods("/tokengate.v1.StatusService/")}, get("/v1/echo/stream?message=hi&token=abc"), streamRPC, nil},
		{"a service name without its slash is nothing", []gateway.Option{gateway.WithStatusMethods("/tokengate.v1.StatusService")}, get("/status?token=abc"), statusRPC, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.opts...)
			tc.req.header = append(tc.req.header, hdr("Authorization", "Bearer x"))
			resp, body := e.do(t, tc.req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", resp.StatusCode, body)
			}
			got := e.rec.only(t)
			if got.method != tc.rpc {
				t.Fatalf("backend method %q, want %q", got.method, tc.rpc)
			}
			checkCredentialMD(t, got, map[string][]string{
				wire.AuthorizationKey: {"Bearer x"},
				wire.StatusTokenKey:   tc.wantTok,
			})
		})
	}
}

// TestOtherHeadersKeepDefaultMapping checks that the gateway's header
// matcher changes grpc-gateway's default only for credentials: permanent
// headers still arrive as grpcgateway-<name>, and Grpc-Metadata-<Name>
// arrives exactly as runtime.DefaultHeaderMatcher says (grpc-gateway
// v2.33.0's default no longer forwards it; earlier defaults forwarded it as
// <name>).
func TestOtherHeadersKeepDefaultMapping(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, body := e.do(t, get("/status",
		hdr("User-Agent", "probe/1"),
		hdr("Accept-Language", "it"),
		hdr("Grpc-Metadata-Foo", "bar"),
		hdr("X-Custom", "y"),
		hdr("Authorization", "Bearer x")))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d; body %s", resp.StatusCode, body)
	}
	md := e.rec.only(t).md
	for k, want := range map[string][]string{
		"grpcgateway-user-agent":      {"probe/1"},
		"grpcgateway-accept-language": {"it"},
		"x-custom":                    nil,
		"grpcgateway-x-custom":        nil,
		"authorization":               {"Bearer x"},
		"grpcgateway-authorization":   nil,
	} {
		if got := md.Get(k); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	var want []string
	if key, ok := runtime.DefaultHeaderMatcher("Grpc-Metadata-Foo"); ok {
		if got := md.Get(key); !reflect.DeepEqual(got, []string{"bar"}) {
			t.Errorf("Grpc-Metadata-Foo: %s = %q, want [bar] as grpc-gateway's default matcher forwards it", key, got)
		}
	} else if got := md.Get("foo"); !reflect.DeepEqual(got, want) {
		t.Errorf("Grpc-Metadata-Foo: foo = %q; grpc-gateway's default matcher does not forward it", got)
	}
}

// statusBody is grpc-gateway's JSON error body (a google.rpc.Status).
type statusBody struct {
	Code    codes.Code        `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

// parseError parses a unary route's error body, or a streaming route's
// first line ({"error": {…}}).
func parseError(t *testing.T, streaming bool, b []byte) statusBody {
	t.Helper()
	var s statusBody
	if streaming {
		line, _, _ := bytes.Cut(b, []byte("\n"))
		var wrapped struct {
			Error *statusBody `json:"error"`
		}
		if err := json.Unmarshal(line, &wrapped); err != nil || wrapped.Error == nil {
			t.Fatalf("stream error body %q: not {\"error\": …}: %v", b, err)
		}
		return *wrapped.Error
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	return s
}

// TestErrorResponses checks the HTTP answer to each backend failure:
// Unauthenticated is 401 with an RFC 6750 challenge, on every route; other
// codes are grpc-gateway's mapping, without a challenge.
func TestErrorResponses(t *testing.T) {
	t.Parallel()
	const (
		plain   = `Bearer realm="tokengate"`
		invalid = `Bearer realm="tokengate", error="invalid_token"`
	)
	cases := []struct {
		name      string
		err       error
		opts      []gateway.Option
		header    [][2]string
		wantHTTP  int
		challenge string // "": no WWW-Authenticate at all
	}{
		{"unauthenticated, no credentials", status.Error(codes.Unauthenticated, "missing bearer token"), nil, nil, 401, plain},
		{"unauthenticated, bearer token", status.Error(codes.Unauthenticated, "invalid token: malformed"), nil,
			[][2]string{hdr("Authorization", "Bearer x")}, 401, invalid},
		{"unauthenticated, lower-case bearer scheme", status.Error(codes.Unauthenticated, "token expired"), nil,
			[][2]string{hdr("Authorization", "bearer x")}, 401, invalid},
		{"unauthenticated, Basic credentials", status.Error(codes.Unauthenticated, "authorization metadata is not a bearer token"), nil,
			[][2]string{hdr("Authorization", "Basic YW5hOnB3")}, 401, plain},
		{"unauthenticated, bearer scheme without a token", status.Error(codes.Unauthenticated, "missing bearer token"), nil,
			[][2]string{hdr("Authorization", "Bearer")}, 401, plain},
		{"unauthenticated, only a spoofed Grpc-Metadata-Authorization", status.Error(codes.Unauthenticated, "missing bearer token"), nil,
			[][2]string{hdr("Grpc-Metadata-Authorization", "Bearer evil")}, 401, plain},
		{"unauthenticated, two bearer tokens", status.Error(codes.Unauthenticated, "malformed authorization metadata: more than one value"), nil,
			[][2]string{hdr("Authorization", "Bearer a"), hdr("Authorization", "Bearer b")}, 401, invalid},
		{"unauthenticated, message looks like a header", status.Error(codes.Unauthenticated, "x\", error=\"insufficient_scope"), nil,
			[][2]string{hdr("Authorization", "Bearer x")}, 401, invalid},
		{"unauthenticated, WithRealm", status.Error(codes.Unauthenticated, "missing bearer token"),
			[]gateway.Option{gateway.WithRealm("api")}, nil, 401, `Bearer realm="api"`},
		{"unauthenticated, WithRealm and a token", status.Error(codes.Unauthenticated, "token expired"),
			[]gateway.Option{gateway.WithRealm("api")}, [][2]string{hdr("Authorization", "Bearer x")}, 401, `Bearer realm="api", error="invalid_token"`},
		{"unauthenticated, WithRealm drops quotes and backslashes", status.Error(codes.Unauthenticated, "missing bearer token"),
			[]gateway.Option{gateway.WithRealm("a\"b\\c\u00e9\n")}, nil, 401, `Bearer realm="abc"`},
		{"unauthenticated, empty WithRealm keeps the default", status.Error(codes.Unauthenticated, "missing bearer token"),
			[]gateway.Option{gateway.WithRealm("")}, nil, 401, plain},
		{"permission denied", status.Error(codes.PermissionDenied, "no"), nil,
			[][2]string{hdr("Authorization", "Bearer x")}, 403, ""},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad"), nil, nil, 400, ""},
		{"not found", status.Error(codes.NotFound, "gone"), nil, nil, 404, ""},
		{"resource exhausted", status.Error(codes.ResourceExhausted, "slow down"), nil, nil, 429, ""},
		{"unavailable", status.Error(codes.Unavailable, "down"), nil, nil, 503, ""},
		{"internal", status.Error(codes.Internal, "oops"), nil, nil, 500, ""},
	}
	for _, route := range routes {
		for _, tc := range cases {
			t.Run(route.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, tc.opts...)
				e.rec.setFail(tc.err)
				resp, body := e.do(t, route.req("", tc.header...))
				if resp.StatusCode != tc.wantHTTP {
					t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.wantHTTP, body)
				}
				if got := resp.Header.Values("WWW-Authenticate"); tc.challenge == "" && len(got) != 0 {
					t.Errorf("WWW-Authenticate = %q, want none", got)
				} else if tc.challenge != "" && !reflect.DeepEqual(got, []string{tc.challenge}) {
					t.Errorf("WWW-Authenticate = %q, want exactly [%s]", got, tc.challenge)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", ct)
				}
				st := parseError(t, route.rpc == streamRPC, body)
				want := status.Convert(tc.err)
				if st.Code != want.Code() || st.Message != want.Message() {
					t.Errorf("body = %+v, want code %d message %q", st, want.Code(), want.Message())
				}
			})
		}
	}
}

// TestRealmIsHeldOnce checks that the realm given to New is the one on the
// wire for every route, whether the challenge comes from the mux's error
// handler (unary routes) or from Wrap (streaming routes): there is one
// setting, where NewServeMux and Handler each used to take their own.
func TestRealmIsHeldOnce(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	b.rec.setFail(status.Error(codes.Unauthenticated, "missing bearer token"))
	g := gateway.New(gateway.WithRealm("handler"))
	mux := g.NewServeMux()
	b.register(t, mux)
	e := serveHTTP(t, b, g.Wrap(mux))
	for _, route := range routes {
		resp, _ := e.do(t, route.req(""))
		if got := resp.Header.Values("WWW-Authenticate"); !reflect.DeepEqual(got, []string{`Bearer realm="handler"`}) {
			t.Errorf("%s: WWW-Authenticate = %q", route.name, got)
		}
	}
}

// TestWithoutHandler shows what Gateway.Wrap adds: a bare mux made with
// ServeMuxOptions challenges on unary routes only, and answers HEAD with
// grpc-gateway's 501.
func TestWithoutHandler(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	b.rec.setFail(status.Error(codes.Unauthenticated, "missing bearer token"))
	mux := runtime.NewServeMux(gateway.New().ServeMuxOptions()...)
	b.register(t, mux)
	e := serveHTTP(t, b, mux)

	resp, _ := e.do(t, get("/status"))
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="tokengate"` {
		t.Errorf("GET /status: %d %q, want 401 with the challenge", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	resp, body := e.do(t, get("/v1/echo/stream?message=hi"))
	if resp.StatusCode != 401 || len(resp.Header.Values("WWW-Authenticate")) != 0 {
		t.Errorf("GET /v1/echo/stream: %d %q, want 401 without a challenge (stream errors skip the error handler)", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	if st := parseError(t, true, body); st.Code != codes.Unauthenticated {
		t.Errorf("stream body %s", body)
	}
	resp, _ = e.do(t, request{method: http.MethodHead, target: "/status"})
	if resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("HEAD /status on a bare mux: %d, want grpc-gateway's 501", resp.StatusCode)
	}
}

// TestHead checks that HEAD on a unary route answers as GET would, without
// a body. (HEAD on a streaming route: TestHeadOnStream.)
func TestHead(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		target string
		header [][2]string
		fail   error
		want   int
	}{
		{"status ok", "/status?token=abc", nil, nil, 200},
		{"status ok with bearer", "/status", [][2]string{hdr("Authorization", "Bearer x")}, nil, 200},
		{"status unauthenticated", "/status", nil, status.Error(codes.Unauthenticated, "missing bearer token"), 401},
		{"status unauthenticated with bearer", "/status", [][2]string{hdr("Authorization", "Bearer x")}, status.Error(codes.Unauthenticated, "token expired"), 401},
		{"status permission denied", "/status", nil, status.Error(codes.PermissionDenied, "no"), 403},
		{"unknown path", "/nope", nil, nil, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.rec.setFail(tc.fail)
			getResp, getBody := e.do(t, request{method: http.MethodGet, target: tc.target, header: tc.header})
			headResp, headBody := e.do(t, request{method: http.MethodHead, target: tc.target, header: tc.header})
			if getResp.StatusCode != tc.want || headResp.StatusCode != tc.want {
				t.Fatalf("GET %d, HEAD %d, want %d", getResp.StatusCode, headResp.StatusCode, tc.want)
			}
			if len(headBody) != 0 {
				t.Errorf("HEAD body %q, want none", headBody)
			}
			if len(getBody) == 0 {
				t.Errorf("GET body empty")
			}
			// Date may tick; Content-Length is known only once the body is
			// written, which HEAD does not do (RFC 9110 §9.3.2 allows
			// omitting it).
			if g, h := headerSet(getResp.Header, "Date", "Content-Length"), headerSet(headResp.Header, "Date", "Content-Length"); !reflect.DeepEqual(g, h) {
				t.Errorf("headers differ:\nGET  %v\nHEAD %v", g, h)
			}
			if tc.want == 401 && len(headResp.Header.Values("WWW-Authenticate")) != 1 {
				t.Errorf("HEAD 401 without the challenge: %v", headResp.Header)
			}
			if tc.want == 200 && tc.target != "/nope" {
				if e.rec.count() != 2 {
					t.Errorf("backend saw %d calls, want 2 (GET and HEAD)", e.rec.count())
				}
			}
		})
	}
}

func headerSet(h http.Header, skip ...string) http.Header {
	c := h.Clone()
	for _, k := range skip {
		c.Del(k)
	}
	return c
}

// TestHeadKeepsStatusToken checks that HEAD /status?token= reaches the
// backend as the status call GET would make.
func TestHeadKeepsStatusToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, body := e.do(t, request{method: http.MethodHead, target: "/status?token=abc"})
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, body)
	}
	got := e.rec.only(t)
	if got.method != statusRPC {
		t.Fatalf("method %q", got.method)
	}
	checkCredentialMD(t, got, map[string][]string{wire.StatusTokenKey: {"abc"}})
}

// TestStreamBody checks the success body of the streaming route:
// newline-delimited {"result": …} objects.
func TestStreamBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, body := e.do(t, get("/v1/echo/stream?message=a+b+c", hdr("Authorization", "Bearer x")))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var words []string
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		var r struct {
			Result struct {
				Message string `json:"message"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		words = append(words, r.Result.Message)
	}
	if !slices.Equal(words, []string{"a", "b", "c"}) {
		t.Errorf("stream = %q", words)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in       string
		want     string   // exact output, when set
		contains []string // substrings the output must have
		hidden   []string // substrings the output must not have
	}{
		{in: "/status?token=secret&x=1", contains: []string{"x=1", "token=REDACTED"}, hidden: []string{"secret"}},
		{in: "/status?x=1&token=secret", contains: []string{"x=1", "token=REDACTED"}, hidden: []string{"secret"}},
		{in: "/status?token=secret1&token=secret2", hidden: []string{"secret"}},
		{in: "/status?tok%65n=secret", hidden: []string{"secret"}},
		{in: "/status?token=s%65cret", hidden: []string{"secret", "s%65cret"}},
		{in: "http://user@example.com:8080/status?token=secret#frag", contains: []string{"example.com:8080/status", "#frag"}, hidden: []string{"secret"}},
		{in: "/status?token=secret;x=1", hidden: []string{"secret"}},
		{in: "/status?x=1;token=secret", hidden: []string{"secret"}},
		{in: "/status?token=secret%zz", hidden: []string{"secret"}},
		{in: "/status?token=secret%", hidden: []string{"secret"}},
		{in: "/status?%zz&token=secret", hidden: []string{"secret"}},
		{in: "/status?x=1&token=secret&b=%zz;c", want: "/status?x=1&token=REDACTED&b=%zz;c"},
		{in: "/status?tok%65n=secret", want: "/status?tok%65n=REDACTED"},
		{in: "/status?token=", want: "/status?token=REDACTED"},
		{in: "/status?token", want: "/status?token"},
		{in: "/status", want: "/status"},
		{in: "/status?x=1", want: "/status?x=1"},
		{in: "/v1/echo?message=hello&b=2&a=1", want: "/v1/echo?message=hello&b=2&a=1"},
		{in: "/status?Token=hidden", want: "/status?Token=REDACTED"}, // grants nothing, but may be a status token
		{in: "/status?tokens=visible", want: "/status?tokens=visible"},
	}
	for _, tc := range cases {
		u, err := url.Parse(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		got := gateway.RedactURL(u)
		if tc.want != "" && got != tc.want {
			t.Errorf("RedactURL(%s) = %q, want %q", tc.in, got, tc.want)
		}
		for _, s := range tc.contains {
			if !strings.Contains(got, s) {
				t.Errorf("RedactURL(%s) = %q, missing %q", tc.in, got, s)
			}
		}
		for _, s := range tc.hidden {
			if strings.Contains(got, s) {
				t.Errorf("RedactURL(%s) = %q, shows %q", tc.in, got, s)
			}
		}
	}
}

// TestRedactURLDoesNotModify checks that the URL given is left alone (it
// is the request's own).
func TestRedactURLDoesNotModify(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("/status?token=secret&x=1")
	before := *u
	_ = gateway.RedactURL(u)
	if *u != before {
		t.Errorf("URL changed: %+v -> %+v", before, *u)
	}
}

// TestRequestErrorsFromTheGateway checks errors grpc-gateway raises before
// any call: they keep their own code, even when they quote input that is not
// UTF-8 (which grpc-gateway alone turns into 500 "failed to marshal error
// message").
func TestRequestErrorsFromTheGateway(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		req  request
		want int
		msg  string
	}{
		{"bad Grpc-Timeout", get("/status", hdr("Grpc-Timeout", "soon")), 400, "invalid grpc-timeout: soon"},
		{"Grpc-Timeout not UTF-8", get("/status", hdr("Grpc-Timeout", "\xab")), 400, "invalid grpc-timeout: \uFFFD"},
		{"Grpc-Timeout not UTF-8, with a bearer token", get("/status", hdr("Grpc-Timeout", "\xab"), hdr("Authorization", "Bearer x")), 400, "invalid grpc-timeout: \uFFFD"},
		{"unknown route", get("/v2/echo"), 404, "Not Found"},
		{"method not allowed (grpc-gateway: 501)", request{method: http.MethodDelete, target: "/status"}, 501, "Method Not Allowed"},
		{"stream: repeated ?message=", get("/v1/echo/stream?message=a&message=b"), 400, `too many values for field "message": a, b`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			resp, body := e.do(t, tc.req)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.want, body)
			}
			if st := parseError(t, false, body); st.Message != tc.msg {
				t.Errorf("message %q, want %q", st.Message, tc.msg)
			}
			if len(resp.Header.Values("WWW-Authenticate")) != 0 {
				t.Errorf("WWW-Authenticate on a %d: %q", tc.want, resp.Header.Values("WWW-Authenticate"))
			}
			if n := e.rec.count(); n != 0 {
				t.Errorf("backend saw %d calls, want none", n)
			}
		})
	}
}

// Options given to Gateway.NewServeMux cannot replace the header matcher
// that keeps Grpc-Metadata-Authorization out.
func TestMuxOptionsCannotReopenSpoofing(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	g := gateway.New()
	mux := g.NewServeMux(runtime.WithLegacyHeaderMatching(),
		runtime.WithIncomingHeaderMatcher(func(k string) (string, bool) { return strings.TrimPrefix(k, "Grpc-Metadata-"), true }))
	b.register(t, mux)
	e := serveHTTP(t, b, g.Wrap(mux))
	e.do(t, get("/status?token=abc", hdr("Grpc-Metadata-Authorization", "Bearer evil"), hdr("Grpc-Metadata-X-Status-Token", "evil")))
	md := b.rec.only(t).md
	for _, k := range []string{"authorization", "x-status-token"} {
		for _, v := range md.Get(k) {
			if strings.Contains(v, "evil") {
				t.Errorf("backend sees %s = %q from a spoofed header", k, md.Get(k))
			}
		}
	}
}
