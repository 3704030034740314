package gateway_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/tokengate/tokengate/gateway"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Full gRPC method names of the routes of tokengate_gateway.yaml.
const (
	statusRPC = "/tokengate.v1.StatusService/Status"
	unaryRPC  = "/tokengate.v1.EchoService/UnaryEcho"
	streamRPC = "/tokengate.v1.EchoService/ServerStreamingEcho"
)

// idKey carries a request id from the HTTP request's context to the gRPC
// client interceptor, which sends it as idMD, so that a backend shared by
// several requests can tell whose metadata it recorded. Only requests served
// in process (handler.ServeHTTP) have it; over the network it is absent.
type idKey struct{}

const idMD = "x-test-request-id"

// call is one RPC as the backend saw it.
type call struct {
	method string
	md     metadata.MD
}

// recorder is the backend's memory: every call's incoming metadata, and the
// error every call answers with (nil: success).
type recorder struct {
	mu    sync.Mutex
	calls []call
	byID  map[string]call
	fail  error
	// opened counts the calls that reached the server at all, before any
	// handler.
	opened atomic.Int64
}

func (r *recorder) record(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	method, _ := grpc.Method(ctx)
	c := call{method: method, md: md.Copy()}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ids := md.Get(idMD); len(ids) == 1 {
		if r.byID == nil {
			r.byID = map[string]call{}
		}
		r.byID[ids[0]] = c
	} else {
		r.calls = append(r.calls, c)
	}
	// A response header, to see it reach HTTP (Grpc-Metadata-X-Backend).
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-backend", "recorder"))
	return r.fail
}

func (r *recorder) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

func (r *recorder) take(id string) (call, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.byID[id]
	delete(r.byID, id)
	return c, ok
}

// only returns the one call recorded since the last reset and fails the
// test unless there was exactly one.
func (r *recorder) only(t *testing.T) call {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) != 1 {
		t.Fatalf("backend saw %d calls, want 1: %+v", len(r.calls), r.calls)
	}
	return r.calls[0]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

type statusBackend struct {
	tokengatev1.UnimplementedStatusServiceServer
	rec *recorder
}

func (s statusBackend) Status(ctx context.Context, _ *tokengatev1.StatusRequest) (*tokengatev1.StatusResponse, error) {
	if err := s.rec.record(ctx); err != nil {
		return nil, err
	}
	return &tokengatev1.StatusResponse{Status: "OK", Version: "test"}, nil
}

type echoBackend struct {
	tokengatev1.UnimplementedEchoServiceServer
	rec *recorder
}

func (e echoBackend) UnaryEcho(ctx context.Context, req *tokengatev1.EchoRequest) (*tokengatev1.EchoResponse, error) {
	if err := e.rec.record(ctx); err != nil {
		return nil, err
	}
	return &tokengatev1.EchoResponse{Message: req.GetMessage()}, nil
}

func (e echoBackend) ServerStreamingEcho(req *tokengatev1.EchoRequest, stream tokengatev1.EchoService_ServerStreamingEchoServer) error {
	if err := e.rec.record(stream.Context()); err != nil {
		return err
	}
	for _, w := range strings.Fields(req.GetMessage()) {
		if err := stream.Send(&tokengatev1.EchoResponse{Message: w}); err != nil {
			return err
		}
	}
	return nil
}

// backend is a recording gRPC server on a loopback port and a client
// connection to it, both stopped with the test. Server options (such as an
// Authenticator's interceptors) come after the recorder's own interceptors.
type backend struct {
	rec  *recorder
	conn *grpc.ClientConn
}

func newBackend(tb testing.TB, opts ...grpc.ServerOption) *backend {
	tb.Helper()
	rec := &recorder{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer(append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			rec.opened.Add(1)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			rec.opened.Add(1)
			return h(srv, ss)
		}),
	}, opts...)...)
	tokengatev1.RegisterStatusServiceServer(srv, statusBackend{rec: rec})
	tokengatev1.RegisterEchoServiceServer(srv, echoBackend{rec: rec})
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()

	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(withRequestID(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(withRequestID(ctx), desc, cc, method, opts...)
		}),
	)
	if err != nil {
		srv.Stop()
		tb.Fatalf("NewClient: %v", err)
	}
	tb.Cleanup(func() {
		conn.Close()
		srv.Stop()
		<-served
	})
	return &backend{rec: rec, conn: conn}
}

func withRequestID(ctx context.Context) context.Context {
	if id, ok := ctx.Value(idKey{}).(string); ok {
		return metadata.AppendToOutgoingContext(ctx, idMD, id)
	}
	return ctx
}

// register registers both services' routes on mux against the backend's
// connection, as a real deployment does.
func (b *backend) register(tb testing.TB, mux *runtime.ServeMux) {
	tb.Helper()
	ctx := context.Background()
	if err := tokengatev1.RegisterStatusServiceHandlerClient(ctx, mux, tokengatev1.NewStatusServiceClient(b.conn)); err != nil {
		tb.Fatal(err)
	}
	if err := tokengatev1.RegisterEchoServiceHandlerClient(ctx, mux, tokengatev1.NewEchoServiceClient(b.conn)); err != nil {
		tb.Fatal(err)
	}
}

// env is a recording backend behind the gateway, served over loopback
// HTTP.
type env struct {
	*backend
	url    string
	client *http.Client
}

// newEnv builds the gateway as a user of the package does:
// g := gateway.New(opts...), then g.Wrap(g.NewServeMux()).
func newEnv(t *testing.T, opts ...gateway.Option) *env {
	t.Helper()
	b := newBackend(t)
	g := gateway.New(opts...)
	mux := g.NewServeMux()
	b.register(t, mux)
	return serveHTTP(t, b, g.Wrap(mux))
}

func serveHTTP(t *testing.T, b *backend, h http.Handler) *env {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return &env{backend: b, url: hs.URL, client: hs.Client()}
}
