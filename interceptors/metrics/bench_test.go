package metrics_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/interceptors/metrics"
)

var allowedDecision = interceptors.Decision{
	FullMethod: "/tokengate.v1.EchoService/UnaryEcho",
	Allowed:    true,
	Reason:     interceptors.ReasonValidToken,
	User:       "ana",
	Duration:   300,
}

// The hook runs on every call (on the transport's reader goroutine when the
// tap is installed): a decision whose series exists costs no allocation,
// and still counts.
func TestHookAllocations(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	hook := m.Hook()
	ctx := context.Background()
	hook(ctx, allowedDecision) // makes the series
	if n := testing.AllocsPerRun(100, func() { hook(ctx, allowedDecision) }); n != 0 {
		t.Errorf("hook on an existing series: %v allocations, want 0", n)
	}
	want := `
# HELP tokengate_auth_decisions_total Authentication decisions by gRPC method, result (allowed or denied) and reason.
# TYPE tokengate_auth_decisions_total counter
tokengate_auth_decisions_total{method="/tokengate.v1.EchoService/UnaryEcho",reason="valid_token",result="allowed"} 102
`
	// 102: the first call, AllocsPerRun's warm-up run and its 100.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tokengate_auth_decisions_total"); err != nil {
		t.Error(err)
	}
}

// BenchmarkHook is the decision hook on an allowed call, from every core.
func BenchmarkHook(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	hook := m.Hook()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			hook(ctx, allowedDecision)
		}
	})
}
