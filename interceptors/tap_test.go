package interceptors_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/internal/demoservice"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// rpcCounter counts the RPCs grpc-go created a stream for.
type rpcCounter struct{ n atomic.Int64 }

func (c *rpcCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	c.n.Add(1)
	return ctx
}
func (*rpcCounter) HandleRPC(context.Context, stats.RPCStats) {}
func (*rpcCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (*rpcCounter) HandleConn(context.Context, stats.ConnStats) {}

// With the tap installed, a refused call never becomes a stream, and an
// allowed one is decided once (one decision reported), not again by the
// interceptors.
func TestTapDecidesBeforeTheStream(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var decisions []interceptors.Decision
	hook := func(_ context.Context, d interceptors.Decision) {
		mu.Lock()
		decisions = append(decisions, d)
		mu.Unlock()
	}
	a, err := interceptors.New(interceptors.Config{Secret: secret}, interceptors.WithDecisionHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	rpcs := &rpcCounter{}
	srv := grpc.NewServer(grpc.InTapHandle(a.TapHandle), grpc.StatsHandler(rpcs),
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()))
	tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})
	conn := serveInMemory(t, srv)
	echo := tokengatev1.NewEchoServiceClient(conn)

	for _, kind := range callKinds {
		_, err := kind.Do(withMD("authorization", "Bearer forged.token.here"), echo)
		assertCode(t, err, codes.Unauthenticated, "invalid token")
	}
	if n := rpcs.n.Load(); n != 0 {
		t.Errorf("%d refused calls became streams, want 0", n)
	}
	valid := "Bearer " + mustSign(t, secret, "ana", time.Now().Add(time.Hour))
	for _, kind := range callKinds {
		if user, err := kind.Do(withMD("authorization", valid), echo); err != nil || user != "ana" {
			t.Errorf("%s: user %q, err %v", kind.Name, user, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(decisions) != 2*len(callKinds) {
		t.Errorf("%d decisions for %d calls, want one each", len(decisions), 2*len(callKinds))
	}
}

// A method name grpc-go would route although it is not "/pkg.Service/Method"
// is refused, with the tap and without it (the CVE-2026-33186 class: the
// name authorized must be the name routed).
func TestNonCanonicalMethodRefused(t *testing.T) {
	t.Parallel()
	valid := withMD("authorization", "Bearer "+mustSign(t, secret, "ana", time.Now().Add(time.Hour)))
	for _, w := range wirings {
		conn := testServerWired(t, w.tap, interceptors.Config{Secret: secret})
		for _, method := range []string{"tokengate.v1.EchoService/UnaryEcho", "//tokengate.v1.EchoService/UnaryEcho"} {
			err := conn.Invoke(valid, method, &tokengatev1.EchoRequest{}, &tokengatev1.EchoResponse{})
			want := "malformed method name"
			if !w.tap && strings.HasPrefix(method, "//") {
				want = "unknown service" // grpc-go refuses it before any interceptor
			}
			assertCode(t, err, codes.Unimplemented, want)
		}
		if err := conn.Invoke(valid, "/tokengate.v1.EchoService/UnaryEcho", &tokengatev1.EchoRequest{Message: "x"}, &tokengatev1.EchoResponse{}); err != nil {
			t.Errorf("%s: canonical name: %v", w.name, err)
		}
	}
}

// A service's public entry ("/pub.Svc/") makes the service's methods
// public, never the entry's own spelling: behind a
// grpc.UnknownServiceHandler, a call to "/pub.Svc/" is refused as a
// malformed name with the tap and without it, and never reaches the
// handler, while a method of the service reaches it without credentials.
func TestPublicServiceEntryIsNotAMethod(t *testing.T) {
	t.Parallel()
	for _, w := range wirings {
		a, err := interceptors.New(interceptors.Config{Secret: secret, PublicMethods: []string{"/pub.Svc/"}}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		var reached atomic.Int64
		opts := []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
			grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
			grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error { reached.Add(1); return nil }),
		}
		if w.tap {
			opts = append(opts, grpc.InTapHandle(a.TapHandle))
		}
		conn := serveInMemory(t, grpc.NewServer(opts...))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = conn.Invoke(ctx, "/pub.Svc/", &tokengatev1.EchoRequest{}, &tokengatev1.EchoResponse{})
		assertCode(t, err, codes.Unimplemented, "malformed method name")
		if n := reached.Load(); n != 0 {
			t.Errorf("%s: the handler ran for %q", w.name, "/pub.Svc/")
		}
		_ = conn.Invoke(ctx, "/pub.Svc/Anything", &tokengatev1.EchoRequest{}, &tokengatev1.EchoResponse{})
		if n := reached.Load(); n != 1 {
			t.Errorf("%s: a public method reached the handler %d times, want 1", w.name, n)
		}
	}
}

// The tap reads the header map the transport hands it, without a copy: a
// cached token costs one allocation, the caller's context.
func TestTapAllocations(t *testing.T) {
	a, err := interceptors.New(interceptors.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	info := &tap.Info{
		FullMethodName: "/tokengate.v1.EchoService/UnaryEcho",
		Header:         metadata.MD{"authorization": {"Bearer " + mustSign(t, secret, "ana", time.Now().Add(time.Hour))}},
	}
	ctx := context.Background()
	if _, err := a.TapHandle(ctx, info); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = a.TapHandle(ctx, info) }); n > 1 {
		t.Errorf("TapHandle on a cached token: %v allocations, want at most 1", n)
	}
}

// A call the tap let in is decided once, whatever the token's exp: the
// interceptors take the tap's decision (one report), even for a token good
// until the year 9999, whose expiry does not fit in the monotonic clock's
// reach from now.
func TestTapDecisionHoldsForAnyExpiry(t *testing.T) {
	t.Parallel()
	const method = "/tokengate.v1.EchoService/UnaryEcho"
	for _, exp := range []time.Time{
		time.Now().Add(time.Hour),
		time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		var reports atomic.Int64
		a, err := interceptors.New(interceptors.Config{Secret: secret}, quiet(),
			interceptors.WithDecisionHook(func(context.Context, interceptors.Decision) { reports.Add(1) }))
		if err != nil {
			t.Fatal(err)
		}
		md := metadata.Pairs("authorization", "Bearer "+mustSign(t, secret, "ana", exp))
		ctx, err := a.TapHandle(metadata.NewIncomingContext(context.Background(), md), &tap.Info{FullMethodName: method, Header: md})
		if err != nil {
			t.Fatalf("exp %v: tap refused: %v", exp, err)
		}
		if _, err := a.AuthFunc(grpc.NewContextWithServerTransportStream(ctx, fakeStream{method: method})); err != nil {
			t.Fatalf("exp %v: interceptors refused: %v", exp, err)
		}
		if n := reports.Load(); n != 1 {
			t.Errorf("exp %v: %d decisions reported, want 1 (the tap's)", exp, n)
		}
	}
}

// A tap's status-token decision is for status methods only: the same
// context reaching the interceptors of a call to another method (a handler
// handing its context to an in-process channel) is decided again, and
// refused for want of a bearer token. A token's decision holds for any
// method.
func TestTappedStatusTokenOnlyOpensStatusMethods(t *testing.T) {
	t.Parallel()
	a, err := interceptors.New(interceptors.Config{Secret: secret, StatusToken: statusToken}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	const statusMethod = "/tokengate.v1.StatusService/Status"
	const other = "/tokengate.v1.EchoService/UnaryEcho"
	authFunc := func(md metadata.MD, tappedFor, calling string) error {
		t.Helper()
		ctx, err := a.TapHandle(metadata.NewIncomingContext(context.Background(), md), &tap.Info{FullMethodName: tappedFor, Header: md})
		if err != nil {
			t.Fatalf("tap of %s: %v", tappedFor, err)
		}
		_, err = a.AuthFunc(grpc.NewContextWithServerTransportStream(ctx, fakeStream{method: calling}))
		return err
	}
	statusMD := metadata.Pairs("x-status-token", statusToken)
	if err := authFunc(statusMD, statusMethod, statusMethod); err != nil {
		t.Errorf("status token on the status method it was tapped for: %v", err)
	}
	if err := authFunc(statusMD, statusMethod, other); status.Code(err) != codes.Unauthenticated {
		t.Errorf("status token tapped for %s, calling %s: %v, want Unauthenticated", statusMethod, other, err)
	}
	bearer := metadata.Pairs("authorization", "Bearer "+mustSign(t, secret, "ana", time.Now().Add(time.Hour)))
	if err := authFunc(bearer, statusMethod, other); err != nil {
		t.Errorf("token tapped for %s, calling %s: %v", statusMethod, other, err)
	}
}
