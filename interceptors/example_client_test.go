package interceptors_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/interceptors"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
)

const exampleSecret = "an-example-secret-of-32-bytes-or-more"

// startExampleServer serves the demo services behind an Authenticator on a
// loopback port and returns its address and a function that stops it.
func startExampleServer(cfg interceptors.Config) (addr string, stop func()) {
	a, err := interceptors.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
	)
	tokengatev1.RegisterStatusServiceServer(srv, statusOK{})
	tokengatev1.RegisterEchoServiceServer(srv, whoami{}) // replies with UserFromContext
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)
	return lis.Addr().String(), srv.Stop
}

// A service that holds the shared secret mints its own tokens: every call
// carries a fresh one, renewed before it expires. The example talks
// plaintext to a loopback port, hence AllowInsecure; over a network, use TLS
// (grpc.WithTransportCredentials(credentials.NewTLS(...))) and drop it.
func ExampleMintingCredentials() {
	addr, stop := startExampleServer(interceptors.Config{Secret: exampleSecret, Users: []string{"ana"}})
	defer stop()

	creds, err := interceptors.MintingCredentials([]byte(exampleSecret), "ana", time.Hour, interceptors.AllowInsecure())
	if err != nil {
		log.Fatal(err)
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(creds))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	resp, err := tokengatev1.NewEchoServiceClient(conn).UnaryEcho(context.Background(), &tokengatev1.EchoRequest{Message: "hi"})
	fmt.Println(resp.GetMessage(), "from", resp.GetUser(), err)
	// Output: hi from ana <nil>
}

// A client given a token (by create_token, say) sends it on every call.
func ExampleBearerToken() {
	addr, stop := startExampleServer(interceptors.Config{Secret: exampleSecret})
	defer stop()

	tok, _, err := token.Issue([]byte(exampleSecret), "ana", time.Hour, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(interceptors.BearerToken(tok, interceptors.AllowInsecure())))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	resp, err := tokengatev1.NewEchoServiceClient(conn).UnaryEcho(context.Background(), &tokengatev1.EchoRequest{Message: "hi"})
	fmt.Println(resp.GetMessage(), "from", resp.GetUser(), err)
	// Output: hi from ana <nil>
}

// A monitor with the STATUS_TOKEN reaches the status method and nothing else.
func ExampleStatusTokenCredentials() {
	addr, stop := startExampleServer(interceptors.Config{Secret: exampleSecret, StatusToken: "monitor-token"})
	defer stop()

	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(interceptors.StatusTokenCredentials("monitor-token", interceptors.AllowInsecure())))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	st, err := tokengatev1.NewStatusServiceClient(conn).Status(context.Background(), &tokengatev1.StatusRequest{})
	fmt.Println("status:", st.GetStatus(), err)
	_, err = tokengatev1.NewEchoServiceClient(conn).UnaryEcho(context.Background(), &tokengatev1.EchoRequest{})
	fmt.Println("echo:", status.Code(err))
	// Output:
	// status: OK <nil>
	// echo: Unauthenticated
}
