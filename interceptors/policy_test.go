package interceptors_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/tap"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/internal/demoservice"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
	"github.com/tokengate/tokengate/wire"
)

const newSecret = "0123456789abcdef0123456789abcdef-next"

// serveAuth runs the demo services and the health service behind a, and
// returns a connection to them.
func serveAuth(t *testing.T, a *interceptors.Authenticator) *grpc.ClientConn {
	t.Helper()
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
	)
	tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	conn := serveInMemory(t, srv)
	return conn
}

func quiet() interceptors.Option { return interceptors.WithLogger(slog.New(slog.DiscardHandler)) }

// events records what the policy hook sees.
type events struct {
	mu  sync.Mutex
	all []interceptors.PolicyEvent
}

func (e *events) hook(ev interceptors.PolicyEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) list() []interceptors.PolicyEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]interceptors.PolicyEvent(nil), e.all...)
}

func unary(ctx context.Context, echo tokengatev1.EchoServiceClient) error {
	_, err := echo.UnaryEcho(ctx, &tokengatev1.EchoRequest{Message: "hi"})
	return err
}

func bearerMD(t *testing.T, key, user string) context.Context {
	return withMD("authorization", "Bearer "+mustSign(t, key, user, time.Now().Add(time.Hour)))
}

// A rotation through Update: the new secret is accepted as soon as it is
// current, the old one while it is previous, and not after it is retired;
// the old policy's cache does not carry a token across.
func TestUpdateRotatesSecrets(t *testing.T) {
	t.Parallel()
	var ev events
	a, err := interceptors.New(interceptors.Config{Secret: secret}, quiet(), interceptors.WithPolicyHook(ev.hook))
	if err != nil {
		t.Fatal(err)
	}
	echo := tokengatev1.NewEchoServiceClient(serveAuth(t, a))
	oldTok, newTok := bearerMD(t, secret, "ana"), bearerMD(t, newSecret, "ana")

	assertCode(t, unary(oldTok, echo), codes.OK, "")
	assertCode(t, unary(newTok, echo), codes.Unauthenticated, "signature")

	if err := a.Update(interceptors.Config{Secret: newSecret, PreviousSecret: secret}); err != nil {
		t.Fatal(err)
	}
	assertCode(t, unary(oldTok, echo), codes.OK, "")
	assertCode(t, unary(newTok, echo), codes.OK, "")

	if err := a.Update(interceptors.Config{Secret: newSecret}); err != nil {
		t.Fatal(err)
	}
	assertCode(t, unary(oldTok, echo), codes.Unauthenticated, "signature does not match")
	assertCode(t, unary(newTok, echo), codes.OK, "")

	if got := ev.list(); len(got) != 2 || !got[0].Applied || !got[1].Applied {
		t.Errorf("policy events = %+v, want two applied", got)
	}
	// The same policy again changes nothing and reports nothing.
	if err := a.Update(interceptors.Config{Secret: newSecret}); err != nil || len(ev.list()) != 2 {
		t.Errorf("no-op Update = %v, events %d", err, len(ev.list()))
	}
}

// A removed user's token is refused on its next call, although the token
// sits in the cache of the policy that let it in.
func TestUpdateRevokesCachedUser(t *testing.T) {
	t.Parallel()
	a, err := interceptors.New(interceptors.Config{Secret: secret, Users: []string{"ana", "bob"}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	echo := tokengatev1.NewEchoServiceClient(serveAuth(t, a))
	bob := bearerMD(t, secret, "bob")
	assertCode(t, unary(bob, echo), codes.OK, "")
	assertCode(t, unary(bob, echo), codes.OK, "") // now a cache hit
	if err := a.Update(interceptors.Config{Secret: secret, Users: []string{"ana"}}); err != nil {
		t.Fatal(err)
	}
	assertCode(t, unary(bob, echo), codes.Unauthenticated, "user not allowed")
	assertCode(t, unary(bearerMD(t, secret, "ana"), echo), codes.OK, "")
}

// A caller that edits its Config's slices in place and calls Update again
// is seen to change them: the policy keeps its own copy. Users: bob is
// revoked and carol let in; StatusMethods, fixed at startup: refused, not
// ignored.
func TestUpdateSeesSlicesEditedInPlace(t *testing.T) {
	t.Parallel()
	users := []string{"ana", "bob"}
	status := slices.Clone(wire.DefaultStatusMethods)
	cfg := interceptors.Config{Secret: secret, Users: users, StatusMethods: status}
	a, err := interceptors.New(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	echo := tokengatev1.NewEchoServiceClient(serveAuth(t, a))
	assertCode(t, unary(bearerMD(t, secret, "bob"), echo), codes.OK, "")
	users[1] = "carol" // the reloader's new list, in the same array
	if err := a.Update(cfg); err != nil {
		t.Fatal(err)
	}
	assertCode(t, unary(bearerMD(t, secret, "bob"), echo), codes.Unauthenticated, "user not allowed")
	assertCode(t, unary(bearerMD(t, secret, "carol"), echo), codes.OK, "")
	status[0] = "/x.Y/Z"
	if err := a.Update(cfg); !errors.Is(err, interceptors.ErrFixedSetting) {
		t.Errorf("Update with a status method edited in place = %v, want ErrFixedSetting", err)
	}
}

// A bad policy changes nothing: the old one keeps serving, and the refusal
// is returned and reported.
func TestUpdateRefusesBadPolicies(t *testing.T) {
	t.Parallel()
	var ev events
	a, err := interceptors.New(interceptors.Config{Secret: secret, Users: []string{"ana"}}, quiet(), interceptors.WithPolicyHook(ev.hook))
	if err != nil {
		t.Fatal(err)
	}
	echo := tokengatev1.NewEchoServiceClient(serveAuth(t, a))
	ana := bearerMD(t, secret, "ana")
	bad := []struct {
		name string
		cfg  interceptors.Config
		want error
	}{
		{"empty secret turns nothing off", interceptors.Config{}, interceptors.ErrCannotDisable},
		{"allow-list of nobody", interceptors.Config{Secret: secret, Users: []string{" "}}, interceptors.ErrNoUsers},
		{"status methods are fixed", interceptors.Config{Secret: secret, StatusMethods: []string{"/x.Y/Z"}}, interceptors.ErrFixedSetting},
		{"public methods are fixed", interceptors.Config{Secret: secret, PublicMethods: []string{"/x.Y/Z"}}, interceptors.ErrFixedSetting},
		// Started with the default status methods (nil): an empty list
		// asks for none, which is a change too.
		{"no status methods is a change", interceptors.Config{Secret: secret, StatusMethods: []string{}}, interceptors.ErrFixedSetting},
		{"a blank secret", interceptors.Config{Secret: " \n", Users: []string{"ana"}}, interceptors.ErrBlankSecret},
		{"a blank status token", interceptors.Config{Secret: secret, Users: []string{"ana"}, StatusToken: " "}, interceptors.ErrBlankSecret},
		// A secret file caught with one byte of its new content written.
		{"a shorter secret", interceptors.Config{Secret: "0", Users: []string{"ana"}}, interceptors.ErrCannotWeaken},
		{"a short previous secret", interceptors.Config{Secret: newSecret, PreviousSecret: "0", Users: []string{"ana"}}, interceptors.ErrCannotWeaken},
	}
	for _, tc := range bad {
		if err := a.Update(tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("%s: Update = %v, want %v", tc.name, err, tc.want)
		}
		assertCode(t, unary(ana, echo), codes.OK, "")
		assertCode(t, unary(bearerMD(t, secret, "bob"), echo), codes.Unauthenticated, "user not allowed")
	}
	got := ev.list()
	if len(got) != len(bad) {
		t.Fatalf("policy events = %+v, want %d refusals", got, len(bad))
	}
	for _, e := range got {
		if e.Applied || e.Err == nil {
			t.Errorf("event %+v, want a refusal with its error", e)
		}
	}

	// The same methods, however listed, are no change.
	for _, same := range [][]string{wire.DefaultStatusMethods, slices.Concat(wire.DefaultStatusMethods, []string{" " + wire.DefaultStatusMethods[0]})} {
		reversed := slices.Clone(same)
		slices.Reverse(reversed)
		if err := a.Update(interceptors.Config{Secret: secret, Users: []string{"ana"}, StatusMethods: reversed, PublicMethods: []string{}}); err != nil {
			t.Errorf("Update with the status methods %q, the default ones: %v", reversed, err)
		}
	}

	// A server started with a short secret (New warns) may go on with
	// short ones: only a reload below the secret in force is refused.
	short, err := interceptors.New(interceptors.Config{Secret: "short"}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := short.Update(interceptors.Config{Secret: "other", PreviousSecret: "short"}); err != nil {
		t.Errorf("Update from a short secret to another: %v", err)
	}
	// A rotation away from a short secret, by the README's steps: the
	// short one stays as the previous secret while other changes (a user
	// revoked) go on, and then leaves.
	rotating, err := interceptors.New(interceptors.Config{Secret: "short", Users: []string{"ana", "bob"}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for i, cfg := range []interceptors.Config{
		{Secret: "short", PreviousSecret: "short", Users: []string{"ana", "bob"}},
		{Secret: newSecret, PreviousSecret: "short", Users: []string{"ana", "bob"}},
		{Secret: newSecret, PreviousSecret: "short", Users: []string{"ana"}},
		{Secret: newSecret, Users: []string{"ana"}},
	} {
		if err := rotating.Update(cfg); err != nil {
			t.Errorf("rotation away from a short secret, step %d: %v", i+1, err)
		}
	}
	if err := rotating.Update(interceptors.Config{Secret: newSecret, PreviousSecret: "short", Users: []string{"ana"}}); !errors.Is(err, interceptors.ErrCannotWeaken) {
		t.Errorf("the short secret back once gone: %v, want ErrCannotWeaken", err)
	}
	// A short previous secret stays the previous secret: it cannot become
	// the secret, which would let any short key in after it.
	mid, err := interceptors.New(interceptors.Config{Secret: newSecret, PreviousSecret: "short"}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []interceptors.Config{{Secret: "short"}, {Secret: "short", PreviousSecret: "short"}, {Secret: newSecret, PreviousSecret: "other"}} {
		if err := mid.Update(cfg); !errors.Is(err, interceptors.ErrCannotWeaken) {
			t.Errorf("from a long secret with a short previous one, Update to secret %q, previous %q: %v, want ErrCannotWeaken", cfg.Secret, cfg.PreviousSecret, err)
		}
	}

	off, err := interceptors.New(interceptors.Config{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := off.Update(interceptors.Config{Secret: secret}); !errors.Is(err, interceptors.ErrStartedDisabled) {
		t.Errorf("Update on an Authenticator started without auth = %v, want ErrStartedDisabled", err)
	}
}

// openEcho opens a bidirectional stream and checks that it works.
func openEcho(t *testing.T, echo tokengatev1.EchoServiceClient, ctx context.Context) tokengatev1.EchoService_BidirectionalStreamingEchoClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	t.Cleanup(cancel)
	s, err := echo.BidirectionalStreamingEcho(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertEchoes(t, s)
	return s
}

func assertEchoes(t *testing.T, s tokengatev1.EchoService_BidirectionalStreamingEchoClient) {
	t.Helper()
	if err := s.Send(&tokengatev1.EchoRequest{Message: "ping"}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if r, err := s.Recv(); err != nil || r.GetMessage() != "ping" {
		t.Fatalf("reply = %v, %v", r, err)
	}
}

// assertEnded waits for the server to end s and checks how.
func assertEnded(t *testing.T, s tokengatev1.EchoService_BidirectionalStreamingEchoClient, want string) {
	t.Helper()
	ended := make(chan error, 1)
	go func() {
		_, err := s.Recv()
		ended <- err
	}()
	select {
	case err := <-ended:
		assertCode(t, err, codes.Unauthenticated, want)
	case <-time.After(time.Second):
		t.Fatalf("stream still open 1s after the update, want it ended with %q", want)
	}
}

// Open streams follow the policy: the one whose user was removed and the
// one whose secret was retired end at once, with the reason a new call
// would get; the others go on.
func TestUpdateEndsRevokedStreams(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var ended []interceptors.Decision
	hook := func(_ context.Context, d interceptors.Decision) {
		if d.StreamEnded {
			mu.Lock()
			ended = append(ended, d)
			mu.Unlock()
		}
	}
	a, err := interceptors.New(interceptors.Config{Secret: newSecret, PreviousSecret: secret, Users: []string{"ana", "bob"}},
		quiet(), interceptors.WithDecisionHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	echo := tokengatev1.NewEchoServiceClient(serveAuth(t, a))
	anaNew := openEcho(t, echo, bearerMD(t, newSecret, "ana"))
	anaOld := openEcho(t, echo, bearerMD(t, secret, "ana"))
	bobNew := openEcho(t, echo, bearerMD(t, newSecret, "bob"))

	if err := a.Update(interceptors.Config{Secret: newSecret, PreviousSecret: secret, Users: []string{"ana"}}); err != nil {
		t.Fatal(err)
	}
	assertEnded(t, bobNew, "user not allowed")
	assertEchoes(t, anaNew)
	assertEchoes(t, anaOld)

	if err := a.Update(interceptors.Config{Secret: newSecret, Users: []string{"ana"}}); err != nil {
		t.Fatal(err)
	}
	assertEnded(t, anaOld, "signature does not match")
	assertEchoes(t, anaNew)
	if err := anaNew.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := anaNew.Recv(); err != io.EOF {
		t.Errorf("untouched stream ended with %v, want a clean end", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(ended) != 2 || ended[0].Reason != interceptors.ReasonUserNotAllowed || ended[0].User != "bob" ||
		ended[1].Reason != interceptors.ReasonInvalidToken || ended[1].User != "ana" {
		t.Errorf("stream-end decisions = %+v", ended)
	}
}

// A stream let in by the status token (a health Watch) ends when the
// status token changes, and only then.
func TestUpdateEndsStatusTokenStreams(t *testing.T) {
	t.Parallel()
	a, err := interceptors.New(interceptors.Config{Secret: secret, StatusToken: statusToken}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	hc := healthpb.NewHealthClient(serveAuth(t, a))
	ctx, cancel := context.WithTimeout(withMD("x-status-token", statusToken), 10*time.Second)
	defer cancel()
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first health update = %v, %v", r, err)
	}
	// A change that keeps the status token leaves the stream alone.
	if err := a.Update(interceptors.Config{Secret: newSecret, StatusToken: statusToken}); err != nil {
		t.Fatal(err)
	}
	if err := a.Update(interceptors.Config{Secret: newSecret, StatusToken: "another-status-token"}); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := w.Recv()
		ended <- err
	}()
	select {
	case err := <-ended:
		assertCode(t, err, codes.Unauthenticated, "status token")
	case <-time.After(time.Second):
		t.Fatal("health watch still open 1s after its status token changed")
	}
}

// Updates racing with calls: every call is decided by one whole policy,
// and -race finds no data race.
func TestUpdateConcurrentWithCalls(t *testing.T) {
	t.Parallel()
	a, err := interceptors.New(interceptors.Config{Secret: secret, PreviousSecret: newSecret}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	echo := tokengatev1.NewEchoServiceClient(serveAuth(t, a))
	// Both policies accept both tokens: no call may fail.
	tokens := []context.Context{bearerMD(t, secret, "ana"), bearerMD(t, newSecret, "ana")}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 4 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := unary(tokens[(i+n)%2], echo); err != nil {
					t.Errorf("call failed during updates: %v", err)
					return
				}
			}
		})
	}
	for i := range 200 {
		cfg := interceptors.Config{Secret: secret, PreviousSecret: newSecret}
		if i%2 == 1 {
			cfg = interceptors.Config{Secret: newSecret, PreviousSecret: secret}
		}
		if err := a.Update(cfg); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// A unary call the tap let in reaches the interceptors only once its whole
// message has arrived, which a client can delay: if the policy changed or
// the token expired meanwhile, the interceptors decide again, and a tap's
// caller means nothing to another Authenticator.
func TestTapDecisionDoesNotOutliveItsPolicy(t *testing.T) {
	t.Parallel()
	const method = "/tokengate.v1.EchoService/UnaryEcho"
	tapped := func(a *interceptors.Authenticator, tok string) context.Context {
		t.Helper()
		md := metadata.Pairs("authorization", "Bearer "+tok)
		ctx, err := a.TapHandle(metadata.NewIncomingContext(context.Background(), md), &tap.Info{FullMethodName: method, Header: md})
		if err != nil {
			t.Fatalf("tap refused: %v", err)
		}
		return grpc.NewContextWithServerTransportStream(ctx, fakeStream{method: method})
	}
	a, err := interceptors.New(interceptors.Config{Secret: secret, Users: []string{"ana", "bob"}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	bob := tapped(a, mustSign(t, secret, "bob", time.Now().Add(time.Hour)))
	if _, err := a.AuthFunc(bob); err != nil {
		t.Fatalf("same policy: %v", err)
	}
	if err := a.Update(interceptors.Config{Secret: secret, Users: []string{"ana"}}); err != nil {
		t.Fatal(err)
	}
	_, err = a.AuthFunc(bob)
	assertCode(t, err, codes.Unauthenticated, "user not allowed")

	other, err := interceptors.New(interceptors.Config{Secret: newSecret}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.AuthFunc(tapped(a, mustSign(t, secret, "ana", time.Now().Add(time.Hour))))
	assertCode(t, err, codes.Unauthenticated, "signature does not match")

	soon := tapped(a, mustSign(t, secret, "ana", time.Now().Truncate(time.Second)))
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	_, err = a.AuthFunc(soon)
	assertCode(t, err, codes.Unauthenticated, "token expired")
}

// A smaller leeway reaches open streams: one whose token the new policy
// finds expired, or not yet valid, ends at once, as a new call would be
// refused, instead of running on to the end its timer was set for under the
// old leeway. With stream expiry off, time never ends a stream, and a
// reload does not either.
func TestUpdateShrinkingLeewayEndsStreams(t *testing.T) {
	t.Parallel()
	for _, expiry := range []bool{true, false} {
		a, err := interceptors.New(interceptors.Config{Secret: secret, Leeway: time.Minute}, quiet(), interceptors.WithStreamExpiry(expiry))
		if err != nil {
			t.Fatal(err)
		}
		echo := tokengatev1.NewEchoServiceClient(serveAuth(t, a))
		expired := openEcho(t, echo, withMD("authorization", "Bearer "+mustSign(t, secret, "ana", time.Now().Add(-10*time.Second))))
		early, err := token.Sign([]byte(secret), token.Claims{User: "ana", ExpiresAt: time.Now().Add(time.Hour), NotBefore: time.Now().Add(10 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		notYet := openEcho(t, echo, withMD("authorization", "Bearer "+early))
		if err := a.Update(interceptors.Config{Secret: secret}); err != nil {
			t.Fatal(err)
		}
		if !expiry {
			assertEchoes(t, expired)
			assertEchoes(t, notYet)
			continue
		}
		assertEnded(t, expired, "token expired")
		assertEnded(t, notYet, "token not valid yet")
	}
}

// A stream whose token is past exp but within the leeway is still judged on
// its user when the policy changes: the verifier reports the time first,
// and the user must not hide behind it.
func TestUpdateEndsStreamsWithinTheLeeway(t *testing.T) {
	t.Parallel()
	a, err := interceptors.New(interceptors.Config{Secret: secret, Users: []string{"ana", "bob"}, Leeway: time.Minute}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	echo := tokengatev1.NewEchoServiceClient(serveAuth(t, a))
	late := withMD("authorization", "Bearer "+mustSign(t, secret, "bob", time.Now().Add(-2*time.Second)))
	s := openEcho(t, echo, late)
	if err := a.Update(interceptors.Config{Secret: secret, Users: []string{"ana"}, Leeway: time.Minute}); err != nil {
		t.Fatal(err)
	}
	assertEnded(t, s, "user not allowed")
}

// A reload never widens "these users" to "anyone", and a Config that
// leaves StatusMethods and PublicMethods nil keeps the ones in force.
func TestUpdateCannotWidenAndKeepsFixedSettings(t *testing.T) {
	t.Parallel()
	a, err := interceptors.New(interceptors.Config{Secret: secret, Users: []string{"ana"}, PublicMethods: []string{"/x.Public/"}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Update(interceptors.Config{Secret: secret}); !errors.Is(err, interceptors.ErrCannotWiden) {
		t.Errorf("dropping the users list: %v, want ErrCannotWiden", err)
	}
	if err := a.Update(interceptors.Config{Secret: newSecret, Users: []string{"ana"}}); err != nil {
		t.Errorf("a Config leaving PublicMethods nil: %v", err)
	}
}
