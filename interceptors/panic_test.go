package interceptors_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/internal/demoservice"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// panickingEcho panics in every streaming method, and in UnaryEcho.
type panickingEcho struct {
	tokengatev1.UnimplementedEchoServiceServer
}

func (panickingEcho) UnaryEcho(context.Context, *tokengatev1.EchoRequest) (*tokengatev1.EchoResponse, error) {
	panic("unary handler bug")
}

func (panickingEcho) ServerStreamingEcho(*tokengatev1.EchoRequest, grpc.ServerStreamingServer[tokengatev1.EchoResponse]) error {
	panic("server stream handler bug")
}

func (panickingEcho) BidirectionalStreamingEcho(s grpc.BidiStreamingServer[tokengatev1.EchoRequest, tokengatev1.EchoResponse]) error {
	if _, err := s.Recv(); err != nil {
		return err
	}
	panic("bidi handler bug")
}

// serveWithRecovery runs echo behind go-grpc-middleware's recovery
// interceptor, chained before tokengate as a server would chain it.
func serveWithRecovery(t *testing.T, echo tokengatev1.EchoServiceServer, opts ...interceptors.Option) tokengatev1.EchoServiceClient {
	t.Helper()
	a, err := interceptors.New(interceptors.Config{Secret: secret}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	// The handler go-grpc-middleware documents for answering Internal
	// (its default answers Unknown with the stack in the message).
	toInternal := recovery.WithRecoveryHandler(func(p any) error {
		return status.Errorf(codes.Internal, "panic: %v", p)
	})
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(recovery.UnaryServerInterceptor(toInternal), a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor(toInternal), a.StreamServerInterceptor()),
	)
	tokengatev1.RegisterEchoServiceServer(srv, echo)
	conn := serveInMemory(t, srv)
	return tokengatev1.NewEchoServiceClient(conn)
}

// A panic in a stream handler reaches the recovery interceptor chained
// before tokengate, as it would without tokengate, even though stream
// expiry runs the handler on a goroutine of its own; the server keeps
// serving. Before, the panic killed the process.
func TestStreamHandlerPanicReachesRecovery(t *testing.T) {
	t.Parallel()
	client := serveWithRecovery(t, panickingEcho{})
	auth := "Bearer " + mustSign(t, secret, "ana", time.Now().Add(time.Hour))
	ctx, cancel := context.WithTimeout(withMD("authorization", auth), 10*time.Second)
	defer cancel()

	for i := 0; i < 3; i++ { // the server survives each one
		ss, err := client.ServerStreamingEcho(ctx, &tokengatev1.EchoRequest{Message: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ss.Recv()
		assertCode(t, err, codes.Internal, "server stream handler bug")

		bidi, err := client.BidirectionalStreamingEcho(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := bidi.Send(&tokengatev1.EchoRequest{Message: "hi"}); err != nil {
			t.Fatal(err)
		}
		_, err = bidi.Recv()
		assertCode(t, err, codes.Internal, "bidi handler bug")

		_, err = client.UnaryEcho(ctx, &tokengatev1.EchoRequest{Message: "hi"})
		assertCode(t, err, codes.Internal, "unary handler bug")
	}
}

// goexitEcho's stream handler ends its goroutine with runtime.Goexit.
type goexitEcho struct {
	tokengatev1.UnimplementedEchoServiceServer
}

func (goexitEcho) BidirectionalStreamingEcho(grpc.BidiStreamingServer[tokengatev1.EchoRequest, tokengatev1.EchoResponse]) error {
	runtime.Goexit()
	return nil
}

// A stream handler that calls runtime.Goexit ends the call's goroutine, as
// it would without tokengate; it is not raised as a panic (once, Goexit
// recovered nothing and tokengate raised that nothing, which crashes a
// server without a recovery interceptor). The client is left waiting, as
// it is without tokengate, until its deadline.
func TestStreamHandlerGoexitIsNotAPanic(t *testing.T) {
	t.Parallel()
	err := streamEnd(t, serveWithRecovery(t, goexitEcho{}), 300*time.Millisecond)
	assertCode(t, err, codes.DeadlineExceeded, "")
}

// streamEnd opens a bidirectional stream with a valid token and returns
// what ends it (its first Recv's error), waiting at most timeout.
func streamEnd(t *testing.T, client tokengatev1.EchoServiceClient, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(withMD("authorization", "Bearer "+mustSign(t, secret, "ana", time.Now().Add(time.Hour))), timeout)
	defer cancel()
	s, err := client.BidirectionalStreamingEcho(ctx)
	if err == nil {
		_, err = s.Recv()
	}
	return err
}

// nilPanicEcho's stream handler calls panic(nil).
type nilPanicEcho struct {
	tokengatev1.UnimplementedEchoServiceServer
}

func (nilPanicEcho) BidirectionalStreamingEcho(grpc.BidiStreamingServer[tokengatev1.EchoRequest, tokengatev1.EchoResponse]) error {
	panic(nil)
}

// alsoUnderPanicNil runs the test t again in a process of its own with
// GODEBUG=panicnil=1, which only the environment can set, and fails t if
// that run fails. It reports whether t is that run.
func alsoUnderPanicNil(t *testing.T) bool {
	t.Helper()
	if os.Getenv("TOKENGATE_TEST_PANICNIL") != "" {
		return true
	}
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), "TOKENGATE_TEST_PANICNIL=1", "GODEBUG=panicnil=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("with GODEBUG=panicnil=1: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) { // it ran, and was not skipped
		t.Fatalf("with GODEBUG=panicnil=1, the test did not run:\n%s", out)
	}
	return false
}

// panic(nil) in a stream handler is a panic, not a runtime.Goexit, even
// under GODEBUG=panicnil=1, where it recovers as nil, as a Goexit does:
// there, go-grpc-middleware's recovery interceptor stops it (its recover
// returns nil, so it answers nothing) and the stream ends as the handler's
// return would, with OK, as it does without tokengate. The test runs
// itself again with that setting.
func TestStreamHandlerNilPanicIsAPanic(t *testing.T) {
	panicNil := alsoUnderPanicNil(t)
	err := streamEnd(t, serveWithRecovery(t, nilPanicEcho{}), 5*time.Second)
	if !panicNil {
		assertCode(t, err, codes.Internal, "panic called with nil argument")
	} else if err != io.EOF {
		t.Errorf("stream ended with %v, want io.EOF: the recovery interceptor stopped the panic", err)
	}
}

// lateEcho ignores its stream's end: it waits for release, then panics,
// long after tokengate has ended its stream at token expiry.
type lateEcho struct {
	tokengatev1.UnimplementedEchoServiceServer
	started chan struct{}
	release chan struct{}
}

func (e lateEcho) BidirectionalStreamingEcho(grpc.BidiStreamingServer[tokengatev1.EchoRequest, tokengatev1.EchoResponse]) error {
	close(e.started)
	<-e.release
	panic("late handler bug")
}

// A handler that outlives the stream tokengate ended at expiry is still
// watched: its panic is logged with the method, instead of killing the
// process or vanishing, and nothing is left running once it returns (the
// package's goleak check).
func TestAbandonedStreamHandlerIsObserved(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	echo := lateEcho{started: make(chan struct{}), release: make(chan struct{})}
	client := serveWithRecovery(t, echo, interceptors.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))

	exp := time.Now().Add(time.Second).Truncate(time.Second)
	ctx, cancel := context.WithTimeout(withMD("authorization", "Bearer "+mustSign(t, secret, "ana", exp)), 10*time.Second)
	defer cancel()
	bidi, err := client.BidirectionalStreamingEcho(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-echo.started
	_, err = bidi.Recv()
	assertCode(t, err, codes.Unauthenticated, "token expired")

	close(echo.release)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "late handler bug") {
		if time.Now().After(deadline) {
			t.Fatalf("the late handler's panic was not logged; logs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out := logs.String(); !strings.Contains(out, "panicked after tokengate ended its stream") ||
		!strings.Contains(out, "/tokengate.v1.EchoService/BidirectionalStreamingEcho") {
		t.Errorf("log does not say what happened where:\n%s", out)
	}
}

// A decision hook that panics is logged and ignored, with the tap and
// without it: the decision stands and the hooks after it still run. Without
// the tap the panic would crash a server with no recovery interceptor (this
// one has none); in the tap it would unwind grpc-go's connection reader,
// which then hangs the connection and Server.Stop for good.
func TestPanickingDecisionHookIsLoggedAndIgnored(t *testing.T) {
	t.Parallel()
	for _, tapped := range []bool{true, false} {
		t.Run(map[bool]string{true: "tap", false: "interceptors_only"}[tapped], func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			var mu sync.Mutex
			var seen []bool
			a, err := interceptors.New(interceptors.Config{Secret: secret},
				interceptors.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
				interceptors.WithDecisionHook(func(context.Context, interceptors.Decision) { panic("hook bug") }),
				interceptors.WithDecisionHook(func(_ context.Context, d interceptors.Decision) {
					mu.Lock()
					defer mu.Unlock()
					seen = append(seen, d.Allowed)
				}))
			if err != nil {
				t.Fatal(err)
			}
			opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor())}
			if tapped {
				opts = append(opts, grpc.InTapHandle(a.TapHandle))
			}
			srv := grpc.NewServer(opts...)
			tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})
			echo := tokengatev1.NewEchoServiceClient(serveInMemory(t, srv))
			call := func(ctx context.Context) error {
				ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				return unary(ctx, echo)
			}
			tok := mustSign(t, secret, "ana", time.Now().Add(time.Hour))
			assertCode(t, call(context.Background()), codes.Unauthenticated, "missing bearer token")
			assertCode(t, call(withMD("authorization", "Bearer "+tok)), codes.OK, "")
			mu.Lock()
			if !slices.Equal(seen, []bool{false, true}) {
				t.Errorf("the hook after the panicking one saw %v, want [false true]", seen)
			}
			mu.Unlock()
			out := logs.String()
			if n := strings.Count(out, "decision hook panicked"); n != 2 || !strings.Contains(out, "hook bug") || !strings.Contains(out, "stack") {
				t.Errorf("log of the two panics (%d):\n%.600s", n, out)
			}
			if strings.Contains(out, tok) {
				t.Error("the log holds the token")
			}
		})
	}
}

// A policy hook that panics is logged and ignored: the policy is applied,
// and a FileWatcher's goroutine, which calls the hooks, lives on.
func TestPanickingPolicyHookIsLoggedAndIgnored(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	var ev events
	a, err := interceptors.New(interceptors.Config{Secret: secret},
		interceptors.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
		interceptors.WithPolicyHook(func(interceptors.PolicyEvent) { panic("policy hook bug") }),
		interceptors.WithPolicyHook(ev.hook))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Update(interceptors.Config{Secret: newSecret}); err != nil {
		t.Fatal(err)
	}
	if err := allows(a, newSecret, "ana"); err != nil {
		t.Errorf("the new policy is not in force: %v", err)
	}
	if err := a.Update(interceptors.Config{Secret: " "}); err == nil {
		t.Error("a blank secret was applied")
	}
	if got := ev.list(); len(got) != 2 || !got[0].Applied || got[1].Applied {
		t.Errorf("the hook after the panicking one saw %+v, want one applied and one refused", got)
	}
	if n := strings.Count(logs.String(), "policy hook panicked"); n != 2 {
		t.Errorf("%d panics logged, want 2:\n%.600s", n, logs.String())
	}
}

// A method name with a control character, a line separator or a
// bidirectional override (which grpc.Server.ServeHTTP can hand over,
// percent-decoded from the URL) reaches the hooks, and so logs and metric
// labels, as "unregistered", never as it is.
func TestMethodNamesWithControlCharactersAreFolded(t *testing.T) {
	t.Parallel()
	var got []string
	a, err := interceptors.New(interceptors.Config{Secret: secret}, quiet(),
		interceptors.WithDecisionHook(func(_ context.Context, d interceptors.Decision) { got = append(got, d.FullMethod) }))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"/x.Y/Z", "/x.Y/a\nlevel=ERROR", "/x.Y/\x1b[31mred", "/x.Y/a\u0085b", "/x.Y/a\u2028b", "/x.Y/\u202edcba", "/x.Y/é", "/x.Y/a b"}
	for _, name := range names {
		if _, err := a.Authenticate(context.Background(), name); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%q: %v, want Unauthenticated", name, err)
		}
	}
	u := interceptors.UnregisteredMethod
	want := []string{"/x.Y/Z", u, u, u, u, u, "/x.Y/é", "/x.Y/a b"}
	if !slices.Equal(got, want) {
		t.Errorf("hooks saw %q, want %q", got, want)
	}
}

// A hook that panics on every call is logged at its 1st, 2nd, 4th, 8th…
// panic, not on every call: it can flood neither the log nor the
// connection's reader goroutine with stack traces. A panic(nil) counts too,
// under GODEBUG=panicnil=1 as well, where it recovers as nil: the test runs
// itself again with that setting.
func TestHookPanicsAreLoggedSparsely(t *testing.T) {
	alsoUnderPanicNil(t)
	var logs logBuffer
	calls := 0
	a, err := interceptors.New(interceptors.Config{Secret: secret},
		interceptors.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
		interceptors.WithDecisionHook(func(context.Context, interceptors.Decision) {
			calls++
			if calls%2 == 0 {
				panic(nil)
			}
			panic("hook bug")
		}),
		// Each hook has its count: this one's first panic is logged
		// after the first hook's ten.
		interceptors.WithDecisionHook(func(context.Context, interceptors.Decision) {
			if calls == 10 {
				panic("second hook bug")
			}
		}),
		interceptors.WithPolicyHook(func(interceptors.PolicyEvent) { panic("policy hook bug") }))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := a.Authenticate(context.Background(), "/x.Y/Z"); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("Authenticate: %v, want Unauthenticated", err)
		}
	}
	if err := a.Update(interceptors.Config{Secret: newSecret}); err != nil {
		t.Fatal(err)
	}
	var counts []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if i := strings.Index(line, `"panics":`); i >= 0 {
			what := "first"
			if strings.Contains(line, "second hook bug") {
				what = "second"
			} else if strings.Contains(line, "policy hook bug") {
				what = "policy"
			}
			counts = append(counts, what+" "+strings.SplitN(line[i+len(`"panics":`):], ",", 2)[0])
		}
	}
	if want := []string{"first 1", "first 2", "first 4", "first 8", "second 1", "policy 1"}; !slices.Equal(counts, want) {
		t.Errorf("panics logged: %q, want %q", counts, want)
	}
}

// A runtime.Goexit in a hook cannot be stopped: it ends the goroutine, and
// is logged as what it is, not as a panic that was stopped.
func TestHookGoexitIsLoggedAsSuch(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	a, err := interceptors.New(interceptors.Config{Secret: secret},
		interceptors.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
		interceptors.WithDecisionHook(func(context.Context, interceptors.Decision) { runtime.Goexit() }))
	if err != nil {
		t.Fatal(err)
	}
	returned := make(chan bool, 1)
	go func() {
		defer close(returned)
		a.Authenticate(context.Background(), "/x.Y/Z")
		returned <- true
	}()
	if <-returned {
		t.Error("Authenticate returned after its hook's runtime.Goexit")
	}
	if out := logs.String(); !strings.Contains(out, "runtime.Goexit") || strings.Contains(out, "panicked") {
		t.Errorf("log:\n%.600s", out)
	}
}

// An Option is a plain function, so a hook can be added to an
// Authenticator after New (not safe while it serves): the hook keeps its
// own panic count, and a panic in it is stopped like any other.
func TestHookAddedAfterNew(t *testing.T) {
	t.Parallel()
	a, err := interceptors.New(interceptors.Config{Secret: secret}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	called := false
	interceptors.WithDecisionHook(func(context.Context, interceptors.Decision) { called = true; panic("late hook bug") })(a)
	if _, err := a.Authenticate(context.Background(), "/x.Y/Z"); status.Code(err) != codes.Unauthenticated || !called {
		t.Errorf("Authenticate = %v, hook called %v; want Unauthenticated, true", err, called)
	}
}
