package interceptors_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/interceptors"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
)

// whoami is the examples' service: its UnaryEcho answers with the message
// and the user the Authenticator let in.
type whoami struct {
	tokengatev1.UnimplementedEchoServiceServer
}

func (whoami) UnaryEcho(ctx context.Context, req *tokengatev1.EchoRequest) (*tokengatev1.EchoResponse, error) {
	user, _ := interceptors.UserFromContext(ctx) // "" when let in without a token
	return &tokengatev1.EchoResponse{Message: req.GetMessage(), User: user}, nil
}

// statusOK is the examples' status service.
type statusOK struct {
	tokengatev1.UnimplementedStatusServiceServer
}

func (statusOK) Status(context.Context, *tokengatev1.StatusRequest) (*tokengatev1.StatusResponse, error) {
	return &tokengatev1.StatusResponse{Status: "OK", Version: "example"}, nil
}

// The real wiring: an Authenticator's interceptors on a grpc.Server, a client
// sending its token as "authorization: Bearer …", and a handler that learns
// the caller's user from its context.
func ExampleNew() {
	const key = "an-example-secret-of-32-bytes-or-more"
	a, err := interceptors.New(interceptors.Config{Secret: key, Users: []string{"ana"}})
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
	)
	tokengatev1.RegisterEchoServiceServer(srv, whoami{}) // replies with UserFromContext
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	echo := tokengatev1.NewEchoServiceClient(conn)

	_, err = echo.UnaryEcho(context.Background(), &tokengatev1.EchoRequest{Message: "hi"})
	fmt.Println("without a token:", status.Code(err), status.Convert(err).Message())

	tok, _, _ := token.Issue([]byte(key), "ana", time.Hour, time.Now())
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	resp, err := echo.UnaryEcho(ctx, &tokengatev1.EchoRequest{Message: "hi"})
	fmt.Println("with a token:", resp.GetMessage(), "from", resp.GetUser(), err)
	// Output:
	// without a token: Unauthenticated missing bearer token
	// with a token: hi from ana <nil>
}

// Monitors may call the status methods with the STATUS_TOKEN instead of a JWT.
func ExampleConfig_statusToken() {
	a, err := interceptors.New(interceptors.Config{
		Secret:      "an-example-secret-of-32-bytes-or-more",
		StatusToken: "monitor-token",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-status-token", "monitor-token"))
	_, err = a.Authenticate(ctx, "/tokengate.v1.StatusService/Status")
	fmt.Println("status method:", status.Code(err))
	_, err = a.Authenticate(ctx, "/tokengate.v1.EchoService/UnaryEcho")
	fmt.Println("other method:", status.Code(err))
	// Output:
	// status method: OK
	// other method: Unauthenticated
}
