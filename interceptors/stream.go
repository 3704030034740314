package interceptors

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tokengate/tokengate/wire"
)

// chainStream runs outer, then inner around the handler.
func chainStream(outer, inner grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return outer(srv, ss, info, func(srv any, ss grpc.ServerStream) error {
			return inner(srv, ss, info, handler)
		})
	}
}

// abandonedHandlerGrace is how long a handler may keep running after its
// stream was ended at token expiry before it is reported as stuck.
const abandonedHandlerGrace = 10 * time.Second

// handlerOutcome is how a stream handler run on its own goroutine ended:
// it returned err, it panicked with panicValue, or it called
// runtime.Goexit.
type handlerOutcome struct {
	err        error
	panicked   bool
	panicValue any
	stack      []byte
	goexit     bool
}

// runHandler runs handler and sends its outcome to done, a panic or a
// runtime.Goexit included: a panic on a goroutine of ours would otherwise
// kill the process, out of reach of any recovery interceptor the server has
// chained before us. A panic and a Goexit are told apart as
// x/sync/singleflight does: a recovered panic returns from the inner
// function, a Goexit never does (a value recovered cannot tell them apart:
// with GODEBUG=panicnil=1, panic(nil) recovers nil, as a Goexit does).
func runHandler(done chan<- handlerOutcome, handler grpc.StreamHandler, srv any, ss grpc.ServerStream) {
	var out handlerOutcome
	returned, recovered := false, false
	defer func() {
		if !returned && !recovered {
			out = handlerOutcome{goexit: true}
		}
		done <- out
	}()
	func() {
		defer func() {
			if !returned {
				out.panicked, out.panicValue, out.stack = true, recover(), debug.Stack()
			}
		}()
		out.err = handler(srv, ss)
		returned = true
	}()
	recovered = !returned
}

// openStream is a stream the Authenticator let in and is watching: what let
// it in, and where to tell it that a new policy refuses it, or that a new
// policy accepts it with another leeway.
type openStream struct {
	token       string // the bearer token; "" when let in by the status token
	user        string // the token's user
	statusToken bool   // let in by the status token
	// statusTokenValue is the status token it was let in with.
	statusTokenValue string
	revoked          chan error
	// rearm asks the stream to set its expiry timer again, by the leeway
	// of the policy in force.
	rearm chan struct{}
}

// revoke tells s why it must end. It never blocks: one reason is enough.
func (s *openStream) revoke(err error) {
	select {
	case s.revoked <- err:
	default:
	}
}

// rearmExpiry asks s to set its expiry timer again. It never blocks: the
// stream reads the policy in force when it does, so one request is enough.
func (s *openStream) rearmExpiry() {
	select {
	case s.rearm <- struct{}{}:
	default:
	}
}

// streamRegistry holds the open streams, for a new policy to judge. Opening
// and closing a stream cost a lock each; a call never walks the registry,
// only Update does.
type streamRegistry struct {
	mu   sync.Mutex
	open map[*openStream]struct{}
}

func (r *streamRegistry) add(s *openStream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open == nil {
		r.open = make(map[*openStream]struct{})
	}
	r.open[s] = struct{}{}
}

func (r *streamRegistry) remove(s *openStream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.open, s)
}

// revoke ends every open stream that p refuses and returns how many. With
// expiry (WithStreamExpiry), the others set their expiry timers again by
// p's leeway, which may differ from the one they were set with.
func (r *streamRegistry) revoke(p *policy, expiry bool) int {
	r.mu.Lock()
	streams := make([]*openStream, 0, len(r.open))
	for s := range r.open {
		streams = append(streams, s)
	}
	r.mu.Unlock()
	n := 0
	for _, s := range streams {
		if err := p.refuses(s, expiry); err != nil {
			s.revoke(err)
			n++
		} else if expiry && !s.statusToken {
			s.rearmExpiry()
		}
	}
	return n
}

// watchStream runs a stream's handler while watching two things that can
// end the stream before the handler does: its token expiring (see
// WithStreamExpiry) and a new policy that refuses it (see Update). Either
// way the handler's context is cancelled and the call returns
// Unauthenticated at once, even if the handler is blocked in RecvMsg.
// Returning ends the RPC, which in turn unblocks the handler's RecvMsg and
// SendMsg.
//
// The handler runs on a goroutine of its own so that the call can end while
// the handler is blocked. A panic in it is carried back and raised again
// here, on the call's goroutine, so that a recovery interceptor chained
// before tokengate handles it as it would without tokengate. A handler still
// running when its stream was cut is watched until it returns (see
// watchAbandoned).
//
// A token is valid through its exp second (see package token), so the
// stream ends when that second, plus the leeway, is over.
func (a *Authenticator) watchStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	c := callerFrom(ss.Context())
	if c == nil || c.gen == 0 {
		return handler(srv, ss) // a public method: nothing to watch
	}
	// What let the stream in, read again from its metadata rather than
	// carried by every call's context: only streams need it.
	s := &openStream{user: c.verified.User(), statusToken: c.statusToken, revoked: make(chan error, 1), rearm: make(chan struct{}, 1)}
	if c.statusToken {
		if vals := metadata.ValueFromIncomingContext(ss.Context(), wire.StatusTokenKey); len(vals) == 1 {
			s.statusTokenValue = vals[0]
		}
	} else {
		s.token, _ = bearerToken(metadata.ValueFromIncomingContext(ss.Context(), wire.AuthorizationKey))
	}
	a.streams.add(s)
	defer a.streams.remove(s)
	// An Update that swapped the policy after this stream was let in, but
	// walked the registry before it was added, did not see it: judge it
	// here, by the policy in force now.
	p := a.policy.Load()
	if p.gen != c.gen {
		if err := p.refuses(s, a.streamExpiry); err != nil {
			s.revoke(err)
		}
	}

	var timer *time.Timer
	var expiry <-chan time.Time
	if a.streamExpiry && !c.statusToken {
		timer = time.NewTimer(time.Until(validUntil(c.verified.ExpiresAt(), p.leeway)))
		defer timer.Stop()
		expiry = timer.C
	}

	ctx, cancel := context.WithCancelCause(ss.Context())
	defer cancel(nil)
	wrapped := &middleware.WrappedServerStream{ServerStream: ss, WrappedContext: ctx}
	done := make(chan handlerOutcome, 1)
	go runHandler(done, handler, srv, wrapped)

	var why error
	for why == nil {
		select {
		case out := <-done:
			switch {
			case out.panicked:
				panic(out.panicValue)
			case out.goexit: // as it would have ended grpc-go's goroutine
				runtime.Goexit()
			}
			return out.err
		case <-expiry:
			why = ErrTokenExpiredInStream
		case why = <-s.revoked:
		case <-s.rearm: // a new policy, with its own leeway (sent only with a timer)
			timer.Reset(time.Until(validUntil(c.verified.ExpiresAt(), a.policy.Load().leeway)))
		}
	}
	cancel(why)
	method := a.methodName(info.FullMethod, a.facts(info.FullMethod), true)
	if a.hooks != nil {
		a.report(ss.Context(), Decision{FullMethod: method, Reason: denialFor(why).reason,
			User: c.verified.User(), Err: why, StreamEnded: true})
	}
	go a.watchAbandoned(done, method, abandonedHandlerGrace)
	return denialFor(why).status
}

// watchAbandoned waits for the handler of a stream that was ended at token
// expiry. Ending the RPC unblocks the handler's RecvMsg and SendMsg, so a
// handler that uses its stream or its context returns at once; one that
// does not is logged after grace, and a panic after the cut, which no
// recovery interceptor can see any more, is logged with its stack instead
// of being lost.
func (a *Authenticator) watchAbandoned(done <-chan handlerOutcome, method string, grace time.Duration) {
	timer := time.NewTimer(grace)
	defer timer.Stop()
	var out handlerOutcome
	select {
	case out = <-done:
	case <-timer.C:
		a.logger.Warn("tokengate: stream handler still running after tokengate ended its stream (token expired or revoked); it should return when its context is done",
			"method", method, "after", grace)
		out = <-done
	}
	if out.panicked {
		a.logger.Error("tokengate: stream handler panicked after tokengate ended its stream (token expired or revoked)",
			"method", method, "panic", fmt.Sprint(out.panicValue), "stack", string(out.stack))
	}
}
