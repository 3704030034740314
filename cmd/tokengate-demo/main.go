package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tokengate/tokengate/gateway"
	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/interceptors/metrics"
	"github.com/tokengate/tokengate/internal/demoservice"
	"github.com/tokengate/tokengate/proto/openapi"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

const (
	defaultGRPCAddr = "127.0.0.1:50051"
	defaultHTTPAddr = "127.0.0.1:8080"
	shutdownGrace   = 5 * time.Second
)

// Limits of the REST side on slow or idle clients. A request, headers and
// body, is small here (the largest is POST /v1/echo's JSON), so a client
// still sending one after readTimeout is holding a connection, not sending
// a request.
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = 30 * time.Second
	defaultIdleTimeout       = 2 * time.Minute
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Args[1:], os.LookupEnv, logger); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		logger.Error("tokengate-demo stopped", "err", err)
		os.Exit(1)
	}
}

// options are the demo's settings: addresses from flags or the environment,
// auth from interceptors.ConfigFromEnv.
type options struct {
	grpcAddr string
	httpAddr string
	auth     interceptors.Config
	// HTTP server timeouts; zero means the default above.
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	idleTimeout       time.Duration
}

func parseOptions(args []string, lookup func(string) (string, bool), out io.Writer) (options, error) {
	env := func(k, def string) string {
		if v, ok := lookup(k); ok && v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("tokengate-demo", flag.ContinueOnError)
	fs.SetOutput(out)
	var o options
	fs.StringVar(&o.grpcAddr, "grpc-addr", env("GRPC_ADDR", defaultGRPCAddr), "gRPC listen address (env GRPC_ADDR)")
	fs.StringVar(&o.httpAddr, "http-addr", env("HTTP_ADDR", defaultHTTPAddr), "REST gateway listen address (env HTTP_ADDR)")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: tokengate-demo [-grpc-addr ADDR] [-http-addr ADDR]\n\n"+
			"Runs EchoService and StatusService behind tokengate over gRPC and REST.\n"+
			"Auth comes from TOKENS_SECRET, TOKENS_SECRET_PREVIOUS, TOKENS_USERS, STATUS_TOKEN,\n"+
			"TOKENS_LEEWAY and TOKENS_CACHE_SIZE (empty TOKENS_SECRET: auth off).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	cfg, err := interceptors.ConfigFromLookup(lookup)
	if err != nil {
		return options{}, err
	}
	o.auth = cfg
	return o, nil
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool), logger *slog.Logger) error {
	o, err := parseOptions(args, lookup, os.Stderr)
	if err != nil {
		return err
	}
	d, err := newDemo(o, logger)
	if err != nil {
		return err
	}
	return d.serve(ctx)
}

// demo is the running server: gRPC on one listener, the REST gateway on
// another, the gateway calling the gRPC side over a real connection so that
// REST calls pass the same interceptors.
type demo struct {
	logger   *slog.Logger
	grpcLis  net.Listener
	inproc   *bufconn.Listener // the gateway's way in
	httpLis  net.Listener
	grpcSrv  *grpc.Server
	httpSrv  *http.Server
	conn     *grpc.ClientConn
	authOn   bool
	grpcAddr string
	httpAddr string
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// metricsMethod names /metrics in decisions (logs and metrics), next to the
// gRPC methods.
const metricsMethod = "/metrics"

func newDemo(o options, logger *slog.Logger) (_ *demo, err error) {
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	authMetrics, err := metrics.New(registry)
	if err != nil {
		return nil, err
	}
	// The gateway's calls arrive over bufconn, which no outside caller can
	// reach; on them, the REST caller is the last x-forwarded-for entry.
	fromGateway := func(a net.Addr) bool { return a.Network() == "bufconn" }
	auth, err := interceptors.New(o.auth,
		interceptors.WithLogger(logger),
		interceptors.WithDecisionHook(interceptors.LogDecisions(logger, interceptors.WithTrustedGateway(fromGateway))),
		interceptors.WithDecisionHook(authMetrics.Hook()),
	)
	if err != nil {
		return nil, fmt.Errorf("auth config: %w", err)
	}
	d := &demo{logger: logger, authOn: o.auth.Secret != ""}
	defer func() {
		if err != nil {
			d.close()
		}
	}()

	if d.grpcLis, err = net.Listen("tcp", o.grpcAddr); err != nil {
		return nil, fmt.Errorf("gRPC address %s: %w (is another server running? set -grpc-addr or GRPC_ADDR)", o.grpcAddr, err)
	}
	if d.httpLis, err = net.Listen("tcp", o.httpAddr); err != nil {
		return nil, fmt.Errorf("HTTP address %s: %w (is another server running? set -http-addr or HTTP_ADDR)", o.httpAddr, err)
	}
	d.grpcAddr, d.httpAddr = d.grpcLis.Addr().String(), d.httpLis.Addr().String()

	d.grpcSrv = grpc.NewServer(
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor()),
	)
	tokengatev1.RegisterStatusServiceServer(d.grpcSrv, &demoservice.Status{Version: version()})
	tokengatev1.RegisterEchoServiceServer(d.grpcSrv, demoservice.Echo{})
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(d.grpcSrv, healthSrv)
	reflection.Register(d.grpcSrv)

	// The gateway reaches the gRPC server over a real gRPC connection, so
	// REST calls pass the same interceptors, but in memory (grpc-go's
	// bufconn listener) rather than over loopback TCP: a quarter less CPU
	// per REST call on this kind of machine.
	d.inproc = bufconn.Listen(1 << 20)
	dialInproc := func(ctx context.Context, _ string) (net.Conn, error) { return d.inproc.DialContext(ctx) }
	if d.conn, err = grpc.NewClient("passthrough:///in-process", grpc.WithContextDialer(dialInproc),
		grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return nil, fmt.Errorf("gateway connection: %w", err)
	}
	// WithAuthenticate decides the requests the gateway answers without a
	// call (HEAD on a stream, a query that is not UTF-8) as the server would.
	mux := gateway.NewServeMux([]gateway.Option{gateway.WithAuthenticate(auth.Authenticate)})
	ctx := context.Background()
	if err = tokengatev1.RegisterStatusServiceHandlerClient(ctx, mux, tokengatev1.NewStatusServiceClient(d.conn)); err != nil {
		return nil, err
	}
	if err = tokengatev1.RegisterEchoServiceHandlerClient(ctx, mux, tokengatev1.NewEchoServiceClient(d.conn)); err != nil {
		return nil, err
	}

	routes := http.NewServeMux()
	routes.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.JSON)
	})
	routes.Handle("GET /metrics", requireToken(auth, mux, promhttp.HandlerFor(registry, promhttp.HandlerOpts{})))
	routes.Handle("/", gateway.Handler(mux))
	// No WriteTimeout: it would cut every response at a fixed time after
	// its request was read, and a server stream (GET /v1/echo/stream) may
	// rightly last longer than any such limit (with auth on, until its
	// token expires). ReadTimeout does not cut it: net/http clears the read
	// deadline once the request is read.
	d.httpSrv = &http.Server{
		Handler:           accessLog(logger, routes),
		ReadHeaderTimeout: orDefault(o.readHeaderTimeout, defaultReadHeaderTimeout),
		ReadTimeout:       orDefault(o.readTimeout, defaultReadTimeout),
		IdleTimeout:       orDefault(o.idleTimeout, defaultIdleTimeout),
		MaxHeaderBytes:    64 << 10,
	}
	return d, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// requireToken guards a plain HTTP handler with the same decision as a gRPC
// method, and answers a denial as the gateway does (401, RFC 6750 challenge,
// JSON status).
func requireToken(auth *interceptors.Authenticator, mux *runtime.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		md := metadata.MD{}
		for _, v := range r.Header.Values("Authorization") {
			md.Append(gateway.AuthorizationKey, v)
		}
		ctx := metadata.NewIncomingContext(r.Context(), md)
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			// The caller, for the decision log.
			ctx = peer.NewContext(ctx, &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)})
		}
		if _, err := auth.Authenticate(ctx, metricsMethod); err != nil {
			runtime.HTTPError(r.Context(), mux, &runtime.JSONPb{}, w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serve runs until ctx is done, then shuts down gracefully.
func (d *demo) serve(ctx context.Context) error {
	d.logger.Info("tokengate-demo listening",
		"grpc", d.grpcAddr, "http", d.httpAddr, "auth", map[bool]string{true: "on", false: "off"}[d.authOn])
	errc := make(chan error, 2)
	go func() { errc <- d.grpcSrv.Serve(d.grpcLis) }()
	go func() { _ = d.grpcSrv.Serve(d.inproc) }()
	go func() {
		if err := d.httpSrv.Serve(d.httpLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	var err error
	select {
	case <-ctx.Done():
		d.logger.Info("tokengate-demo shutting down")
	case err = <-errc:
	}
	d.close()
	return err
}

// close stops everything that was started, gracefully up to shutdownGrace.
func (d *demo) close() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if d.httpSrv != nil {
		_ = d.httpSrv.Shutdown(ctx)
	} else if d.httpLis != nil {
		d.httpLis.Close()
	}
	if d.conn != nil {
		d.conn.Close()
	}
	if d.grpcSrv != nil {
		done := make(chan struct{})
		go func() { d.grpcSrv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			d.grpcSrv.Stop()
		}
	} else if d.grpcLis != nil {
		d.grpcLis.Close()
	}
	if d.inproc != nil {
		d.inproc.Close()
	}
}

// accessLog logs each REST request at debug level, with the status token
// redacted from the URL.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.Debug("http request", "method", r.Method, "url", gateway.RedactURL(r.URL),
			"status", rec.status, "duration", time.Since(start))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
