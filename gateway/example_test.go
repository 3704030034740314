package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tokengate/tokengate/gateway"
	"github.com/tokengate/tokengate/interceptors"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
)

// echoService is the examples' EchoService: it answers with the message and
// the user the server's interceptors let in.
type echoService struct {
	tokengatev1.UnimplementedEchoServiceServer
}

func (echoService) UnaryEcho(ctx context.Context, req *tokengatev1.EchoRequest) (*tokengatev1.EchoResponse, error) {
	user, _ := interceptors.UserFromContext(ctx)
	return &tokengatev1.EchoResponse{Message: req.GetMessage(), User: user}, nil
}

func (echoService) ServerStreamingEcho(req *tokengatev1.EchoRequest, stream tokengatev1.EchoService_ServerStreamingEchoServer) error {
	user, _ := interceptors.UserFromContext(stream.Context())
	for _, w := range strings.Fields(req.GetMessage()) {
		if err := stream.Send(&tokengatev1.EchoResponse{Message: w, User: user}); err != nil {
			return err
		}
	}
	return nil
}

// statusService is the examples' StatusService.
type statusService struct {
	tokengatev1.UnimplementedStatusServiceServer
}

func (statusService) Status(context.Context, *tokengatev1.StatusRequest) (*tokengatev1.StatusResponse, error) {
	return &tokengatev1.StatusResponse{Status: "OK", Version: "example"}, nil
}

// The whole wiring: a gRPC server guarded by the interceptors, and the REST
// gateway calling it over a real connection, so that REST callers get the
// same decisions as gRPC callers.
func Example() {
	const secret = "an-example-secret-of-32-bytes-or-more"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The gRPC server, with authentication on every method.
	auth, err := interceptors.New(interceptors.Config{Secret: secret, StatusToken: "monitor-token"})
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor()),
	)
	tokengatev1.RegisterStatusServiceServer(srv, statusService{})
	tokengatev1.RegisterEchoServiceServer(srv, echoService{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	// The gateway: one Gateway holds the settings. WithPrecheck gives it the
	// interceptors' verdict, so that a request they would refuse is refused
	// before its body is read; the interceptors still decide every call.
	// Handlers are registered against the gRPC endpoint (never
	// Register…HandlerServer, which skips the interceptors), and Wrap serves
	// the mux (HEAD, challenges on streaming routes, the body limit).
	g := gateway.New(gateway.WithPrecheck(auth.Precheck))
	mux := g.NewServeMux()
	dial := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if err := tokengatev1.RegisterStatusServiceHandlerFromEndpoint(ctx, mux, lis.Addr().String(), dial); err != nil {
		log.Fatal(err)
	}
	if err := tokengatev1.RegisterEchoServiceHandlerFromEndpoint(ctx, mux, lis.Addr().String(), dial); err != nil {
		log.Fatal(err)
	}
	web := httptest.NewServer(g.Wrap(mux))
	defer web.Close()

	send := func(method, path, authorization string) *http.Response {
		var body *strings.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"message":"hello"}`)
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequestWithContext(ctx, method, web.URL+path, body)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := web.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		return resp
	}

	resp := send(http.MethodGet, "/status", "")
	resp.Body.Close()
	fmt.Println("GET /status:", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))

	resp = send(http.MethodGet, "/status?token=monitor-token", "")
	resp.Body.Close()
	fmt.Println("GET /status?token=…:", resp.StatusCode)

	resp = send(http.MethodPost, "/v1/echo", "Bearer not-a-token")
	resp.Body.Close()
	fmt.Println("POST /v1/echo, bad token:", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))

	tok, err := token.Sign([]byte(secret), token.Claims{User: "ana", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	resp = send(http.MethodPost, "/v1/echo", "Bearer "+tok)
	var echo struct{ Message, User string }
	_ = json.NewDecoder(resp.Body).Decode(&echo)
	resp.Body.Close()
	fmt.Println("POST /v1/echo, token for ana:", resp.StatusCode, echo.Message, echo.User)

	// HEAD on a stream never runs it: the caller is authenticated, then
	// told to use GET.
	resp = send(http.MethodHead, "/v1/echo/stream?message=hello", "")
	resp.Body.Close()
	fmt.Println("HEAD /v1/echo/stream:", resp.StatusCode)
	resp = send(http.MethodHead, "/v1/echo/stream?message=hello", "Bearer "+tok)
	resp.Body.Close()
	fmt.Println("HEAD /v1/echo/stream, token for ana:", resp.StatusCode, "Allow:", resp.Header.Get("Allow"))

	// Output:
	// GET /status: 401 Bearer realm="tokengate"
	// GET /status?token=…: 200
	// POST /v1/echo, bad token: 401 Bearer realm="tokengate", error="invalid_token"
	// POST /v1/echo, token for ana: 200 hello ana
	// HEAD /v1/echo/stream: 401
	// HEAD /v1/echo/stream, token for ana: 405 Allow: GET
}

// Guard puts a plain HTTP handler, here a metrics page, behind the same
// decision as the gateway's routes, and refuses as they do.
func ExampleGateway_Guard() {
	const secret = "an-example-secret-of-32-bytes-or-more"
	auth, err := interceptors.New(interceptors.Config{Secret: secret})
	if err != nil {
		log.Fatal(err)
	}
	g := gateway.New(gateway.WithPrecheck(auth.Precheck))
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "requests_total 42")
	})
	// "/metrics" names the page in the Authenticator's decisions.
	h := g.Guard("/metrics", metrics)

	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var refusal struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &refusal)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), refusal.Code, refusal.Message)

	tok, err := token.Sign([]byte(secret), token.Claims{User: "prometheus", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))

	// Output:
	// 401 Bearer realm="tokengate" 16 missing bearer token
	// 200 requests_total 42
}

// Keep the status token out of access logs.
func ExampleRedactURL() {
	u, _ := url.Parse("/status?verbose=1&token=monitor-token")
	fmt.Println(gateway.RedactURL(u))
	// Output:
	// /status?verbose=1&token=REDACTED
}
