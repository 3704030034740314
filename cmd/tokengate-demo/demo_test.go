package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/internal/demoservice"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if builtDir != "" {
			os.RemoveAll(builtDir)
		}
		os.Exit(code)
	}))
}

const (
	testSecret      = "0123456789abcdef0123456789abcdef-demo-test"
	testStatusToken = "status-token-of-the-demo-test"
	otherSecret     = "another-secret-another-secret-another-secret"
)

// testAuth is the configuration of the protected demo: ana is the only user.
var testAuth = interceptors.Config{
	Secret:      testSecret,
	StatusToken: testStatusToken,
	Users:       []string{"ana"},
}

func sign(t testing.TB, secret, user string, exp time.Time) string {
	t.Helper()
	tok, err := token.Sign([]byte(secret), token.Claims{User: user, ExpiresAt: exp})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

// tokens used against the protected demo.
type tokens struct {
	ana, expired, wrongSecret, bob string
}

func newTokens(t testing.TB) tokens {
	return tokens{
		ana:         sign(t, testSecret, "ana", time.Now().Add(time.Hour)),
		expired:     sign(t, testSecret, "ana", time.Now().Add(-time.Hour)),
		wrongSecret: sign(t, otherSecret, "ana", time.Now().Add(time.Hour)),
		bob:         sign(t, testSecret, "bob", time.Now().Add(time.Hour)),
	}
}

func (k tokens) all() []string { return []string{k.ana, k.expired, k.wrongSecret, k.bob} }

// running is a demo serving on loopback, with clients for both sides.
type running struct {
	d     *demo
	base  string // http://host:port of the REST side
	http  *http.Client
	conn  *grpc.ClientConn
	stopF func()
}

// stop cancels serve, checks that it returned nil, and closes the clients.
// It runs at the latest when the test ends.
func (r *running) stop() { r.stopF() }

func startDemo(t *testing.T, auth interceptors.Config, logger *slog.Logger) *running {
	t.Helper()
	return startDemoWith(t, options{auth: auth}, logger)
}

// startDemoWith is startDemo with more options; the addresses are always
// loopback ports of the system's choice.
func startDemoWith(t *testing.T, o options, logger *slog.Logger) *running {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o.grpcAddr, o.httpAddr = "127.0.0.1:0", "127.0.0.1:0"
	d, err := newDemo(o, logger)
	if err != nil {
		t.Fatalf("newDemo: %v", err)
	}
	for _, a := range []string{d.grpcAddr, d.httpAddr} {
		if host, _, _ := net.SplitHostPort(a); host != "127.0.0.1" {
			t.Fatalf("demo bound %s, want loopback", a)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.serve(ctx) }()

	conn, err := grpc.NewClient(d.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cancel()
		<-served
		t.Fatalf("NewClient: %v", err)
	}
	transport := &http.Transport{}
	r := &running{
		d:    d,
		base: "http://" + d.httpAddr,
		http: &http.Client{Transport: transport, Timeout: 10 * time.Second},
		conn: conn,
	}
	var once sync.Once
	r.stopF = func() {
		once.Do(func() {
			conn.Close()
			cancel()
			select {
			case err := <-served:
				if err != nil {
					t.Errorf("serve returned %v after cancel, want nil", err)
				}
			case <-time.After(2 * shutdownGrace):
				t.Errorf("serve did not return within %v of cancel", 2*shutdownGrace)
			}
			transport.CloseIdleConnections()
		})
	}
	t.Cleanup(r.stop)
	return r
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// withMD returns a context with outgoing metadata kv (key, value, …).
func withMD(ctx context.Context, kv ...string) context.Context {
	return metadata.NewOutgoingContext(ctx, metadata.Pairs(kv...))
}

func bearer(tok string) []string { return []string{"authorization", "Bearer " + tok} }

// echoKinds makes one call of each kind of EchoService.
var echoKinds = demoservice.Calls

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Fatalf("code %v (%v), want %v", got, err, code)
	}
}

func TestGRPCEcho(t *testing.T) {
	t.Parallel()
	r := startDemo(t, testAuth, nil)
	tok := newTokens(t)
	client := tokengatev1.NewEchoServiceClient(r.conn)
	cases := []struct {
		name string
		md   []string
		want codes.Code
	}{
		{"no token", nil, codes.Unauthenticated},
		{"valid token", bearer(tok.ana), codes.OK},
		{"garbage token", bearer("abc"), codes.Unauthenticated},
		{"expired token", bearer(tok.expired), codes.Unauthenticated},
		{"other secret", bearer(tok.wrongSecret), codes.Unauthenticated},
		{"user not allowed", bearer(tok.bob), codes.Unauthenticated},
		{"status token grants nothing here", []string{"x-status-token", testStatusToken}, codes.Unauthenticated},
		{"two tokens", append(bearer(tok.ana), bearer(tok.ana)...), codes.Unauthenticated},
	}
	for _, kind := range echoKinds {
		for _, tc := range cases {
			t.Run(kind.Name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				user, err := kind.Do(withMD(testCtx(t), tc.md...), client)
				wantCode(t, err, tc.want)
				if tc.want == codes.OK && user != "ana" {
					t.Errorf("handler saw user %q, want ana", user)
				}
			})
		}
	}
}

func TestGRPCStatusAndHealth(t *testing.T) {
	t.Parallel()
	r := startDemo(t, testAuth, nil)
	tok := newTokens(t)
	statusClient := tokengatev1.NewStatusServiceClient(r.conn)
	health := healthpb.NewHealthClient(r.conn)
	cases := []struct {
		name string
		md   []string
		want codes.Code
	}{
		{"status token", []string{"x-status-token", testStatusToken}, codes.OK},
		{"bearer token", bearer(tok.ana), codes.OK},
		{"wrong status token", []string{"x-status-token", "wrong"}, codes.Unauthenticated},
		{"wrong status token, then bearer", append([]string{"x-status-token", "wrong"}, bearer(tok.ana)...), codes.OK},
		{"status token twice", []string{"x-status-token", testStatusToken, "x-status-token", testStatusToken}, codes.Unauthenticated},
		{"nothing", nil, codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run("Status/"+tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := statusClient.Status(withMD(testCtx(t), tc.md...), &tokengatev1.StatusRequest{})
			wantCode(t, err, tc.want)
			if tc.want == codes.OK && (resp.GetStatus() != "OK" || resp.GetVersion() == "") {
				t.Errorf("Status = %v", resp)
			}
		})
		t.Run("Health/"+tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := health.Check(withMD(testCtx(t), tc.md...), &healthpb.HealthCheckRequest{})
			wantCode(t, err, tc.want)
			if tc.want == codes.OK && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("Check = %v", resp)
			}
		})
	}
}

// listServices asks server reflection for the services.
func listServices(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	resp, err := s.Recv()
	if err != nil {
		return nil, err
	}
	_ = s.CloseSend()
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	return names, nil
}

func TestReflection(t *testing.T) {
	t.Parallel()
	r := startDemo(t, testAuth, nil)
	// Reflection is a gRPC method like any other: guarded.
	_, err := listServices(testCtx(t), r.conn)
	wantCode(t, err, codes.Unauthenticated)

	names, err := listServices(withMD(testCtx(t), bearer(newTokens(t).ana)...), r.conn)
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	for _, want := range []string{
		"tokengate.v1.EchoService",
		"tokengate.v1.StatusService",
		"grpc.health.v1.Health",
		"grpc.reflection.v1.ServerReflection",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %q, missing %s", names, want)
		}
	}
}

// httpResult is a REST answer with its body read.
type httpResult struct {
	code   int
	header http.Header
	body   []byte
}

func (r *running) do(t *testing.T, method, target string, header ...[2]string) httpResult {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"message":"hi"}`)
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, r.base+target, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range header {
		req.Header.Add(h[0], h[1])
	}
	resp, err := r.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, target, err)
	}
	return httpResult{code: resp.StatusCode, header: resp.Header, body: b}
}

func auth(tok string) [2]string { return [2]string{"Authorization", "Bearer " + tok} }

const (
	challenge        = `Bearer realm="tokengate"`
	invalidChallenge = `Bearer realm="tokengate", error="invalid_token"`
)

// restCase is one REST request to the protected demo and what must come
// back.
type restCase struct {
	name      string
	method    string
	target    string
	header    [][2]string
	code      int
	challenge string // for 401
	message   string // the gRPC message in the JSON error body, for 401
	check     func(t *testing.T, res httpResult)
}

func restCases(tok tokens) []restCase {
	st := testStatusToken
	return []restCase{
		{name: "echo without token", method: "POST", target: "/v1/echo",
			code: 401, challenge: challenge, message: "missing bearer token"},
		{name: "echo with token", method: "POST", target: "/v1/echo", header: [][2]string{auth(tok.ana)},
			code: 200, check: wantEcho("hi", "ana")},
		{name: "echo with lower-case scheme", method: "POST", target: "/v1/echo", header: [][2]string{{"Authorization", "bearer " + tok.ana}},
			code: 200, check: wantEcho("hi", "ana")},
		{name: "echo with garbage token", method: "POST", target: "/v1/echo", header: [][2]string{auth("abc")},
			code: 401, challenge: invalidChallenge, message: "invalid token: malformed"},
		{name: "echo with expired token", method: "POST", target: "/v1/echo", header: [][2]string{auth(tok.expired)},
			code: 401, challenge: invalidChallenge, message: "token expired"},
		{name: "echo with token of another secret", method: "POST", target: "/v1/echo", header: [][2]string{auth(tok.wrongSecret)},
			code: 401, challenge: invalidChallenge, message: "invalid token: signature does not match"},
		{name: "echo with user not allowed", method: "POST", target: "/v1/echo", header: [][2]string{auth(tok.bob)},
			code: 401, challenge: invalidChallenge, message: "user not allowed"},
		{name: "echo with Basic credentials", method: "POST", target: "/v1/echo", header: [][2]string{{"Authorization", "Basic YW5hOnB3"}},
			code: 401, challenge: challenge, message: "authorization metadata is not a bearer token"},
		{name: "echo with two Authorization headers", method: "POST", target: "/v1/echo", header: [][2]string{auth(tok.ana), auth(tok.ana)},
			code: 401, challenge: invalidChallenge, message: "malformed authorization metadata: more than one value"},
		{name: "echo with spoofed Grpc-Metadata-Authorization", method: "POST", target: "/v1/echo", header: [][2]string{{"Grpc-Metadata-Authorization", "Bearer " + tok.ana}},
			code: 401, challenge: challenge, message: "missing bearer token"},
		{name: "echo with spoofed Grpc-Metadata-Authorization and a bad token", method: "POST", target: "/v1/echo",
			header: [][2]string{{"Grpc-Metadata-Authorization", "Bearer " + tok.ana}, auth(tok.expired)},
			code:   401, challenge: invalidChallenge, message: "token expired"},
		{name: "echo with ?token= grants nothing", method: "POST", target: "/v1/echo?token=" + st,
			code: 401, challenge: challenge, message: "missing bearer token"},
		{name: "stream without token", method: "GET", target: "/v1/echo/stream?message=a+b",
			code: 401, challenge: challenge, message: "missing bearer token"},
		{name: "stream with expired token", method: "GET", target: "/v1/echo/stream?message=a+b", header: [][2]string{auth(tok.expired)},
			code: 401, challenge: invalidChallenge, message: "token expired"},
		{name: "stream with ?token= grants nothing", method: "GET", target: "/v1/echo/stream?message=a+b&token=" + st,
			code: 401, challenge: challenge, message: "missing bearer token"},
		{name: "stream with token", method: "GET", target: "/v1/echo/stream?message=a+b+c", header: [][2]string{auth(tok.ana)},
			code: 200, check: wantStream([]string{"a", "b", "c"}, "ana")},
		{name: "status with status token", method: "GET", target: "/status?token=" + st,
			code: 200, check: wantStatusOK},
		{name: "status with bearer token", method: "GET", target: "/status", header: [][2]string{auth(tok.ana)},
			code: 200, check: wantStatusOK},
		{name: "status with wrong ?token=", method: "GET", target: "/status?token=wrong",
			code: 401, challenge: challenge, message: "status token not accepted, and no bearer token"},
		{name: "status with wrong ?token= falls through to the bearer token", method: "GET", target: "/status?token=wrong",
			header: [][2]string{auth(tok.ana)}, code: 200, check: wantStatusOK},
		{name: "status with ?token= twice", method: "GET", target: "/status?token=" + st + "&token=" + st,
			code: 401, challenge: challenge, message: "status token not accepted, and no bearer token"},
		{name: "status without credentials", method: "GET", target: "/status",
			code: 401, challenge: challenge, message: "missing bearer token"},
		{name: "status with X-Status-Token header grants nothing", method: "GET", target: "/status",
			header: [][2]string{{"X-Status-Token", st}}, code: 401, challenge: challenge, message: "missing bearer token"},
		{name: "status with Grpc-Metadata-X-Status-Token header grants nothing", method: "GET", target: "/status",
			header: [][2]string{{"Grpc-Metadata-X-Status-Token", st}}, code: 401, challenge: challenge, message: "missing bearer token"},
		{name: "status with non-ASCII ?token=", method: "GET", target: "/status?token=caf%C3%A9",
			code: 401, challenge: challenge, message: "missing bearer token"},
		{name: "HEAD status with status token", method: "HEAD", target: "/status?token=" + st,
			code: 200, check: wantEmpty},
		{name: "HEAD status without credentials", method: "HEAD", target: "/status",
			code: 401, challenge: challenge, check: wantEmpty},
		// HEAD on a stream is decided as GET would be, then refused
		// without running the stream.
		{name: "HEAD stream without credentials", method: "HEAD", target: "/v1/echo/stream?message=a+b",
			code: 401, challenge: challenge, check: wantEmpty},
		{name: "HEAD stream with expired token", method: "HEAD", target: "/v1/echo/stream?message=a+b", header: [][2]string{auth(tok.expired)},
			code: 401, challenge: invalidChallenge, check: wantEmpty},
		{name: "HEAD stream with token", method: "HEAD", target: "/v1/echo/stream?message=a+b", header: [][2]string{auth(tok.ana)},
			code: 405, check: wantHeadRefused},
		// A query that is not UTF-8: the caller is authenticated first.
		{name: "stream with query not UTF-8, without credentials", method: "GET", target: "/v1/echo/stream?message=%ff",
			code: 401, challenge: challenge, message: "missing bearer token"},
		{name: "echo with query not UTF-8, expired token", method: "POST", target: "/v1/echo?x=%c3%28", header: [][2]string{auth(tok.expired)},
			code: 401, challenge: invalidChallenge, message: "token expired"},
		{name: "stream with query not UTF-8, with token", method: "GET", target: "/v1/echo/stream?message=%ff", header: [][2]string{auth(tok.ana)},
			code: 400, check: wantBadQuery},
		{name: "status with query not UTF-8, with status token", method: "GET", target: "/status?token=" + st + "&x=%ff",
			code: 400, check: wantBadQuery},
		{name: "openapi without credentials", method: "GET", target: "/openapi.json",
			code: 200, check: wantSwagger},
		{name: "unknown route", method: "GET", target: "/nope", header: [][2]string{auth(tok.ana)}, code: 404},
	}
}

func TestREST(t *testing.T) {
	t.Parallel()
	r := startDemo(t, testAuth, nil)
	for _, tc := range restCases(newTokens(t)) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := r.do(t, tc.method, tc.target, tc.header...)
			if res.code != tc.code {
				t.Fatalf("%s %s: %d, want %d; body %s", tc.method, tc.target, res.code, tc.code, res.body)
			}
			if got := res.header.Values("WWW-Authenticate"); tc.code == 401 && !reflect.DeepEqual(got, []string{tc.challenge}) {
				t.Errorf("WWW-Authenticate = %q, want [%s]", got, tc.challenge)
			} else if tc.code != 401 && len(got) != 0 {
				t.Errorf("WWW-Authenticate = %q on a %d", got, tc.code)
			}
			if tc.message != "" {
				wantError(t, res, codes.Unauthenticated, tc.message)
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

// wantError checks a JSON error body: grpc-gateway's google.rpc.Status, or
// on a streaming route {"error": google.rpc.Status} and a newline.
func wantError(t *testing.T, res httpResult, code codes.Code, msg string) {
	t.Helper()
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var body struct {
		Code    codes.Code `json:"code"`
		Message string     `json:"message"`
		Error   *struct {
			Code    codes.Code `json:"code"`
			Message string     `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(res.body, &body); err != nil {
		t.Fatalf("error body %q: %v", res.body, err)
	}
	if body.Error != nil {
		body.Code, body.Message = body.Error.Code, body.Error.Message
	}
	if body.Code != code || body.Message != msg {
		t.Errorf("error body %s: want code %d message %q", res.body, code, msg)
	}
}

func wantEcho(msg, user string) func(*testing.T, httpResult) {
	return func(t *testing.T, res httpResult) {
		t.Helper()
		var body struct{ Message, User string }
		if err := json.Unmarshal(res.body, &body); err != nil {
			t.Fatalf("body %q: %v", res.body, err)
		}
		if body.Message != msg || body.User != user {
			t.Errorf("echo %+v, want message %q user %q", body, msg, user)
		}
	}
}

func wantStream(words []string, user string) func(*testing.T, httpResult) {
	return func(t *testing.T, res httpResult) {
		t.Helper()
		if !bytes.HasSuffix(res.body, []byte("\n")) {
			t.Errorf("stream body %q does not end in a newline", res.body)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSuffix(string(res.body), "\n"), "\n") {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			if len(obj) != 1 || obj["result"] == nil {
				t.Fatalf("line %q: want exactly {\"result\": …}", line)
			}
			var r struct{ Message, User string }
			if err := json.Unmarshal(obj["result"], &r); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			if r.User != user {
				t.Errorf("line %q: user %q, want %q", line, r.User, user)
			}
			got = append(got, r.Message)
		}
		if !slices.Equal(got, words) {
			t.Errorf("stream messages %q, want %q", got, words)
		}
	}
}

func wantStatusOK(t *testing.T, res httpResult) {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(res.body, &body); err != nil {
		t.Fatalf("body %q: %v", res.body, err)
	}
	if body["status"] != "OK" || body["version"] == "" || body["version"] == nil {
		t.Errorf("status body %s", res.body)
	}
}

func wantEmpty(t *testing.T, res httpResult) {
	t.Helper()
	if len(res.body) != 0 {
		t.Errorf("body %q, want none", res.body)
	}
}

func wantHeadRefused(t *testing.T, res httpResult) {
	t.Helper()
	wantEmpty(t, res)
	if got := res.header.Get("Allow"); got != "GET" {
		t.Errorf("Allow = %q, want GET", got)
	}
}

func wantBadQuery(t *testing.T, res httpResult) {
	t.Helper()
	wantError(t, res, codes.InvalidArgument, "query is not valid UTF-8 once unescaped")
}

func wantSwagger(t *testing.T, res httpResult) {
	t.Helper()
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc struct {
		Swagger string                     `json:"swagger"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.Swagger != "2.0" {
		t.Errorf("swagger = %q, want 2.0", doc.Swagger)
	}
	for _, p := range []string{"/status", "/v1/echo", "/v1/echo/stream"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("openapi.json has no path %s", p)
		}
	}
}

// TestAuthOff checks the off switch: with no secret every call passes, on
// both sides, and no user reaches the handlers.
func TestAuthOff(t *testing.T) {
	t.Parallel()
	r := startDemo(t, interceptors.Config{}, nil)
	client := tokengatev1.NewEchoServiceClient(r.conn)
	for _, kind := range echoKinds {
		user, err := kind.Do(testCtx(t), client)
		if err != nil || user != "" {
			t.Errorf("gRPC %s without token: user %q, err %v; want no user, no error", kind.Name, user, err)
		}
	}
	if resp, err := tokengatev1.NewStatusServiceClient(r.conn).Status(testCtx(t), &tokengatev1.StatusRequest{}); err != nil || resp.GetStatus() != "OK" {
		t.Errorf("gRPC Status: %v, %v", resp, err)
	}
	if _, err := healthpb.NewHealthClient(r.conn).Check(testCtx(t), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health: %v", err)
	}
	if res := r.do(t, "POST", "/v1/echo"); res.code != 200 {
		t.Errorf("POST /v1/echo: %d %s", res.code, res.body)
	} else {
		wantEcho("hi", "")(t, res)
	}
	if res := r.do(t, "GET", "/v1/echo/stream?message=a+b"); res.code != 200 {
		t.Errorf("GET /v1/echo/stream: %d %s", res.code, res.body)
	} else {
		wantStream([]string{"a", "b"}, "")(t, res)
	}
	if res := r.do(t, "GET", "/status"); res.code != 200 {
		t.Errorf("GET /status: %d %s", res.code, res.body)
	}
	// A token is not even looked at.
	if res := r.do(t, "POST", "/v1/echo", auth("garbage")); res.code != 200 {
		t.Errorf("POST /v1/echo with a garbage token: %d %s", res.code, res.body)
	}
}

// takenAddr returns a loopback address something is listening on, for as
// long as the test runs.
func takenAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// freeAddr returns a loopback address nothing listens on (at the time).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestPortTaken(t *testing.T) {
	t.Parallel()
	discard := slog.New(slog.DiscardHandler)
	t.Run("http", func(t *testing.T) {
		t.Parallel()
		taken, grpcAddr := takenAddr(t), freeAddr(t)
		d, err := newDemo(options{grpcAddr: grpcAddr, httpAddr: taken, auth: testAuth}, discard)
		if err == nil {
			d.close()
			t.Fatal("newDemo succeeded on a taken HTTP port")
		}
		if !strings.Contains(err.Error(), taken) || !strings.Contains(err.Error(), "HTTP") {
			t.Errorf("error %q does not name the HTTP address %s", err, taken)
		}
		// The gRPC listener opened first was released.
		l, err := net.Listen("tcp", grpcAddr)
		if err != nil {
			t.Errorf("gRPC address still held after the failure: %v", err)
		} else {
			l.Close()
		}
	})
	t.Run("grpc", func(t *testing.T) {
		t.Parallel()
		taken := takenAddr(t)
		_, err := newDemo(options{grpcAddr: taken, httpAddr: "127.0.0.1:0", auth: testAuth}, discard)
		if err == nil || !strings.Contains(err.Error(), taken) || !strings.Contains(err.Error(), "gRPC") {
			t.Errorf("newDemo on a taken gRPC port: %v, want an error naming %s", err, taken)
		}
	})
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		taken := takenAddr(t)
		err := run(testCtx(t), []string{"-grpc-addr", "127.0.0.1:0", "-http-addr", taken}, []string{"TOKENS_SECRET=" + testSecret}, "", discard)
		if err == nil || !strings.Contains(err.Error(), taken) {
			t.Errorf("run on a taken port: %v, want an error naming %s", err, taken)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the demo's goroutines to write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogsHoldNoSecrets runs every REST and gRPC call of the tests above
// against a demo logging at debug level, and some malformed status URLs, and
// checks that the log shows neither the secret, nor the status token, nor
// any token used.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := startDemo(t, testAuth, logger)
	tok := newTokens(t)
	st := testStatusToken

	for _, tc := range restCases(tok) {
		r.do(t, tc.method, tc.target, tc.header...)
	}
	// Status tokens in URLs that url.Query cannot fully parse: still
	// redacted in the access log.
	for _, target := range []string{
		"/status?token=" + st + ";x=1",
		"/status?x=1;token=" + st,
		"/status?token=" + st + "%zz",
		"/status?token=" + st + "%",
		"/status?%zz&token=" + st,
		"/status?tok%65n=" + st,
		"/status?token=" + st + "&token=" + st,
		"/v1/echo/stream?message=hi&token=" + st,
	} {
		r.do(t, "GET", target)
	}
	r.do(t, "HEAD", "/status?token="+st)

	md := [][]string{nil, {"x-status-token", st}, {"x-status-token", "wrong"}}
	for _, k := range tok.all() {
		md = append(md, bearer(k))
	}
	echo := tokengatev1.NewEchoServiceClient(r.conn)
	for _, m := range md {
		for _, kind := range echoKinds {
			_, _ = kind.Do(withMD(testCtx(t), m...), echo)
		}
		_, _ = tokengatev1.NewStatusServiceClient(r.conn).Status(withMD(testCtx(t), m...), &tokengatev1.StatusRequest{})
		_, _ = healthpb.NewHealthClient(r.conn).Check(withMD(testCtx(t), m...), &healthpb.HealthCheckRequest{})
		_, _ = listServices(withMD(testCtx(t), m...), r.conn)
	}
	r.stop()

	out := logs.String()
	secrets := map[string]string{"secret": testSecret, "status token": st}
	for i, k := range tok.all() {
		secrets[fmt.Sprintf("token %d", i)] = k
		// The signature alone is as good as a leak.
		secrets[fmt.Sprintf("token %d signature", i)] = k[strings.LastIndexByte(k, '.')+1:]
	}
	for name, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log shows the %s", name)
		}
	}
	// The test saw what it meant to: access log lines, with the token
	// redacted, and the shutdown.
	for _, want := range []string{"tokengate-demo listening", "level=DEBUG", "http request", "REDACTED", "/openapi.json", "shutting down"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log has no %q", want)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", out)
	}
}

// builtDir holds the demo binary built for the subprocess tests; TestMain
// removes it.
var (
	buildOnce sync.Once
	builtDir  string
	builtBin  string
	buildErr  error
)

// buildDemo builds the demo once for the whole test binary.
func buildDemo(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the demo binary")
	}
	buildOnce.Do(func() {
		// go test puts its own $GOROOT/bin first on PATH.
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		if builtDir, buildErr = os.MkdirTemp("", "tokengate-demo-test-"); buildErr != nil {
			return
		}
		builtBin = filepath.Join(builtDir, "tokengate-demo")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goTool, "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// process is the built demo running in a subprocess.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's answer, once done
}

// demoProcess starts the built demo with args and the test's auth settings
// in a minimal environment, and kills it if the test ends first.
func demoProcess(t *testing.T, args ...string) *process {
	t.Helper()
	return demoProcessIn(t, t.TempDir(), []string{"TOKENS_SECRET=" + testSecret, "STATUS_TOKEN=" + testStatusToken}, args...)
}

// demoProcessIn starts the built demo in dir (where it looks for .env) with
// only env as its environment.
func demoProcessIn(t *testing.T, dir string, env []string, args ...string) *process {
	t.Helper()
	bin := buildDemo(t)
	p := &process{stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Dir = dir
	p.cmd.Stdout = io.Discard
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exitCode waits up to within for the process to exit and returns its exit
// code.
func (p *process) exitCode(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("the demo did not exit within %v; stderr:\n%s", within, p.stderr)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", p.err)
	return -1
}

var httpAddrRE = regexp.MustCompile(`msg="tokengate-demo listening".* http=(127\.0\.0\.1:\d+)`)

func TestProcessSIGTERM(t *testing.T) {
	t.Parallel()
	p := demoProcess(t, "-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0")
	stderr := p.stderr

	var httpAddr string
	deadline := time.Now().Add(10 * time.Second)
	for httpAddr == "" {
		if m := httpAddrRE.FindStringSubmatch(stderr.String()); m != nil {
			httpAddr = m[1]
			break
		}
		select {
		case <-p.done:
			t.Fatalf("the demo exited before listening: %v; stderr:\n%s", p.err, stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line within 10s; stderr:\n%s", stderr)
		}
	}

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + httpAddr + "/status?token=" + testStatusToken)
	if err != nil {
		t.Fatalf("GET /status: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"OK"`)) {
		t.Fatalf("GET /status: %d %s", resp.StatusCode, body)
	}
	tr.CloseIdleConnections()

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0; stderr:\n%s", code, stderr)
	}
	if out := stderr.String(); !strings.Contains(out, "shutting down") || strings.Contains(out, testStatusToken) || strings.Contains(out, testSecret) {
		t.Errorf("stderr:\n%s", out)
	}
}

func TestProcessPortTaken(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"-http-addr", "-grpc-addr"} {
		t.Run(flag, func(t *testing.T) {
			t.Parallel()
			taken := takenAddr(t)
			args := []string{"-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0", flag, taken}
			p := demoProcess(t, args...)
			if code := p.exitCode(t, 10*time.Second); code == 0 {
				t.Fatalf("exit code 0 on a taken port; stderr:\n%s", p.stderr)
			}
			out := p.stderr.String()
			for _, want := range []string{taken, "address already in use", "is another server running?", strings.TrimPrefix(flag, "-")} {
				if !strings.Contains(out, want) {
					t.Errorf("stderr does not say %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestSlowClientsAreCut checks the REST server's timeouts: a client that
// sends its request a byte at a time, or keeps an idle connection open, is
// disconnected instead of holding a connection and a goroutine for as long
// as it likes. The timeouts are a second or two here; each connection gives
// up after 10 s (dialRaw), which fails the test.
func TestSlowClientsAreCut(t *testing.T) {
	t.Parallel()
	r := startDemoWith(t, options{
		auth:              testAuth,
		readHeaderTimeout: time.Second,
		readTimeout:       2 * time.Second,
		idleTimeout:       time.Second,
	}, nil)
	const body = `{"message":"hi"}`
	cases := []struct {
		name      string
		sent      string // at once
		dripped   string // a byte a second, after sent
		readFirst bool   // read one whole response before waiting
	}{
		{name: "headers a byte a second",
			dripped: "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + newTokens(t).ana + "\r\n\r\n"},
		{name: "body a byte a second",
			sent: "POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
				fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)),
			dripped: body},
		{name: "idle after one request",
			sent:      "GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
			readFirst: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn := dialRaw(t, r.d.httpAddr)
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.sent); err != nil {
				t.Fatalf("write: %v", err)
			}
			br := bufio.NewReader(conn)
			if tc.readFirst {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("first response: %v", err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Close {
					t.Fatalf("first response: %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
				}
			}
			var dripped atomic.Int64
			stop := make(chan struct{})
			dripDone := make(chan struct{})
			go func() {
				defer close(dripDone)
				for i := 0; i < len(tc.dripped); i++ {
					select {
					case <-stop:
						return
					case <-time.After(time.Second):
					}
					if _, err := conn.Write([]byte{tc.dripped[i]}); err != nil {
						return
					}
					dripped.Add(1)
				}
			}()
			// The server may answer before it hangs up (a slow body is an
			// error of the request); anything but EOF, or a reset after the
			// answer, means it never hung up.
			rest, err := io.ReadAll(br)
			close(stop)
			<-dripDone
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("connection not closed by the server: %v (read %q)", err, rest)
			}
			if n := dripped.Load(); tc.dripped != "" && n >= int64(len(tc.dripped)) {
				t.Errorf("the whole request was sent (%d bytes) before the server hung up", n)
			}
			if len(rest) > 0 {
				resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(rest)), nil)
				if err != nil {
					t.Fatalf("answer before hanging up %q: %v", rest, err)
				}
				if resp.StatusCode < 400 || resp.StatusCode >= 500 {
					t.Errorf("answer before hanging up: %d, want a 4xx; %q", resp.StatusCode, rest)
				}
				resp.Body.Close()
			}
		})
	}
}

// TestDecisionLogNamesTheCaller checks the address in denial records: a
// REST caller's own (not the gateway's in-process connection, and not an
// X-Forwarded-For it sent), and a gRPC caller's connection, whatever
// x-forwarded-for metadata it sends.
//
// The gateway refuses a REST caller without valid credentials itself,
// before the call (gateway.WithPrecheck), naming the caller's connection; a
// call that does come through the gateway's in-process connection, with the
// x-forwarded-for grpc-gateway adds, is named by its last entry, with the
// gateway as via.
func TestDecisionLogNamesTheCaller(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	r := startDemo(t, testAuth, slog.New(slog.NewJSONHandler(&logs, nil)))

	if res := r.do(t, "GET", "/status", [2]string{"X-Forwarded-For", "203.0.113.9"}); res.code != 401 {
		t.Fatalf("GET /status: %d", res.code)
	}
	if res := r.do(t, "HEAD", "/v1/echo/stream?message=a", [2]string{"X-Forwarded-For", "203.0.113.9"}); res.code != 401 {
		t.Fatalf("HEAD /v1/echo/stream: %d", res.code)
	}
	_, err := tokengatev1.NewEchoServiceClient(r.conn).UnaryEcho(withMD(testCtx(t), "x-forwarded-for", "203.0.113.7"), &tokengatev1.EchoRequest{})
	wantCode(t, err, codes.Unauthenticated)

	// A call on the gateway's own connection, as grpc-gateway makes it for a
	// REST caller at 127.0.0.1 who sent X-Forwarded-For: 203.0.113.9.
	inproc, err := grpc.NewClient("passthrough:///in-process",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return r.d.inproc.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = healthpb.NewHealthClient(inproc).Check(withMD(testCtx(t), "x-forwarded-for", "203.0.113.9, 127.0.0.1"), &healthpb.HealthCheckRequest{})
	inproc.Close()
	wantCode(t, err, codes.Unauthenticated)
	r.stop()

	denials := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] != "tokengate: call denied" {
			continue
		}
		m, _ := rec["method"].(string)
		if denials[m] != nil {
			t.Errorf("two denials of %s: %v and %v", m, denials[m], rec)
		}
		denials[m] = rec
	}
	loopbackPort := regexp.MustCompile(`^127\.0\.0\.1:[0-9]+$`)
	cases := []struct {
		name, method string
		peer         func(string) bool
		via          string
	}{
		{"through the gateway's connection: the caller's address, the gateway as via", "/grpc.health.v1.Health/Check",
			func(p string) bool { return p == "127.0.0.1" }, "pipe"},
		{"REST refused by the gateway before the call (GET /status): the caller's connection", "/tokengate.v1.StatusService/Status",
			loopbackPort.MatchString, ""},
		{"REST decided without a call (HEAD on a stream): the caller's connection", "/tokengate.v1.EchoService/ServerStreamingEcho",
			loopbackPort.MatchString, ""},
		{"gRPC caller sending x-forwarded-for: its own connection", "/tokengate.v1.EchoService/UnaryEcho",
			loopbackPort.MatchString, ""},
	}
	for _, tc := range cases {
		rec := denials[tc.method]
		if rec == nil {
			t.Errorf("%s: no denial logged for %s", tc.name, tc.method)
			continue
		}
		if p, _ := rec["peer"].(string); !tc.peer(p) {
			t.Errorf("%s: peer = %v", tc.name, rec["peer"])
		}
		if via, _ := rec["via"].(string); via != tc.via {
			t.Errorf("%s: via = %v, want %q", tc.name, rec["via"], tc.via)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs.String())
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestRESTRefusesBeforeTheBody checks issue 15 on the demo: a REST request
// the server would refuse for its credentials is answered as the server
// would answer it (401, the challenge, the JSON status) without its body
// being read, and a body over grpc-go's receive limit gets 413; a caller
// let in is served as before.
func TestRESTRefusesBeforeTheBody(t *testing.T) {
	t.Parallel()
	r := startDemo(t, testAuth, nil)
	tok := newTokens(t)
	oneMiB := `{"message":"` + strings.Repeat("a", 1<<20-len(`{"message":""}`)) + `"}`
	cases := []struct {
		name      string
		body      string
		header    [][2]string
		code      int
		challenge string
		grpcCode  codes.Code
		message   string
	}{
		{"1 MiB without a token", oneMiB, nil, 401, challenge, codes.Unauthenticated, "missing bearer token"},
		{"1 MiB with an expired token", oneMiB, [][2]string{auth(tok.expired)}, 401, invalidChallenge, codes.Unauthenticated, "token expired"},
		{"1 MiB with a forged token", oneMiB, [][2]string{auth(tok.wrongSecret)}, 401, invalidChallenge, codes.Unauthenticated, "invalid token: signature does not match"},
		{"1 MiB for a user not allowed", oneMiB, [][2]string{auth(tok.bob)}, 401, invalidChallenge, codes.Unauthenticated, "user not allowed"},
		{"5 MiB with a token", strings.Repeat("a", 5<<20), [][2]string{auth(tok.ana)}, 413, "", codes.ResourceExhausted, "request body larger than 4194304 bytes"},
		{"1 MiB with a token", oneMiB, [][2]string{auth(tok.ana)}, 200, "", codes.OK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			check := func(t *testing.T, res httpResult) {
				t.Helper()
				if res.code != tc.code {
					t.Fatalf("status %d, want %d; body %.200s", res.code, tc.code, res.body)
				}
				if got := res.header.Values("WWW-Authenticate"); tc.challenge != "" && !reflect.DeepEqual(got, []string{tc.challenge}) {
					t.Errorf("WWW-Authenticate = %q, want [%s]", got, tc.challenge)
				}
				if tc.code == 200 {
					var echo struct{ Message, User string }
					if err := json.Unmarshal(res.body, &echo); err != nil || len(echo.Message) != len(oneMiB)-len(`{"message":""}`) || echo.User != "ana" {
						t.Errorf("echo of %d bytes for %q, err %v", len(echo.Message), echo.User, err)
					}
					return
				}
				wantError(t, res, tc.grpcCode, tc.message)
			}

			// Over the network.
			req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, r.base+"/v1/echo", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			for _, h := range tc.header {
				req.Header.Add(h[0], h[1])
			}
			resp, err := r.http.Do(req)
			if err != nil {
				t.Fatalf("POST /v1/echo: %v", err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			check(t, httpResult{code: resp.StatusCode, header: resp.Header, body: b})

			// Through the demo's HTTP handler in process, counting what is
			// read of the body.
			body := &countingReader{r: strings.NewReader(tc.body)}
			ireq := httptest.NewRequestWithContext(testCtx(t), http.MethodPost, "/v1/echo", body)
			ireq.Header = req.Header.Clone()
			ireq.ContentLength = int64(len(tc.body))
			rec := httptest.NewRecorder()
			r.d.httpSrv.Handler.ServeHTTP(rec, ireq)
			check(t, httpResult{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()})
			switch read := body.read.Load(); {
			case tc.code == 200 && read != int64(len(tc.body)):
				t.Errorf("%d bytes of the body read, want all %d", read, len(tc.body))
			case tc.code != 200 && read != 0:
				t.Errorf("%d bytes of the body read, want none", read)
			}
		})
	}
}
