package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tokengate/tokengate/internal/demoservice"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// BenchmarkGatewayHop measures one REST call through grpc-gateway to a
// gRPC server over each way the gateway could reach it, to choose the
// demo's (memListener):
//
//	go test ./cmd/tokengate-demo -run '^$' -bench GatewayHop -benchmem -count 10
func BenchmarkGatewayHop(b *testing.B) {
	type hop struct {
		name   string
		listen func() (net.Listener, func(context.Context, string) (net.Conn, error))
	}
	hops := []hop{
		{"bufconn", func() (net.Listener, func(context.Context, string) (net.Conn, error)) {
			l := bufconn.Listen(1 << 20)
			return l, func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }
		}},
		{"memListener", func() (net.Listener, func(context.Context, string) (net.Conn, error)) {
			l := newMemListener()
			return l, func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }
		}},
		{"tcp", func() (net.Listener, func(context.Context, string) (net.Conn, error)) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			return l, func(ctx context.Context, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", l.Addr().String())
			}
		}},
		{"unix", func() (net.Listener, func(context.Context, string) (net.Conn, error)) {
			p := b.TempDir() + "/s"
			l, err := net.Listen("unix", p)
			if err != nil {
				b.Fatal(err)
			}
			return l, func(ctx context.Context, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", p)
			}
		}},
	}
	for _, h := range hops {
		b.Run(h.name, func(b *testing.B) {
			srv := grpc.NewServer()
			tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})
			lis, dial := h.listen()
			go srv.Serve(lis)
			defer srv.Stop()
			conn, err := grpc.NewClient("passthrough:///x", grpc.WithContextDialer(dial), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			mux := runtime.NewServeMux()
			if err := tokengatev1.RegisterEchoServiceHandlerClient(context.Background(), mux, tokengatev1.NewEchoServiceClient(conn)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/v1/echo", strings.NewReader(`{"message":"hi"}`))
					req.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					mux.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
