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
	"github.com/tokengate/tokengate/internal/demoservice"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
)

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
	tokengatev1.RegisterStatusServiceServer(srv, &demoservice.Status{Version: "example"})
	tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	// The gateway: tokengate's mux options, handlers registered against the
	// gRPC endpoint (never Register…HandlerServer, which skips the
	// interceptors), and Handler for HEAD and streaming challenges.
	// WithAuthenticate decides the requests the gateway answers without a
	// call (HEAD on a stream, a query that is not UTF-8) as the server does.
	mux := gateway.NewServeMux([]gateway.Option{gateway.WithAuthenticate(auth.Authenticate)})
	dial := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if err := tokengatev1.RegisterStatusServiceHandlerFromEndpoint(ctx, mux, lis.Addr().String(), dial); err != nil {
		log.Fatal(err)
	}
	if err := tokengatev1.RegisterEchoServiceHandlerFromEndpoint(ctx, mux, lis.Addr().String(), dial); err != nil {
		log.Fatal(err)
	}
	web := httptest.NewServer(gateway.Handler(mux))
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

// Keep the status token out of access logs.
func ExampleRedactURL() {
	u, _ := url.Parse("/status?verbose=1&token=monitor-token")
	fmt.Println(gateway.RedactURL(u))
	// Output:
	// /status?verbose=1&token=REDACTED
}
