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

// report hands d to every decision hook (see hookEnded).
func (a *Authenticator) report(ctx context.Context, d Decision) {
	for _, h := range a.hooks {
		a.callHook(h, ctx, d)
	}
}

func (a *Authenticator) callHook(h hook[DecisionHook], ctx context.Context, d Decision) {
	returned := false
	defer a.hookEnded(h.panics, "decision", d.FullMethod, &returned)
	h.fn(ctx, d)
	returned = true
}

// reportPolicy hands e to every policy hook (see hookEnded).
func (a *Authenticator) reportPolicy(e PolicyEvent) {
	for _, h := range a.policyHooks {
		a.callPolicyHook(h, e)
	}
}

func (a *Authenticator) callPolicyHook(h hook[PolicyHook], e PolicyEvent) {
	returned := false
	defer a.hookEnded(h.panics, "policy", "", &returned)
	h.fn(e)
	returned = true
}

// hookEnded, deferred around a hook, makes sure that whatever the hook
// did, what was decided stands and the other hooks still run. A panic must
// not unwind the connection's reader goroutine, where the tap calls the
// decision hooks: grpc-go would hang the connection, and Server.Stop with
// it. So a panic is stopped and logged with its stack, at the hook's 1st,
// 2nd, 4th, 8th… panic (panics counts them), so that a hook broken for
// good floods neither the log nor the reader goroutine with stack traces.
// A hook that did not return and left recover nothing called
// runtime.Goexit, which cannot be stopped and ends the goroutine (or, only
// under GODEBUG=panicnil=1, panicked with nil, which is stopped).
func (a *Authenticator) hookEnded(panics *atomic.Uint64, kind, method string, returned *bool) {
	if *returned {
		return
	}
	r := recover()
	n := panics.Add(1)
	if n&(n-1) != 0 {
		return
	}
	if r == nil {
		a.logger.Error("tokengate: a "+kind+" hook did not return: it called runtime.Goexit, which ends the goroutine it runs on (or, under GODEBUG=panicnil=1, panic(nil), which was stopped); hooks must return",
			append(methodAttr(method), "panics", n, "stack", string(debug.Stack()))...)
		return
	}
	a.logger.Error("tokengate: a "+kind+" hook panicked; the panic was stopped, and is logged at the hook's 1st, 2nd, 4th, 8th… panic",
		append(methodAttr(method), "panic", fmt.Sprint(r), "panics", n, "stack", string(debug.Stack()))...)
}

// methodAttr is the method of a decision hook's log record; a policy
// hook's has none.
func methodAttr(method string) []any {
	if method == "" {
		return nil
	}
	return []any{"method", method}
}
