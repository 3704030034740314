package interceptors_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/tap"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/interceptors/metrics"
)

// BenchmarkTappedCall is an allowed call as the demo makes it: TapHandle
// decides it with the demo's decision hooks (Prometheus metrics, and
// LogDecisions at Info, so allowed calls are not written), then the unary
// interceptor finds the tap's caller. One cached token.
func BenchmarkTappedCall(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	a, err := interceptors.New(interceptors.Config{Secret: secret}, quiet(),
		interceptors.WithDecisionHook(interceptors.LogDecisions(slog.New(slog.DiscardHandler))),
		interceptors.WithDecisionHook(m.Hook()))
	if err != nil {
		b.Fatal(err)
	}
	a.KnowMethods(echoServer{}) // as the demo does
	unary := a.UnaryServerInterceptor()
	md := metadata.Pairs("authorization", "Bearer "+mustSign(b, secret, "ana", time.Now().Add(time.Hour)),
		"content-type", "application/grpc", "user-agent", "grpc-go/1.85.0")
	info := &tap.Info{FullMethodName: benchMethod, Header: md}
	base := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ctx, err := a.TapHandle(base, info)
		if err != nil {
			b.Fatal(err)
		}
		// What grpc-go adds before the interceptors run.
		ctx = grpc.NewContextWithServerTransportStream(metadata.NewIncomingContext(ctx, md), fakeStream{benchMethod})
		if _, err := unary(ctx, nil, benchInfo, okHandler); err != nil {
			b.Fatal(err)
		}
	}
}

// echoServer answers GetServiceInfo as a grpc.Server serving EchoService.
type echoServer struct{}

func (echoServer) GetServiceInfo() map[string]grpc.ServiceInfo {
	return map[string]grpc.ServiceInfo{"tokengate.v1.EchoService": {Methods: []grpc.MethodInfo{{Name: "UnaryEcho"}}}}
}
