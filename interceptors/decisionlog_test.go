package interceptors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/internal/demoservice"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
)

// logBuffer collects a JSON slog handler's output; the hook writes from the
// server's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// take returns the lines written so far and forgets them.
func (b *logBuffer) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	b.buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestLogDecisions(t *testing.T) {
	t.Parallel()
	valid := mustSign(t, secret, "ana", time.Now().Add(time.Hour))
	expired := mustSign(t, secret, "ana", time.Now().Add(-time.Hour))
	forged := mustSign(t, "not-the-secret-not-the-secret-xx", "ana", time.Now().Add(time.Hour))

	var logs logBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	conn := testServer(t, interceptors.Config{Secret: secret, Users: []string{"ana"}},
		interceptors.WithDecisionHook(interceptors.LogDecisions(logger)))
	echo := tokengatev1.NewEchoServiceClient(conn)
	const method = "/tokengate.v1.EchoService/UnaryEcho"

	tests := []struct {
		name       string
		md         []string
		wantLevel  string
		wantReason interceptors.Reason
		wantUser   string
	}{
		{"allowed", []string{"authorization", "Bearer " + valid}, "DEBUG", interceptors.ReasonValidToken, "ana"},
		{"no token", nil, "WARN", interceptors.ReasonMissingToken, ""},
		{"forged token", []string{"authorization", "Bearer " + forged}, "WARN", interceptors.ReasonInvalidToken, ""},
		{"not bearer", []string{"authorization", "Basic " + valid}, "WARN", interceptors.ReasonNotBearer, ""},
		{"expired token", []string{"authorization", "Bearer " + expired}, "INFO", interceptors.ReasonExpired, ""},
	}
	for _, tc := range tests { // one server and one log: not parallel
		t.Run(tc.name, func(t *testing.T) {
			_, _ = echo.UnaryEcho(withMD(tc.md...), &tokengatev1.EchoRequest{Message: "hi"})
			lines := logs.take()
			if len(lines) != 1 {
				t.Fatalf("got %d log lines, want 1: %q", len(lines), lines)
			}
			for _, s := range []string{valid, expired, forged, secret} {
				if strings.Contains(lines[0], s) {
					t.Fatalf("log line leaks a token or the secret: %s", lines[0])
				}
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"level": tc.wantLevel, "method": method, "reason": string(tc.wantReason)}
			if tc.wantUser != "" {
				want["user"] = tc.wantUser
			}
			for k, v := range want {
				if rec[k] != v {
					t.Errorf("%s = %v, want %v in %s", k, rec[k], v, lines[0])
				}
			}
			if _, ok := rec["user"]; ok && tc.wantUser == "" {
				t.Errorf("user logged for a denial: %s", lines[0])
			}
			if _, ok := rec["error"]; ok == (tc.wantLevel == "DEBUG") {
				t.Errorf("error attribute present = %v, want it on denials only: %s", ok, lines[0])
			}
		})
	}
}

func TestLogDecisionsAllowedOnlyAtDebug(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil)) // Info and above
	conn := testServer(t, interceptors.Config{Secret: secret},
		interceptors.WithDecisionHook(interceptors.LogDecisions(logger)))
	echo := tokengatev1.NewEchoServiceClient(conn)

	ctx := withMD("authorization", "Bearer "+mustSign(t, secret, "ana", time.Now().Add(time.Hour)))
	if _, err := echo.UnaryEcho(ctx, &tokengatev1.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
	if lines := logs.take(); len(lines) != 0 {
		t.Errorf("allowed call logged above Debug: %q", lines)
	}
	_, _ = echo.UnaryEcho(withMD(), &tokengatev1.EchoRequest{})
	if lines := logs.take(); len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") {
		t.Errorf("denied call: log = %q, want one WARN line", lines)
	}
}

// testAddr is a net.Addr of any network.
type testAddr struct{ network, addr string }

func (a testAddr) Network() string { return a.network }
func (a testAddr) String() string  { return a.addr }

// fromGateway trusts the in-process connection of a gateway, as the demo
// does.
func fromGateway(a net.Addr) bool { return a.Network() == "bufconn" }

// TestLogDecisionsPeer checks which address a record names: the
// connection's, except on a trusted gateway's connection, where it is the
// HTTP caller's (the last x-forwarded-for entry) and the gateway's is "via".
func TestLogDecisionsPeer(t *testing.T) {
	t.Parallel()
	gw := testAddr{"bufconn", "bufconn"}
	direct := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	cases := []struct {
		name     string
		trusted  func(net.Addr) bool
		peer     net.Addr
		xff      []string
		wantPeer string
		wantVia  string
	}{
		{"gateway, caller's address", fromGateway, gw, []string{"203.0.113.7"}, "203.0.113.7", "bufconn"},
		{"gateway, caller sent X-Forwarded-For: the last entry counts", fromGateway, gw, []string{"198.51.100.1, 10.0.0.1, 203.0.113.7"}, "203.0.113.7", "bufconn"},
		{"gateway, two values: the last counts", fromGateway, gw, []string{"198.51.100.1", "203.0.113.7"}, "203.0.113.7", "bufconn"},
		{"gateway, IPv6 caller", fromGateway, gw, []string{"2001:db8::1"}, "2001:db8::1", "bufconn"},
		{"gateway, no x-forwarded-for", fromGateway, gw, nil, "bufconn", ""},
		{"gateway, last entry not an address", fromGateway, gw, []string{"203.0.113.7, evil\"name"}, "bufconn", ""},
		{"direct caller sending x-forwarded-for", fromGateway, direct, []string{"203.0.113.7"}, "127.0.0.1:5000", ""},
		{"no WithTrustedGateway: the gateway's connection", nil, gw, []string{"203.0.113.7"}, "bufconn", ""},
		{"no WithTrustedGateway: a direct caller", nil, direct, []string{"203.0.113.7"}, "127.0.0.1:5000", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			var opts []interceptors.LogOption
			if tc.trusted != nil {
				opts = append(opts, interceptors.WithTrustedGateway(tc.trusted))
			}
			hook := interceptors.LogDecisions(slog.New(slog.NewJSONHandler(&logs, nil)), opts...)
			md := metadata.MD{}
			for _, v := range tc.xff {
				md.Append("x-forwarded-for", v)
			}
			ctx := peer.NewContext(metadata.NewIncomingContext(context.Background(), md), &peer.Peer{Addr: tc.peer})
			hook(ctx, interceptors.Decision{FullMethod: "/m/M", Reason: interceptors.ReasonMissingToken})
			rec := oneRecord(t, &logs)
			if rec["peer"] != tc.wantPeer {
				t.Errorf("peer = %v, want %q", rec["peer"], tc.wantPeer)
			}
			if via, ok := rec["via"]; tc.wantVia == "" && ok {
				t.Errorf("via = %v, want none", via)
			} else if tc.wantVia != "" && via != tc.wantVia {
				t.Errorf("via = %v, want %q", via, tc.wantVia)
			}
		})
	}
}

// TestLogDecisionsForwardedForOverTCP checks with real connections that a
// gRPC caller cannot choose the address logged for it by sending
// x-forwarded-for itself, while calls on the trusted in-process connection
// are logged with the address it names.
func TestLogDecisionsForwardedForOverTCP(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	hook := interceptors.LogDecisions(slog.New(slog.NewJSONHandler(&logs, nil)), interceptors.WithTrustedGateway(fromGateway))

	tcpConn := tcpServer(t, interceptors.Config{Secret: secret}, interceptors.WithDecisionHook(hook))
	_, _ = tokengatev1.NewEchoServiceClient(tcpConn).UnaryEcho(withMD("x-forwarded-for", "203.0.113.7"), &tokengatev1.EchoRequest{})
	rec := oneRecord(t, &logs)
	if p, _ := rec["peer"].(string); !strings.HasPrefix(p, "127.0.0.1:") {
		t.Errorf("direct TCP caller: peer = %v, want its own 127.0.0.1:port, not x-forwarded-for", rec["peer"])
	}
	if via, ok := rec["via"]; ok {
		t.Errorf("direct TCP caller: via = %v, want none", via)
	}

	inproc := testServer(t, interceptors.Config{Secret: secret}, interceptors.WithDecisionHook(hook))
	_, _ = tokengatev1.NewEchoServiceClient(inproc).UnaryEcho(withMD("x-forwarded-for", "198.51.100.1, 203.0.113.7"), &tokengatev1.EchoRequest{})
	rec = oneRecord(t, &logs)
	if rec["peer"] != "203.0.113.7" || rec["via"] != "bufconn" {
		t.Errorf("trusted in-process connection: peer = %v via %v, want 203.0.113.7 via bufconn", rec["peer"], rec["via"])
	}
}

// tcpServer is testServer on a loopback TCP port.
func tcpServer(t *testing.T, cfg interceptors.Config, opts ...interceptors.Option) *grpc.ClientConn {
	t.Helper()
	a, err := interceptors.New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
	)
	tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return conn
}

// oneRecord returns the one JSON record logged since the last take.
func oneRecord(t *testing.T, logs *logBuffer) map[string]any {
	t.Helper()
	lines := logs.take()
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1: %q", len(lines), lines)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// Denials over the limit are counted, not logged, and the count is logged
// with the first denial of a later second; allowed calls are not limited.
func TestDenialLogLimit(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	hook := interceptors.LogDecisions(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		interceptors.WithDenialLogLimit(3), interceptors.WithLogClock(clock),
		interceptors.WithLogTimer(func(time.Duration, func()) {})) // the counts here are carried by later denials
	ctx := context.Background()
	denied := interceptors.Decision{FullMethod: "/x.S/M", Reason: interceptors.ReasonInvalidToken, Err: token.ErrSignatureInvalid}
	allowed := interceptors.Decision{FullMethod: "/x.S/M", Allowed: true, Reason: interceptors.ReasonValidToken, User: "ana"}
	for range 10 {
		hook(ctx, denied)
		hook(ctx, allowed)
	}
	lines := logs.take()
	if got := countContaining(lines, "call denied"); got != 3 {
		t.Errorf("%d denials logged in one second, want the limit, 3:\n%s", got, strings.Join(lines, "\n"))
	}
	if got := countContaining(lines, "call allowed"); got != 10 {
		t.Errorf("%d allowed calls logged, want all 10", got)
	}

	now.Add(int64(1500 * time.Millisecond))
	hook(ctx, denied)
	lines = logs.take()
	if len(lines) != 2 || !strings.Contains(lines[0], `"not_logged":7`) || !strings.Contains(lines[0], `"limit_per_second":3`) ||
		!strings.Contains(lines[1], "call denied") {
		t.Errorf("next second: want the count of the 7 not logged, then the denial; got\n%s", strings.Join(lines, "\n"))
	}

	// A wall clock stepped back an hour starts seconds of its own: one
	// denial a second, under the limit, is logged every time.
	now.Add(int64(-time.Hour))
	for range 10 {
		hook(ctx, denied)
		now.Add(int64(time.Second))
	}
	if got := countContaining(logs.take(), "call denied"); got != 10 {
		t.Errorf("after the clock stepped back: %d of 10 denials logged, one a second, want all", got)
	}

	unlimited := interceptors.LogDecisions(slog.New(slog.NewJSONHandler(&logs, nil)), interceptors.WithDenialLogLimit(0), interceptors.WithLogClock(clock))
	for range 500 {
		unlimited(ctx, denied)
	}
	if got := len(logs.take()); got != 500 {
		t.Errorf("WithDenialLogLimit(0): %d of 500 denials logged, want all", got)
	}
}

func countContaining(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// The count of denials not logged is reported once their second has
// passed even when no later denial comes to carry it: a flood that stops
// still leaves its count in the log, once, and not before its second ends.
func TestDenialLogCountWithoutALaterDenial(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 2, 10, 0, 0, 250_000_000, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	var mu sync.Mutex
	var delays []time.Duration
	var pending []func()
	timer := func(d time.Duration, f func()) {
		mu.Lock()
		defer mu.Unlock()
		delays, pending = append(delays, d), append(pending, f)
	}
	fire := func() {
		mu.Lock()
		fs := pending
		pending = nil
		mu.Unlock()
		for _, f := range fs {
			f()
		}
	}
	hook := interceptors.LogDecisions(slog.New(slog.NewJSONHandler(&logs, nil)),
		interceptors.WithDenialLogLimit(3), interceptors.WithLogClock(clock), interceptors.WithLogTimer(timer))
	ctx := context.Background()
	denied := interceptors.Decision{FullMethod: "/x.S/M", Reason: interceptors.ReasonInvalidToken, Err: token.ErrSignatureInvalid}
	for range 10 {
		hook(ctx, denied)
	}
	if got := countContaining(logs.take(), "call denied"); got != 3 {
		t.Fatalf("%d denials logged, want the limit, 3", got)
	}
	if len(delays) != 1 || delays[0] != 750*time.Millisecond+10*time.Millisecond {
		t.Fatalf("flushes scheduled after %v, want one, at the end of the second (750ms) and a margin", delays)
	}

	// The timer fires early (the clock still in that second): nothing yet,
	// and it looks again.
	fire()
	if lines := logs.take(); len(lines) != 0 {
		t.Errorf("count logged before its second ended: %q", lines)
	}
	if len(pending) != 1 {
		t.Fatalf("%d flushes pending after an early one, want 1", len(pending))
	}

	now.Add(int64(time.Second))
	fire()
	lines := logs.take()
	if len(lines) != 1 || !strings.Contains(lines[0], `"not_logged":7`) || !strings.Contains(lines[0], "denials not logged") {
		t.Fatalf("after the second: want the count of the 7 not logged, alone; got %q", lines)
	}

	if delays[1] != 750*time.Millisecond+10*time.Millisecond {
		t.Errorf("early flush looked again after %v, want at the end of the second (750ms) and a margin", delays[1])
	}

	// The next denial finds nothing left to report, and a window with no
	// denial over the limit schedules nothing.
	now.Add(int64(time.Second))
	hook(ctx, denied)
	if lines := logs.take(); len(lines) != 1 || !strings.Contains(lines[0], "call denied") {
		t.Errorf("next denial: want it alone, got %q", lines)
	}
	if len(pending) != 0 {
		t.Errorf("%d flushes pending with nothing to report", len(pending))
	}

	// A later flood is reported the same way: the flush before it left
	// nothing behind that would keep it from scheduling its own.
	now.Add(int64(time.Second))
	for range 5 {
		hook(ctx, denied)
	}
	logs.take()
	if len(pending) != 1 {
		t.Fatalf("second flood: %d flushes pending, want 1", len(pending))
	}
	now.Add(int64(time.Second))
	fire()
	if lines := logs.take(); len(lines) != 1 || !strings.Contains(lines[0], `"not_logged":2`) {
		t.Errorf("second flood: want the count of the 2 not logged, got %q", lines)
	}
}
