package metrics_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/interceptors/metrics"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
)

// The wiring: the Metrics' hook on the Authenticator, and the Authenticator's
// interceptors on the server. Serve reg with promhttp.HandlerFor; here it
// is printed as a scrape would see it.
func ExampleNew() {
	const key = "an-example-secret-of-32-bytes-or-more"
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		log.Fatal(err)
	}
	a, err := interceptors.New(interceptors.Config{Secret: key}, interceptors.WithDecisionHook(m.Hook()))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
	)
	tokengatev1.RegisterEchoServiceServer(srv, echo{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()

	tok, _, _ := token.Issue([]byte(key), "ana", time.Hour, time.Now())
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	echo := tokengatev1.NewEchoServiceClient(conn)
	creds := grpc.PerRPCCredentials(interceptors.BearerToken(tok, interceptors.AllowInsecure()))
	echo.UnaryEcho(context.Background(), &tokengatev1.EchoRequest{}, creds)
	echo.UnaryEcho(context.Background(), &tokengatev1.EchoRequest{}) // no token

	text, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain, "tokengate_auth_decisions_total")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(text))
	// Output:
	// # HELP tokengate_auth_decisions_total Authentication decisions by gRPC method, result (allowed or denied) and reason.
	// # TYPE tokengate_auth_decisions_total counter
	// tokengate_auth_decisions_total{method="/tokengate.v1.EchoService/UnaryEcho",reason="missing_token",result="denied"} 1
	// tokengate_auth_decisions_total{method="/tokengate.v1.EchoService/UnaryEcho",reason="valid_token",result="allowed"} 1
}

// echo is the example's service.
type echo struct {
	tokengatev1.UnimplementedEchoServiceServer
}

func (echo) UnaryEcho(_ context.Context, req *tokengatev1.EchoRequest) (*tokengatev1.EchoResponse, error) {
	return &tokengatev1.EchoResponse{Message: req.GetMessage()}, nil
}
