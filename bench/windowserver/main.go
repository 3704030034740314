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
// authentication at the transport can avoid. With -http-addr as well, it
// serves HTTP/1.1 there, answering every request as the demo's gateway
// answers one without a token, without reading its body: what a REST
// refusal costs net/http (the connection, the headers, the answer, the
// close). bench/refusal.sh floor compares tokengate's refusals with both.
//
// It prints "windowserver listening grpc=ADDR [http=ADDR]" on stderr and serves until
// SIGINT/SIGTERM or -max-life.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
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

// refuseHTTP answers as the demo's gateway answers a request without a
// token: 401, its challenge and JSON body, and, when the body is left
// unread, Connection: close. It reads nothing but the headers.
func refuseHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Www-Authenticate", `Bearer realm="tokengate"`)
	// As the gateway (gateway.leavesBodyUnread): net/http reads and
	// discards an unread body smaller than 256 KiB to keep the connection.
	if r.ProtoMajor == 1 && (r.ContentLength < 0 || r.ContentLength >= 256<<10) {
		h.Set("Connection", "close")
	}
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(refusalBody)
}

var refusalBody = []byte(`{"code":16,"message":"missing bearer token","details":[]}`)

// errRefused is -refuse-all's answer, made once.
var errRefused = status.Error(codes.Unauthenticated, "refused")

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	window := flag.Int("window", 0, "grpc.InitialWindowSize in bytes (0: grpc-go's default with BDP estimation)")
	connWindow := flag.Int("conn-window", 0, "grpc.InitialConnWindowSize in bytes (0: grpc-go's default with BDP estimation)")
	refuseAll := flag.Bool("refuse-all", false, "refuse every call at the tap, unread: the floor of a refusal")
	httpAddr := flag.String("http-addr", "", "with -refuse-all, also serve HTTP/1.1 here, answering every request 401 as the demo's gateway does, without reading its body: the floor of a REST refusal")
	maxLife := flag.Duration("max-life", 30*time.Minute, "exit after this long whatever happens, so a forgotten server goes away")
	flag.Parse()

	if *httpAddr != "" && !*refuseAll {
		fmt.Fprintln(os.Stderr, "windowserver: -http-addr serves only the floor: give -refuse-all too")
		os.Exit(2)
	}
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
	httpShown := ""
	if *refuseAll && *httpAddr != "" {
		hl, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "windowserver:", err)
			os.Exit(1)
		}
		httpShown = " http=" + hl.Addr().String()
		hs := &http.Server{Handler: http.HandlerFunc(refuseHTTP), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(hl) }()
		defer hs.Close()
	}
	fmt.Fprintf(os.Stderr, "windowserver listening grpc=%s%s window=%d conn-window=%d refuse-all=%t\n", lis.Addr(), httpShown, *window, *connWindow, *refuseAll)

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
