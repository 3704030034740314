package interceptors

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/peer"
)

// LogDecisions returns a DecisionHook that logs every decision to logger
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
// verified, the cause of a denial and the peer's address when known. The
// token and the status token are never logged: a Decision does not hold
// them, and the causes are the token package's sentinels, which carry no
// caller input.
//
// A record below the logger's level costs one Enabled check, so leaving the
// hook installed with Debug off is cheap.
func LogDecisions(logger *slog.Logger) DecisionHook {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, d Decision) {
		level, msg := slog.LevelDebug, "tokengate: call allowed"
		switch {
		case d.Allowed:
		case d.Reason == ReasonExpired:
			level, msg = slog.LevelInfo, "tokengate: call denied"
		default:
			level, msg = slog.LevelWarn, "tokengate: call denied"
		}
		if !logger.Enabled(ctx, level) {
			return
		}
		attrs := make([]slog.Attr, 0, 5)
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
			attrs = append(attrs, slog.String("peer", p.Addr.String()))
		}
		logger.LogAttrs(ctx, level, msg, attrs...)
	}
}
