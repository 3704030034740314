package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/tokengate/tokengate/gateway"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// echoConn answers UnaryEcho in process, without a server: what is left
// of a REST call is the gateway's and grpc-gateway's work.
type echoConn struct{}

func (echoConn) Invoke(_ context.Context, _ string, args, reply any, _ ...grpc.CallOption) error {
	reply.(*tokengatev1.EchoResponse).Message = args.(*tokengatev1.EchoRequest).GetMessage()
	return nil
}

func (echoConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("echoConn: no streams")
}

// BenchmarkGateway measures what the gateway costs an allowed REST call
// (POST /v1/echo with a valid token) on top of grpc-gateway alone: "mux" is
// grpc-gateway's ServeMux with the call answered in process, "gateway" the
// same behind Wrap and a mux made by NewServeMux, with the server's
// Precheck. Compare the two within one run:
//
//	go test ./gateway -run '^$' -bench Gateway -benchmem -count 10
func BenchmarkGateway(b *testing.B) {
	a := newAuthenticator(b)
	tok := signed(b, testSecret, "ana", time.Now().Add(time.Hour))
	g := gateway.New(gateway.WithPrecheck(a.Precheck))
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"mux", register(b, nil)},
		{"gateway", g.Wrap(register(b, g))},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/v1/echo", strings.NewReader(`{"message":"hi"}`))
				r.RemoteAddr = "127.0.0.1:40000"
				r.Header.Set("Authorization", "Bearer "+tok)
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// register returns a mux serving EchoService through echoConn: g's when g
// is not nil, else grpc-gateway's own.
func register(b *testing.B, g *gateway.Gateway) http.Handler {
	mux := runtime.NewServeMux()
	if g != nil {
		mux = g.NewServeMux()
	}
	if err := tokengatev1.RegisterEchoServiceHandlerClient(context.Background(), mux, tokengatev1.NewEchoServiceClient(echoConn{})); err != nil {
		b.Fatal(err)
	}
	return mux
}
