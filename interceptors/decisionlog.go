package interceptors

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// forwardedForKey is the metadata in which grpc-gateway names the HTTP
// caller: any X-Forwarded-For values the caller sent, then the address of
// the caller's connection, last, joined with ", ".
const forwardedForKey = "x-forwarded-for"

// LogOption configures LogDecisions.
type LogOption func(*decisionLogger)

// WithTrustedGateway names the connections that come from your own REST
// gateway, by their peer address: for a call on one of them, the record's
// "peer" is the HTTP caller, the last x-forwarded-for entry grpc-gateway
// adds, and "via" is the gateway's connection. On any other connection
// x-forwarded-for is ignored, since a gRPC caller can send it with any
// value. trusted must hold only for addresses no outside caller can have,
// such as an in-process connection (grpc-go's bufconn: Network() ==
// "bufconn") or a gateway's own address on a private network; it must be
// safe for concurrent use.
func WithTrustedGateway(trusted func(peer net.Addr) bool) LogOption {
	return func(l *decisionLogger) { l.trusted = trusted }
}

// WithDenialLogLimit sets how many denials LogDecisions logs per second
// (DefaultDenialLogLimit unless set); n <= 0 logs every one. Denials over
// the limit are counted, not logged, and the count is logged, at Warn, with
// the first denial of a later second, or once that second has passed if no
// denial comes. A caller who sends bad tokens as fast
// as it can then costs the server no more than the limit's worth of log
// records, and, with TapHandle installed, cannot make the transport wait
// on the log's writer. Allowed calls are not limited (they are logged at
// Debug, usually off); metrics count every decision.
func WithDenialLogLimit(n int) LogOption {
	return func(l *decisionLogger) { l.limit = int64(max(n, 0)) }
}

// DefaultDenialLogLimit is how many denials LogDecisions logs per second
// unless told otherwise (WithDenialLogLimit).
const DefaultDenialLogLimit = 100

type decisionLogger struct {
	logger  *slog.Logger
	trusted func(net.Addr) bool
	limit   int64 // denials logged per second; 0: every one
	now     func() time.Time
	// afterFunc is time.AfterFunc, which reports the count of a window
	// that no later denial reported (flush); tests replace it.
	afterFunc func(time.Duration, func())

	mu       sync.Mutex // held to read the clock, count and schedule a flush, never while logging
	second   int64      // the latest Unix second a denial was counted in
	count    int64      // denials counted in that second
	dropped  int64      // denials not logged, and not yet reported
	flushing bool       // a flush is scheduled
}

// LogDecisions returns a DecisionHook that logs decisions to logger
// (slog.Default() when nil). Install it with WithDecisionHook.
//
// Levels:
//   - denials at Warn: a client is misconfigured, or someone is trying
//     tokens;
//   - expired tokens at Info: tokens end their life every day, and a client
//     that sends one late is routine, not an alarm;
//   - allowed calls at Debug, since there is one per call.
//
// Each record carries the method, the reason, the user when a token was
// verified, the cause of a denial and the peer's address when known: the
// connection's, or, on a connection from a gateway named by
// WithTrustedGateway, the HTTP caller's, with the gateway's as "via". The
// token and the status token are never logged: a Decision does not hold
// them, and the causes are the token package's sentinels, which carry no
// caller input.
//
// A record below the logger's level costs one Enabled check, so leaving the
// hook installed with Debug off is cheap. Denials are logged up to
// DefaultDenialLogLimit per second (WithDenialLogLimit), so that a flood of
// bad tokens is not a flood of log records; the count of those not logged
// is logged with the next denial in another second, a later one unless the
// clock stepped back, or, when none comes, just after that second ends,
// from a timer of its own, so that the count of a flood that stops is
// reported too.
func LogDecisions(logger *slog.Logger, opts ...LogOption) DecisionHook {
	l := &decisionLogger{logger: logger, limit: DefaultDenialLogLimit, now: time.Now,
		afterFunc: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	for _, opt := range opts {
		opt(l)
	}
	return l.log
}

func (l *decisionLogger) log(ctx context.Context, d Decision) {
	level, msg := slog.LevelDebug, "tokengate: call allowed"
	switch {
	case d.Allowed:
	case d.Reason == ReasonExpired:
		level, msg = slog.LevelInfo, "tokengate: call denied"
	default:
		level, msg = slog.LevelWarn, "tokengate: call denied"
	}
	if !l.logger.Enabled(ctx, level) {
		return
	}
	if !d.Allowed && !l.admit(ctx) {
		return
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs,
		slog.String("method", d.FullMethod),
		slog.String("reason", string(d.Reason)))
	if d.User != "" {
		attrs = append(attrs, slog.String("user", d.User))
	}
	if d.Err != nil {
		attrs = append(attrs, slog.String("error", d.Err.Error()))
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if caller, ok := l.forwardedFor(ctx, p.Addr); ok {
			attrs = append(attrs, slog.String("peer", caller), slog.String("via", p.Addr.String()))
		} else {
			attrs = append(attrs, slog.String("peer", p.Addr.String()))
		}
	}
	l.logger.LogAttrs(ctx, level, msg, attrs...)
}

// admit reports whether a denial may be logged under the limit, and logs
// how many were not when a denial arrives in another second; the first
// denial it drops in a second schedules a flush, for when none arrives.
// It holds a mutex only to count, read the clock and schedule, briefly,
// never while logging.
// The clock is read under the mutex, so the seconds the denials see only
// move forward unless the clock itself steps back; then a new window
// starts (else every denial would count in the old second, and almost
// none be logged, until the clock caught up).
func (l *decisionLogger) admit(ctx context.Context) bool {
	if l.limit == 0 {
		return true
	}
	var dropped int64
	l.mu.Lock()
	now := l.now()
	if now.Unix() != l.second {
		l.second, l.count = now.Unix(), 0
		dropped, l.dropped = l.dropped, 0
	}
	l.count++
	ok := l.count <= l.limit
	if !ok {
		l.dropped++
		if !l.flushing { // the first denial not logged in this window
			l.flushing = true
			l.afterFunc(now.Truncate(time.Second).Add(time.Second).Sub(now)+flushMargin, l.flush)
		}
	}
	l.mu.Unlock()
	if dropped > 0 {
		l.logDropped(ctx, dropped)
	}
	return ok
}

// flushMargin is how long after the end of a window's second flush looks,
// so that the clock it reads has left that second.
const flushMargin = 10 * time.Millisecond

// flush logs the count of the denials not logged, once their second has
// passed without a later denial to carry it; if the clock says the second
// is not over yet, it looks again just after its end.
func (l *decisionLogger) flush() {
	var dropped int64
	l.mu.Lock()
	l.flushing = false
	if l.dropped > 0 {
		if now := l.now(); now.Unix() != l.second {
			dropped, l.dropped = l.dropped, 0
		} else { // early: look again just after the second's end
			l.flushing = true
			l.afterFunc(max(time.Unix(l.second+1, 0).Sub(now), 0)+flushMargin, l.flush)
		}
	}
	l.mu.Unlock()
	if dropped > 0 {
		l.logDropped(context.Background(), dropped)
	}
}

// logDropped logs how many denials were not logged.
func (l *decisionLogger) logDropped(ctx context.Context, dropped int64) {
	l.logger.LogAttrs(ctx, slog.LevelWarn, "tokengate: denials not logged, over the limit per second",
		slog.Int64("not_logged", dropped), slog.Int64("limit_per_second", l.limit))
}

// withLogClock sets the clock of the denial limit, for tests.
func withLogClock(now func() time.Time) LogOption {
	return func(l *decisionLogger) { l.now = now }
}

// withLogTimer sets how the denial limit schedules a flush, for tests. It
// is called with the limit's mutex held: it must not call f itself.
func withLogTimer(afterFunc func(time.Duration, func())) LogOption {
	return func(l *decisionLogger) { l.afterFunc = afterFunc }
}

// forwardedFor returns the HTTP caller named by the trusted gateway at addr.
// Only the last entry counts: the gateway appends its own caller's address
// after whatever X-Forwarded-For the caller sent, and those are the
// caller's to invent. An entry that is not an IP address is not logged.
func (l *decisionLogger) forwardedFor(ctx context.Context, addr net.Addr) (string, bool) {
	if l.trusted == nil || !l.trusted(addr) {
		return "", false
	}
	vals := metadata.ValueFromIncomingContext(ctx, forwardedForKey)
	if len(vals) == 0 {
		return "", false
	}
	last := vals[len(vals)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(last))
	if err != nil {
		return "", false
	}
	return ip.String(), true
}
