package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/interceptors/metrics"
	"github.com/tokengate/tokengate/internal/demoservice"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
)

const secret = "0123456789abcdef0123456789abcdef-metrics"

// serve runs the demo Echo service behind an Authenticator that reports to
// hook, on an in-memory listener, and returns a connection to it.
func serve(t *testing.T, hook interceptors.DecisionHook, srvOpts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	a, err := interceptors.New(interceptors.Config{Secret: secret}, interceptors.WithDecisionHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(srvOpts,
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()))...)
	tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})
	return serveInMemory(t, srv)
}

// serveInMemory serves srv on an in-memory listener and returns a
// connection to it; both stop with the test.
func serveInMemory(t *testing.T, srv *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 16)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return conn
}

func bearer(t *testing.T, exp time.Time) context.Context {
	t.Helper()
	tok, err := token.Sign([]byte(secret), token.Claims{User: "ana", ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

// observations returns the histogram's sample count for each result.
func observations(t *testing.T, reg prometheus.Gatherer) map[string]uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "tokengate_auth_verification_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					counts[l.GetValue()] = m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return counts
}

func TestDecisionsAreCounted(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	echo := tokengatev1.NewEchoServiceClient(serve(t, m.Hook()))
	req := &tokengatev1.EchoRequest{Message: "hi"}

	valid := bearer(t, time.Now().Add(time.Hour))
	for range 2 {
		if _, err := echo.UnaryEcho(valid, req); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		_, err := echo.UnaryEcho(context.Background(), req)
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("call without a token: %v", err)
		}
	}
	s, err := echo.ServerStreamingEcho(bearer(t, time.Now().Add(-time.Hour)), req)
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("stream with an expired token: %v", err)
	}

	const want = `
# HELP tokengate_auth_decisions_total Authentication decisions by gRPC method, result (allowed or denied) and reason.
# TYPE tokengate_auth_decisions_total counter
tokengate_auth_decisions_total{method="/tokengate.v1.EchoService/ServerStreamingEcho",reason="token_expired",result="denied"} 1
tokengate_auth_decisions_total{method="/tokengate.v1.EchoService/UnaryEcho",reason="missing_token",result="denied"} 2
tokengate_auth_decisions_total{method="/tokengate.v1.EchoService/UnaryEcho",reason="valid_token",result="allowed"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tokengate_auth_decisions_total"); err != nil {
		t.Error(err)
	}
	if got := observations(t, reg); got["allowed"] != 2 || got["denied"] != 3 {
		t.Errorf("histogram observations = %v, want allowed 2, denied 3", got)
	}
	if n, err := testutil.GatherAndCount(reg, "tokengate_auth_decisions_total", "tokengate_auth_verification_seconds"); err != nil || n != 5 { // 3 counter series, 2 histograms
		t.Errorf("series = %d, %v; want 5", n, err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) != 0 {
		t.Errorf("promlint: %v, %v", problems, err)
	}
}

// A method name refused for its shape is counted, not timed: nothing was
// verified, and any caller could drag the histogram to zero with them.
func TestMalformedMethodsAreNotTimed(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	hook := m.Hook()
	for range 5 {
		hook(context.Background(), interceptors.Decision{FullMethod: interceptors.UnregisteredMethod, Reason: interceptors.ReasonMalformedMethod, Err: interceptors.ErrMalformedMethod})
	}
	hook(context.Background(), interceptors.Decision{FullMethod: "/x.S/M", Reason: interceptors.ReasonMissingToken, Duration: time.Microsecond})
	if got := observations(t, reg); got["denied"] != 1 {
		t.Errorf("denied observations = %v, want 1: the malformed names counted only", got)
	}
	const want = `
# HELP tokengate_auth_decisions_total Authentication decisions by gRPC method, result (allowed or denied) and reason.
# TYPE tokengate_auth_decisions_total counter
tokengate_auth_decisions_total{method="/x.S/M",reason="missing_token",result="denied"} 1
tokengate_auth_decisions_total{method="unregistered",reason="malformed_method",result="denied"} 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tokengate_auth_decisions_total"); err != nil {
		t.Error(err)
	}
}

// gRPC answers methods the server does not register before any
// interceptor runs, so callers cannot invent method label values.
func TestUnknownMethodsNeverReachTheHook(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, m.Hook())
	ctx := bearer(t, time.Now().Add(time.Hour))
	for _, method := range []string{"/tokengate.v1.EchoService/Nope", "/no.such.Service/Call"} {
		err := conn.Invoke(ctx, method, &tokengatev1.EchoRequest{}, &tokengatev1.EchoResponse{})
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("unary %s: %v, want Unimplemented", method, err)
		}
		s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
		if err == nil {
			err = s.RecvMsg(&tokengatev1.EchoResponse{})
		}
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("stream %s: %v, want Unimplemented", method, err)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "tokengate_auth_decisions_total"); err != nil || n != 0 {
		t.Errorf("decision series = %d, %v; want 0", n, err)
	}
}

// The exception the package documentation warns about: with an
// UnknownServiceHandler, the stream interceptors see every name sent.
func TestUnknownServiceHandlerReachesTheHook(t *testing.T) {
	t.Parallel()
	var seen []string
	hook := func(_ context.Context, d interceptors.Decision) { seen = append(seen, d.FullMethod) }
	conn := serve(t, hook, grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		return status.Error(codes.Unimplemented, "no")
	}))
	err := conn.Invoke(context.Background(), "/made.up.Service/Anything", &tokengatev1.EchoRequest{}, &tokengatev1.EchoResponse{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("err = %v, want Unauthenticated from the interceptor", err)
	}
	if len(seen) != 1 || seen[0] != "/made.up.Service/Anything" {
		t.Errorf("hook saw %q", seen)
	}
}

func TestNewRegistrationErrors(t *testing.T) {
	t.Parallel()
	var already prometheus.AlreadyRegisteredError

	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg); !errors.As(err, &already) {
		t.Errorf("second New on one registry: err = %v, want an AlreadyRegisteredError", err)
	}

	// When the second collector cannot be registered, the first is taken
	// back out.
	reg = prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "tokengate_auth_verification_seconds", Help: "taken"}))
	if _, err := metrics.New(reg); err == nil {
		t.Fatal("New succeeded with its histogram's name taken")
	}
	if _, err := metrics.New(prometheus.WrapRegistererWithPrefix("other_", reg)); err != nil {
		t.Errorf("New under another prefix: %v", err)
	}
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokengate_auth_decisions_total",
		Help: "Authentication decisions by gRPC method, result (allowed or denied) and reason.",
	}, []string{"method", "result", "reason"})
	if err := reg.Register(counter); err != nil {
		t.Errorf("the counter of a failed New is still registered: %v", err)
	}
}

func TestNewNilUsesDefaultRegisterer(t *testing.T) {
	m, err := metrics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // so that -count=2 can register again
		prometheus.DefaultRegisterer.Unregister(prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokengate_auth_decisions_total"}, []string{"method", "result", "reason"}))
		prometheus.DefaultRegisterer.Unregister(prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tokengate_auth_verification_seconds"}, []string{"result"}))
		prometheus.DefaultRegisterer.Unregister(prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokengate_policy_reloads_total"}, []string{"result"}))
		prometheus.DefaultRegisterer.Unregister(prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tokengate_policy_applied_timestamp_seconds"}))
	})
	m.Hook()(context.Background(), interceptors.Decision{FullMethod: "/x.Y/Z", Allowed: true, Reason: interceptors.ReasonValidToken})
	n, err := testutil.GatherAndCount(prometheus.DefaultGatherer, "tokengate_auth_decisions_total")
	if err != nil || n != 1 {
		t.Errorf("default registry holds %d decision series (%v), want 1", n, err)
	}
}

// serveKnown is serve with the Authenticator told which methods the server
// registered, and a proxy-style UnknownServiceHandler that answers OK.
func serveKnown(t *testing.T, hook interceptors.DecisionHook) *grpc.ClientConn {
	t.Helper()
	a, err := interceptors.New(interceptors.Config{Secret: secret},
		interceptors.WithDecisionHook(hook), interceptors.WithDecisionHook(interceptors.LogDecisions(nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error { return nil }),
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()))
	tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})
	a.KnowMethods(srv)
	return serveInMemory(t, srv)
}

// A caller-chosen method name that is not valid UTF-8 once made the
// Prometheus hook panic and killed the server (issue 12). Names the server
// did not register, hostile or not, are now one label value, and the
// server keeps answering.
func TestHostileMethodNamesAreFolded(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	conn := serveKnown(t, m.Hook())
	for _, method := range []string{"/x.Y/\xff", "/made.up.Service/Anything", "/x.Y/" + strings.Repeat("a", 300)} {
		s, err := conn.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true}, method)
		if err == nil {
			err = s.RecvMsg(&tokengatev1.EchoResponse{})
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("stream %q: %v, want Unauthenticated", method, err)
		}
	}
	// A registered method still has its own series, and the server is alive.
	err = conn.Invoke(bearer(t, time.Now().Add(time.Hour)), "/tokengate.v1.EchoService/UnaryEcho",
		&tokengatev1.EchoRequest{Message: "hi"}, &tokengatev1.EchoResponse{})
	if err != nil {
		t.Fatalf("registered method after hostile ones: %v", err)
	}
	want := `
# HELP tokengate_auth_decisions_total Authentication decisions by gRPC method, result (allowed or denied) and reason.
# TYPE tokengate_auth_decisions_total counter
tokengate_auth_decisions_total{method="/tokengate.v1.EchoService/UnaryEcho",reason="valid_token",result="allowed"} 1
tokengate_auth_decisions_total{method="unregistered",reason="missing_token",result="denied"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tokengate_auth_decisions_total"); err != nil {
		t.Error(err)
	}
}

// Without KnowMethods, well-formed names pass as they are, but a name no
// label can hold is still folded, so the hook cannot panic.
func TestInvalidMethodNameFoldedWithoutKnowMethods(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, m.Hook(), grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error { return nil }))
	s, err := conn.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true}, "/x.Y/\xff")
	if err == nil {
		err = s.RecvMsg(&tokengatev1.EchoResponse{})
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("stream: %v, want Unauthenticated", err)
	}
	want := `
# HELP tokengate_auth_decisions_total Authentication decisions by gRPC method, result (allowed or denied) and reason.
# TYPE tokengate_auth_decisions_total counter
tokengate_auth_decisions_total{method="unregistered",reason="missing_token",result="denied"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tokengate_auth_decisions_total"); err != nil {
		t.Error(err)
	}
}

// Without KnowMethods, a caller can invent a well-formed name per call.
// Past the bound on the method label's values, a method not seen before is
// counted as "unregistered", so the label set stays bounded; a method seen
// before keeps counting under its name, new results and reasons too.
// Denials bring in only half the names, so a flood of invented names
// without a token leaves room for methods called with one.
func TestMethodLabelIsBounded(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	metrics.SetMaxMethods(m, 6)
	hook := m.Hook()
	deny := func(method string) {
		hook(context.Background(), interceptors.Decision{FullMethod: method, Reason: interceptors.ReasonMissingToken, Err: token.ErrMissing})
	}
	allow := func(method string) {
		hook(context.Background(), interceptors.Decision{FullMethod: method, Allowed: true, Reason: interceptors.ReasonValidToken})
	}
	for i := range 10 {
		deny(fmt.Sprintf("/made.up.Service/M%d", i))
	}
	deny("/made.up.Service/M0")
	allow("/made.up.Service/M1") // seen: its own series
	allow("/real.Service/A")     // not seen, allowed: room is left
	deny("/real.Service/A")      // seen now
	for i := range 5 {
		allow(fmt.Sprintf("/real.Service/B%d", i)) // B0, B1 fill the label
	}
	want := `
# HELP tokengate_auth_decisions_total Authentication decisions by gRPC method, result (allowed or denied) and reason.
# TYPE tokengate_auth_decisions_total counter
tokengate_auth_decisions_total{method="/made.up.Service/M0",reason="missing_token",result="denied"} 2
tokengate_auth_decisions_total{method="/made.up.Service/M1",reason="missing_token",result="denied"} 1
tokengate_auth_decisions_total{method="/made.up.Service/M1",reason="valid_token",result="allowed"} 1
tokengate_auth_decisions_total{method="/made.up.Service/M2",reason="missing_token",result="denied"} 1
tokengate_auth_decisions_total{method="/real.Service/A",reason="missing_token",result="denied"} 1
tokengate_auth_decisions_total{method="/real.Service/A",reason="valid_token",result="allowed"} 1
tokengate_auth_decisions_total{method="/real.Service/B0",reason="valid_token",result="allowed"} 1
tokengate_auth_decisions_total{method="/real.Service/B1",reason="valid_token",result="allowed"} 1
tokengate_auth_decisions_total{method="unregistered",reason="missing_token",result="denied"} 7
tokengate_auth_decisions_total{method="unregistered",reason="valid_token",result="allowed"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tokengate_auth_decisions_total"); err != nil {
		t.Error(err)
	}
}

// Policy reloads are counted by result, and the gauge holds when the policy
// in force was applied: a rejected reload leaves it alone.
func TestPolicyReloadsAreCounted(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := interceptors.New(interceptors.Config{Secret: secret}, interceptors.WithPolicyHook(m.PolicyHook()),
		interceptors.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := a.Update(interceptors.Config{Secret: secret + "-next"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Update(interceptors.Config{}); err == nil {
		t.Fatal("Update turned authentication off")
	}
	if err := a.Update(interceptors.Config{Secret: secret, Users: []string{" "}}); err == nil {
		t.Fatal("Update took an allow-list of nobody")
	}
	want := `
# HELP tokengate_policy_reloads_total New policies (secrets, users, status token) applied or rejected; a rejected one leaves the previous policy serving.
# TYPE tokengate_policy_reloads_total counter
tokengate_policy_reloads_total{result="applied"} 1
tokengate_policy_reloads_total{result="rejected"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tokengate_policy_reloads_total"); err != nil {
		t.Error(err)
	}
	var at float64
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "tokengate_policy_applied_timestamp_seconds" {
			at = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if at < float64(before.Unix()) || at > float64(time.Now().Unix()+1) {
		t.Errorf("applied timestamp = %v, want the time of the applied update (%v)", at, before.Unix())
	}
}
