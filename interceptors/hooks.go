package interceptors

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync/atomic"
)

// hook is a decision or policy hook, with the count of its panics.
type hook[F DecisionHook | PolicyHook] struct {
	fn     F
	panics *atomic.Uint64
}

// report hands d to every decision hook (see callHook).
func (a *Authenticator) report(ctx context.Context, d Decision) {
	for _, h := range a.hooks {
		a.callHook(h.panics, "decision", d.FullMethod, func() { h.fn(ctx, d) })
	}
}

// reportPolicy hands e to every policy hook (see callHook).
func (a *Authenticator) reportPolicy(e PolicyEvent) {
	for _, h := range a.policyHooks {
		a.callHook(h.panics, "policy", "", func() { h.fn(e) })
	}
}

// callHook calls a hook so that whatever it does, what was decided stands
// and the other hooks still run. A panic must not unwind the connection's
// reader goroutine, where the tap calls the decision hooks: grpc-go would
// hang the connection, and Server.Stop with it. So a panic is stopped and
// logged with its stack, at the hook's 1st, 2nd, 4th, 8th… panic (panics
// counts them), so that a hook broken for good floods neither the log nor
// the reader goroutine with stack traces. A runtime.Goexit cannot be
// stopped; it is logged, as it ends the goroutine.
func (a *Authenticator) callHook(panics *atomic.Uint64, kind, method string, call func()) {
	ended := false
	defer func() {
		if !ended { // neither returned nor panicked: a runtime.Goexit
			a.logger.Error("tokengate: a "+kind+" hook called runtime.Goexit, which ends the goroutine it runs on; hooks must return",
				methodAttr(method)...)
		}
	}()
	if r, ok := catchPanic(call); !ok {
		if n := panics.Add(1); n&(n-1) == 0 {
			a.logger.Error("tokengate: a "+kind+" hook panicked; the panic was stopped, and is logged at the hook's 1st, 2nd, 4th, 8th… panic",
				append(methodAttr(method), "panic", fmt.Sprint(r), "panics", n, "stack", string(debug.Stack()))...)
		}
	}
	ended = true
}

// catchPanic calls call and stops a panic in it: ok is false then, even
// for a panic(nil) under GODEBUG=panicnil=1, and r is what recover
// returned. A runtime.Goexit in call does not return here.
func catchPanic(call func()) (r any, ok bool) {
	defer func() {
		if !ok {
			r = recover()
		}
	}()
	call()
	return nil, true
}

// methodAttr is the method of a decision hook's log record; a policy
// hook's has none.
func methodAttr(method string) []any {
	if method == "" {
		return nil
	}
	return []any{"method", method}
}
