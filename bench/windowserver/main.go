// Command windowserver is a gRPC-only tokengate server whose HTTP/2
// flow-control windows can be set, for bench/refusal.sh's window
// experiment. It serves EchoService behind the same Authenticator wiring as
// the demo (tap, interceptors) but without the gateway, metrics, or decision
// logs, so only the gRPC transport and the decision differ between runs.
//
// With neither -window nor -conn-window, grpc-go's defaults apply: 64 KiB
// stream and connection windows that BDP estimation grows. Either flag
// passes grpc.InitialWindowSize / grpc.InitialConnWindowSize, which also
// turns BDP estimation off for the whole server (grpc-go ties the two).
// grpc-go ignores values below 65535.
//
// With -refuse-all the server is the floor of a refusal instead: its tap
// refuses every call with Unauthenticated without looking at anything, so
// what a refused call costs it is grpc-go's own work (the headers, the
// refusal, and the DATA the client sent within the windows), which no
// authentication at the transport can avoid. bench/refusal.sh floor
// compares tokengate's refusal with it.
//
// It prints "windowserver listening grpc=ADDR" on stderr and serves until
// SIGINT/SIGTERM or -max-life.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/internal/demoservice"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// errRefused is -refuse-all's answer, made once.
var errRefused = status.Error(codes.Unauthenticated, "refused")

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	window := flag.Int("window", 0, "grpc.InitialWindowSize in bytes (0: grpc-go's default with BDP estimation)")
	connWindow := flag.Int("conn-window", 0, "grpc.InitialConnWindowSize in bytes (0: grpc-go's default with BDP estimation)")
	refuseAll := flag.Bool("refuse-all", false, "refuse every call at the tap, unread: the floor of a refusal")
	maxLife := flag.Duration("max-life", 30*time.Minute, "exit after this long whatever happens, so a forgotten server goes away")
	flag.Parse()

	if os.Getenv("TOKENS_SECRET") == "" {
		fmt.Fprintln(os.Stderr, "windowserver: TOKENS_SECRET is empty (auth would be off)")
		os.Exit(2)
	}
	cfg, err := interceptors.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "windowserver:", err)
		os.Exit(2)
	}
	auth, err := interceptors.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "windowserver:", err)
		os.Exit(2)
	}
	tapHandle := auth.TapHandle
	if *refuseAll {
		tapHandle = func(context.Context, *tap.Info) (context.Context, error) { return nil, errRefused }
	}
	opts := []grpc.ServerOption{
		grpc.InTapHandle(tapHandle),
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor()),
	}
	if *window > 0 {
		opts = append(opts, grpc.InitialWindowSize(int32(*window)))
	}
	if *connWindow > 0 {
		opts = append(opts, grpc.InitialConnWindowSize(int32(*connWindow)))
	}
	srv := grpc.NewServer(opts...)
	tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})

	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "windowserver:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "windowserver listening grpc=%s window=%d conn-window=%d refuse-all=%t\n", lis.Addr(), *window, *connWindow, *refuseAll)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxLife)
	defer cancel()
	go func() {
		<-ctx.Done()
		srv.Stop()
	}()
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "windowserver:", err)
		os.Exit(1)
	}
}
