package interceptors_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/internal/demoservice"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
	"github.com/tokengate/tokengate/wire"
)

const (
	secret         = "0123456789abcdef0123456789abcdef-current"
	previousSecret = "0123456789abcdef0123456789abcdef-previous"
	statusToken    = "status-token-for-monitors"
)

// testServer runs the demo services behind an Authenticator on an in-memory
// listener and returns a connection to it. Everything stops with the test.
func testServer(t *testing.T, cfg interceptors.Config, opts ...interceptors.Option) *grpc.ClientConn {
	t.Helper()
	return testServerWired(t, false, cfg, opts...)
}

// wirings are the two ways to install an Authenticator: its interceptors
// alone, and with its TapHandle in front. Every decision must be the same.
var wirings = []struct {
	name string
	tap  bool
}{{"interceptors", false}, {"tap", true}}

// testServerWired is testServer with the tap installed or not.
func testServerWired(t *testing.T, withTap bool, cfg interceptors.Config, opts ...interceptors.Option) *grpc.ClientConn {
	t.Helper()
	a, err := interceptors.New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srvOpts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
	}
	if withTap {
		srvOpts = append(srvOpts, grpc.InTapHandle(a.TapHandle))
	}
	srv := grpc.NewServer(srvOpts...)
	tokengatev1.RegisterStatusServiceServer(srv, &demoservice.Status{Version: "test"})
	tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})
	healthpb.RegisterHealthServer(srv, health.NewServer())

	conn := serveInMemory(t, srv)
	return conn
}

// serveInMemory serves srv on an in-memory listener and returns a
// connection to it; both stop with the test.
func serveInMemory(t *testing.T, srv *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return conn
}

func mustSign(t testing.TB, key, user string, exp time.Time) string {
	t.Helper()
	tok, err := token.Sign([]byte(key), token.Claims{User: user, ExpiresAt: exp})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

// callKinds makes one call of each kind of EchoService.
var callKinds = demoservice.Calls

func withMD(kv ...string) context.Context {
	return metadata.NewOutgoingContext(context.Background(), metadata.Pairs(kv...))
}

// assertCode checks err's gRPC code and, for denials, that its message
// contains want and no credential.
func assertCode(t *testing.T, err error, code codes.Code, want string, secrets ...string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), code)
	}
	if want != "" && !strings.Contains(st.Message(), want) {
		t.Errorf("message = %q, want it to contain %q", st.Message(), want)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(st.Message(), s) {
			t.Errorf("message %q leaks a credential", st.Message())
		}
	}
}

func TestDecisionTable(t *testing.T) {
	t.Parallel()
	future := time.Now().Add(time.Hour)
	valid := mustSign(t, secret, "ana", future)
	previous := mustSign(t, previousSecret, "ana", future)
	expired := mustSign(t, secret, "ana", time.Now().Add(-time.Hour))
	stranger := mustSign(t, secret, "mallory", future)
	unknownKey := mustSign(t, "another-secret-another-secret-xx", "ana", future)

	cfg := interceptors.Config{
		Secret:         secret,
		PreviousSecret: previousSecret,
		Users:          []string{"ana", "bob"},
		StatusToken:    statusToken,
	}

	tests := []struct {
		name     string
		md       []string
		code     codes.Code
		wantMsg  string
		wantUser string
	}{
		{"valid token", []string{"authorization", "Bearer " + valid}, codes.OK, "", "ana"},
		{"scheme is case-insensitive", []string{"authorization", "bEaReR " + valid}, codes.OK, "", "ana"},
		{"previous secret during rotation", []string{"authorization", "Bearer " + previous}, codes.OK, "", "ana"},
		{"no metadata", nil, codes.Unauthenticated, "missing bearer token", ""},
		{"blank authorization", []string{"authorization", ""}, codes.Unauthenticated, "missing bearer token", ""},
		{"bearer without token", []string{"authorization", "Bearer "}, codes.Unauthenticated, "missing bearer token", ""},
		{"bearer word alone", []string{"authorization", "Bearer"}, codes.Unauthenticated, "missing bearer token", ""},
		{"bearer and spaces", []string{"authorization", "Bearer   "}, codes.Unauthenticated, "missing bearer token", ""},
		{"basic scheme", []string{"authorization", "Basic YW5hOnB3"}, codes.Unauthenticated, "not a bearer token", ""},
		{"token without scheme", []string{"authorization", valid}, codes.Unauthenticated, "not a bearer token", ""},
		{"two authorization values", []string{"authorization", "Bearer " + valid, "authorization", "Bearer " + valid}, codes.Unauthenticated, "more than one value", ""},
		{"expired", []string{"authorization", "Bearer " + expired}, codes.Unauthenticated, "token expired", ""},
		{"unknown secret", []string{"authorization", "Bearer " + unknownKey}, codes.Unauthenticated, "invalid token", ""},
		{"garbage", []string{"authorization", "Bearer not.a.token"}, codes.Unauthenticated, "invalid token", ""},
		{"user not in TOKENS_USERS", []string{"authorization", "Bearer " + stranger}, codes.Unauthenticated, "user not allowed", ""},
		{"status token grants nothing off status methods", []string{"x-status-token", statusToken}, codes.Unauthenticated, "status token not accepted, and no bearer token", ""},
		{"status token is not a bearer token", []string{"authorization", "Bearer " + statusToken}, codes.Unauthenticated, "invalid token", ""},
	}
	for _, w := range wirings {
		echo := tokengatev1.NewEchoServiceClient(testServerWired(t, w.tap, cfg))
		for _, tc := range tests {
			for _, kind := range callKinds {
				t.Run(w.name+"/"+tc.name+"/"+kind.Name, func(t *testing.T) {
					t.Parallel()
					user, err := kind.Do(withMD(tc.md...), echo)
					assertCode(t, err, tc.code, tc.wantMsg, valid, secret, statusToken)
					if tc.code == codes.OK && user != tc.wantUser {
						t.Errorf("handler saw user %q, want %q", user, tc.wantUser)
					}
				})
			}
		}
	}
}

func TestStatusMethods(t *testing.T) {
	t.Parallel()
	valid := mustSign(t, secret, "ana", time.Now().Add(time.Hour))

	tests := []struct {
		name string
		md   []string
		code codes.Code
	}{
		{"status token", []string{"x-status-token", statusToken}, codes.OK},
		{"bearer token also works", []string{"authorization", "Bearer " + valid}, codes.OK},
		{"wrong status token falls through to the bearer check", []string{"x-status-token", "nope"}, codes.Unauthenticated},
		{"wrong status token with a valid bearer", []string{"x-status-token", "nope", "authorization", "Bearer " + valid}, codes.OK},
		{"status token prefix", []string{"x-status-token", statusToken[:5]}, codes.Unauthenticated},
		{"two status tokens", []string{"x-status-token", statusToken, "x-status-token", statusToken}, codes.Unauthenticated},
		{"status token in authorization", []string{"authorization", "Bearer " + statusToken}, codes.Unauthenticated},
		{"nothing", nil, codes.Unauthenticated},
	}
	for _, w := range wirings {
		conn := testServerWired(t, w.tap, interceptors.Config{Secret: secret, StatusToken: statusToken})
		st := tokengatev1.NewStatusServiceClient(conn)
		hc := healthpb.NewHealthClient(conn)
		for _, tc := range tests {
			t.Run(w.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				_, err := st.Status(withMD(tc.md...), &tokengatev1.StatusRequest{})
				assertCode(t, err, tc.code, "", statusToken)
				_, err = hc.Check(withMD(tc.md...), &healthpb.HealthCheckRequest{})
				assertCode(t, err, tc.code, "", statusToken)
			})
		}
	}
}

func TestEmptyStatusTokenGrantsNothing(t *testing.T) {
	t.Parallel()
	conn := testServer(t, interceptors.Config{Secret: secret, StatusToken: ""})
	_, err := tokengatev1.NewStatusServiceClient(conn).Status(withMD("x-status-token", ""), &tokengatev1.StatusRequest{})
	assertCode(t, err, codes.Unauthenticated, "status token not accepted, and no bearer token")
}

// A status token that does not let a call in, with no bearer token, is
// reported as such, not as a call that sent nothing: the monitor with a
// wrong status token is told so, in its answer and in the decision, which
// is still token.ErrMissing for errors.Is. The same answer off the status
// methods, so that it does not tell which methods are status methods; with
// no status token sent, the denial is the plain missing token.
func TestStatusTokenNotAccepted(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []interceptors.Decision
	hook := interceptors.WithDecisionHook(func(_ context.Context, d interceptors.Decision) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, d)
	})
	a, err := interceptors.New(interceptors.Config{Secret: secret, StatusToken: statusToken}, hook)
	if err != nil {
		t.Fatal(err)
	}
	const status, echo = "/grpc.health.v1.Health/Check", "/tokengate.v1.EchoService/UnaryEcho"
	for _, tc := range []struct {
		name, method string
		creds        wire.Credentials
		reason       interceptors.Reason
		msg          string
	}{
		{"wrong status token", status, wire.Credentials{StatusToken: []string{"nope"}}, interceptors.ReasonStatusTokenNotAccepted, "status token not accepted, and no bearer token"},
		{"status token twice", status, wire.Credentials{StatusToken: []string{statusToken, statusToken}}, interceptors.ReasonStatusTokenNotAccepted, "status token not accepted, and no bearer token"},
		{"nothing", status, wire.Credentials{}, interceptors.ReasonMissingToken, "missing bearer token"},
		{"status token off the status methods", echo, wire.Credentials{StatusToken: []string{statusToken}}, interceptors.ReasonStatusTokenNotAccepted, "status token not accepted, and no bearer token"},
		{"wrong status token, forged bearer", status, wire.Credentials{StatusToken: []string{"nope"}, Authorization: []string{"Bearer x.y.z"}}, interceptors.ReasonInvalidToken, "invalid token: malformed"},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		assertCode(t, a.Precheck(context.Background(), tc.method, tc.creds), codes.Unauthenticated, tc.msg, statusToken)
		mu.Lock()
		if len(got) != 1 || got[0].Reason != tc.reason {
			t.Errorf("%s: decisions %+v, want one with reason %s", tc.name, got, tc.reason)
		} else if tc.reason == interceptors.ReasonStatusTokenNotAccepted && !errors.Is(got[0].Err, token.ErrMissing) {
			t.Errorf("%s: Err %v is not token.ErrMissing", tc.name, got[0].Err)
		}
		mu.Unlock()
	}
	// The same through the server, with and without the tap.
	for _, w := range []struct {
		name string
		tap  bool
	}{{"interceptors", false}, {"tap", true}} {
		conn := testServerWired(t, w.tap, interceptors.Config{Secret: secret, StatusToken: statusToken})
		_, err := healthpb.NewHealthClient(conn).Check(withMD("x-status-token", "nope"), &healthpb.HealthCheckRequest{})
		assertCode(t, err, codes.Unauthenticated, "status token not accepted, and no bearer token", statusToken)
	}
}

func TestStatusTokenUsedIsVisibleToHandler(t *testing.T) {
	t.Parallel()
	a, err := interceptors.New(interceptors.Config{Secret: secret, StatusToken: statusToken})
	if err != nil {
		t.Fatal(err)
	}
	var sawStatus bool
	var sawUser bool
	srv := grpc.NewServer(grpc.UnaryInterceptor(a.UnaryServerInterceptor()))
	tokengatev1.RegisterStatusServiceServer(srv, &statusFunc{f: func(ctx context.Context) {
		sawStatus = interceptors.StatusTokenFromContext(ctx)
		_, sawUser = interceptors.UserFromContext(ctx)
	}})
	lis := bufconn.Listen(1 << 16)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := tokengatev1.NewStatusServiceClient(conn).Status(withMD("x-status-token", statusToken), &tokengatev1.StatusRequest{}); err != nil {
		t.Fatal(err)
	}
	if !sawStatus || sawUser {
		t.Errorf("StatusTokenFromContext = %v, UserFromContext ok = %v; want true, false", sawStatus, sawUser)
	}
}

type statusFunc struct {
	tokengatev1.UnimplementedStatusServiceServer
	f func(ctx context.Context)
}

func (s *statusFunc) Status(ctx context.Context, _ *tokengatev1.StatusRequest) (*tokengatev1.StatusResponse, error) {
	s.f(ctx)
	return &tokengatev1.StatusResponse{Status: "OK"}, nil
}

func TestPublicMethods(t *testing.T) {
	t.Parallel()
	for _, w := range wirings {
		conn := testServerWired(t, w.tap, interceptors.Config{
			Secret:        secret,
			PublicMethods: []string{"/tokengate.v1.EchoService/UnaryEcho", "/grpc.health.v1.Health/"},
		})
		echo := tokengatev1.NewEchoServiceClient(conn)
		if _, err := echo.UnaryEcho(context.Background(), &tokengatev1.EchoRequest{}); err != nil {
			t.Errorf("%s: public unary method: %v", w.name, err)
		}
		if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Errorf("%s: public service: %v", w.name, err)
		}
		for _, kind := range callKinds[1:] {
			_, err := kind.Do(context.Background(), echo)
			assertCode(t, err, codes.Unauthenticated, "missing bearer token")
		}
	}
}

func TestAuthDisabledWhenSecretEmpty(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	conn := testServer(t, interceptors.Config{}, interceptors.WithLogger(logger))
	if n := strings.Count(logs.String(), "authentication is disabled"); n != 1 {
		t.Errorf("want exactly one 'authentication is disabled' warning, got %d in %q", n, logs.String())
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warning not at WARN level: %q", logs.String())
	}
	echo := tokengatev1.NewEchoServiceClient(conn)
	for _, kind := range callKinds {
		user, err := kind.Do(context.Background(), echo)
		if err != nil || user != "" {
			t.Errorf("%s: err = %v, user = %q; want the call through with no user", kind.Name, err, user)
		}
	}
}

func TestShortSecretWarns(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	_, err := interceptors.New(interceptors.Config{Secret: "short"}, interceptors.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "shorter than 32 bytes") || strings.Contains(logs.String(), "short\"") {
		t.Errorf("logs = %q: want a warning about the length and never the secret", logs.String())
	}
}

// A secret Brevia would read as JSON before verifying (python-jose) gets a
// warning: tokens signed with it would not work there. A hex one does not.
func TestJSONSecretWarns(t *testing.T) {
	t.Parallel()
	for secret, warns := range map[string]bool{`"0123456789abcdef0123456789abcdef"`: true, "0123456789abcdef0123456789abcdef": false} {
		var logs bytes.Buffer
		if _, err := interceptors.New(interceptors.Config{Secret: secret}, interceptors.WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), "would refuse every token") != warns || strings.Contains(logs.String(), "0123456789abcdef") {
			t.Errorf("secret %s: logs = %q; want a JSON warning: %v, and never the secret", secret[:3], logs.String(), warns)
		}
	}
}

// With a grpc.UnknownServiceHandler (a proxy), any name reaches the
// interceptors. grpc-go splits a name at its last "/" to route it, so
// "/grpc.health.v1.Health/x/Check" is a method of the service
// "grpc.health.v1.Health/x": neither a status method nor part of a public
// service. Split at the first "/", as before, it was both. Such a name is
// not canonical, and is now refused before any credential is looked at.
func TestMethodNamesSplitWhereGRPCSplitsThem(t *testing.T) {
	t.Parallel()
	a, err := interceptors.New(interceptors.Config{
		Secret:        secret,
		StatusToken:   statusToken,
		PublicMethods: []string{"/tokengate.v1.EchoService/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error { return nil }), // a proxy that says OK
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()))
	conn := serveInMemory(t, srv)
	call := func(ctx context.Context, method string) error {
		s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
		if err != nil {
			return err
		}
		if err := s.RecvMsg(&healthpb.HealthCheckResponse{}); err != io.EOF {
			return err
		}
		return nil
	}
	withStatusToken := withMD("x-status-token", statusToken)
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		method string
		code   codes.Code
	}{
		{"status token on a status method", withStatusToken, "/grpc.health.v1.Health/Check", codes.OK},
		{"status token on a deeper path", withStatusToken, "/grpc.health.v1.Health/x/Check", codes.Unimplemented},
		{"public service", context.Background(), "/tokengate.v1.EchoService/Anything", codes.OK},
		{"deeper path under a public service", context.Background(), "/tokengate.v1.EchoService/x/Anything", codes.Unimplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertCode(t, call(tc.ctx, tc.method), tc.code, "")
		})
	}
}

// New refuses settings that cannot be meant, auth on or off: a leeway
// outside [0, token.MaxLeeway] (a negative one used to shorten the stream
// deadline but not the verifier's; a huge one turned expiry off), and an
// allow-list that names nobody (which used to mean "any user").
func TestNewRefusesUnboundedOrEmptySettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  interceptors.Config
		want error
	}{
		{"negative leeway", interceptors.Config{Secret: secret, Leeway: -time.Second}, token.ErrLeeway},
		{"leeway over the maximum", interceptors.Config{Secret: secret, Leeway: token.MaxLeeway + time.Nanosecond}, token.ErrLeeway},
		{"negative leeway with auth off", interceptors.Config{Leeway: -time.Second}, token.ErrLeeway},
		{"allow-list of one blank name", interceptors.Config{Secret: secret, Users: []string{""}}, interceptors.ErrNoUsers},
		{"allow-list of blanks", interceptors.Config{Secret: secret, Users: []string{" ", "\t"}}, interceptors.ErrNoUsers},
		// A secret file holding a blank line ("\n\n" less its last "\n"),
		// TOKENS_SECRET=" ": Brevia would use the blank as its key.
		{"a blank secret", interceptors.Config{Secret: "\n"}, interceptors.ErrBlankSecret},
		{"a secret of spaces", interceptors.Config{Secret: "  "}, interceptors.ErrBlankSecret},
		{"a blank previous secret", interceptors.Config{Secret: secret, PreviousSecret: "\t"}, interceptors.ErrBlankSecret},
		// A status token anyone can guess (STATUS_TOKEN=" ", a file holding
		// a blank line) would open the status methods to anyone.
		{"a blank status token", interceptors.Config{Secret: secret, StatusToken: " "}, interceptors.ErrBlankSecret},
		{"a status token of a blank line", interceptors.Config{Secret: secret, StatusToken: "\n"}, interceptors.ErrBlankSecret},
		{"a short secret (a warning)", interceptors.Config{Secret: "x"}, nil},
		{"maximum leeway", interceptors.Config{Secret: secret, Leeway: token.MaxLeeway}, nil},
		{"no allow-list", interceptors.Config{Secret: secret, Users: []string{}}, nil},
		{"a blank among names", interceptors.Config{Secret: secret, Users: []string{"", "ana"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := interceptors.New(tc.cfg, interceptors.WithLogger(slog.New(slog.DiscardHandler)))
			if !errors.Is(err, tc.want) || (err == nil) != (a != nil) {
				t.Fatalf("New = %v, %v; want error %v", a, err, tc.want)
			}
		})
	}
}

// Precheck gives the interceptors' verdict without letting anything in:
// denials are reported once (the call goes no further), allowed calls not
// at all (the interceptors will report them).
func TestPrecheck(t *testing.T) {
	t.Parallel()
	type report struct {
		d    interceptors.Decision
		md   metadata.MD
		peer net.Addr
	}
	var reported []report
	hook := func(ctx context.Context, d interceptors.Decision) {
		r := report{d: d}
		r.md, _ = metadata.FromIncomingContext(ctx)
		if p, ok := peer.FromContext(ctx); ok {
			r.peer = p.Addr
		}
		reported = append(reported, r)
	}
	a, err := interceptors.New(interceptors.Config{Secret: secret, Users: []string{"ana"}, PublicMethods: []string{"/x.Public/"}, StatusToken: "st"},
		interceptors.WithDecisionHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(v ...string) wire.Credentials {
		return wire.Credentials{Authorization: v, RemoteAddr: "192.0.2.1:1234"}
	}
	ana := "Bearer " + mustSign(t, secret, "ana", time.Now().Add(time.Hour))
	bob := "Bearer " + mustSign(t, secret, "bob", time.Now().Add(time.Hour))
	const method = "/tokengate.v1.EchoService/UnaryEcho"
	ctx := context.Background()
	if err := a.Precheck(ctx, method, bearer(ana)); err != nil {
		t.Errorf("valid token: %v", err)
	}
	if err := a.Precheck(ctx, "/x.Public/Anything", bearer()); err != nil {
		t.Errorf("public method: %v", err)
	}
	if err := a.Precheck(ctx, "/grpc.health.v1.Health/Check", wire.Credentials{StatusToken: []string{"st"}}); err != nil {
		t.Errorf("status token on a status method: %v", err)
	}
	assertCode(t, a.Precheck(ctx, method, wire.Credentials{StatusToken: []string{"st"}}), codes.Unauthenticated, "status token not accepted, and no bearer token")
	assertCode(t, a.Precheck(ctx, method, bearer(bob)), codes.Unauthenticated, "user not allowed")
	assertCode(t, a.Precheck(ctx, method, bearer()), codes.Unauthenticated, "missing bearer token")
	assertCode(t, a.Precheck(ctx, method, bearer(ana, ana)), codes.Unauthenticated, "more than one value")
	if len(reported) != 4 || reported[0].d.Reason != interceptors.ReasonStatusTokenNotAccepted || reported[1].d.Reason != interceptors.ReasonUserNotAllowed ||
		reported[2].d.Reason != interceptors.ReasonMissingToken || reported[3].d.Reason != interceptors.ReasonMalformedMetadata ||
		reported[1].d.FullMethod != method {
		t.Fatalf("reported %+v, want the four denials only", reported)
	}
	// A denial's report sees the call as the server would: the credentials
	// as metadata, the caller as the peer.
	if got := reported[1]; !reflect.DeepEqual(got.md, metadata.MD{"authorization": {bob}}) || got.peer == nil || got.peer.String() != "192.0.2.1:1234" {
		t.Errorf("report of bob's denial: metadata %v, peer %v; want his authorization, 192.0.2.1:1234", got.md, got.peer)
	}
	if got := reported[0]; !reflect.DeepEqual(got.md, metadata.MD{"x-status-token": {"st"}}) || got.peer != nil {
		t.Errorf("report of a status token off a status method: metadata %v, peer %v; want the status token, no peer", got.md, got.peer)
	}
}

// TestPrecheckAllocatesNothing checks that the gateway's early decision on
// a cached token costs no allocation: it runs for every REST request, and
// the server decides the call again.
func TestPrecheckAllocatesNothing(t *testing.T) {
	a, err := interceptors.New(interceptors.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	creds := wire.Credentials{Authorization: []string{"Bearer " + mustSign(t, secret, "ana", time.Now().Add(time.Hour))}, RemoteAddr: "127.0.0.1:40000"}
	const method = "/tokengate.v1.EchoService/UnaryEcho"
	if err := a.Precheck(ctx, method, creds); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = a.Precheck(ctx, method, creds) }); n != 0 {
		t.Errorf("Precheck on a cached token: %v allocations, want none", n)
	}
}
