package gateway

import (
	"testing"

	_ "github.com/tokengate/tokengate/proto/tokengate/v1" // registers the RPCs learn looks up
)

// TestRouteLearn checks what a route lets the early decision use: the one
// unary RPC its calls name, nothing for a streaming RPC, and nothing once
// its calls named two RPCs (a handler that picks the RPC from the request).
func TestRouteLearn(t *testing.T) {
	const unary, other, stream = "/tokengate.v1.EchoService/UnaryEcho", "/tokengate.v1.StatusService/Status", "/tokengate.v1.EchoService/ServerStreamingEcho"
	var rt route
	if _, ok := rt.known(); ok {
		t.Fatal("a new route knows an RPC")
	}
	rt.learn(unary)
	rt.learn(unary)
	if m, ok := rt.known(); !ok || m != unary {
		t.Fatalf("known() = %q, %v after two calls of %s", m, ok, unary)
	}
	rt.learn(other)
	if m, ok := rt.known(); ok {
		t.Errorf("known() = %q after calls of two RPCs, want nothing", m)
	}
	rt.learn(unary)
	if _, ok := rt.known(); ok {
		t.Error("a route that named two RPCs is known again")
	}

	var st route
	st.learn(stream)
	if m, ok := st.known(); ok {
		t.Errorf("known() = %q for a streaming RPC, want nothing", m)
	}
}
