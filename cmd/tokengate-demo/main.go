package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/tokengate/tokengate/gateway"
	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/interceptors/metrics"
	"github.com/tokengate/tokengate/internal/demoservice"
	"github.com/tokengate/tokengate/internal/settings"
	"github.com/tokengate/tokengate/proto/openapi"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

const (
	defaultGRPCAddr = "127.0.0.1:50051"
	defaultHTTPAddr = "127.0.0.1:8080"
	shutdownGrace   = 5 * time.Second
	minWindow       = 65535 // the smallest HTTP/2 window grpc-go accepts
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
	if err := run(ctx, os.Args[1:], os.Environ(), ".env", logger); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		logger.Error("tokengate-demo stopped", "err", err)
		os.Exit(1)
	}
}

// options are the demo's settings: addresses and files from flags or the
// environment, auth from interceptors.ConfigFromEnviron.
type options struct {
	// withoutTap leaves the tap out, so that tests can show every decision
	// is the same with it and without it.
	withoutTap bool
	grpcAddr   string
	httpAddr   string
	pprofAddr  string // "" serves no profiles
	// grpcWindow and grpcConnWindow, when not zero, fix the HTTP/2
	// flow-control windows of the gRPC listener (grpc.InitialWindowSize,
	// grpc.InitialConnWindowSize, which also turn grpc-go's BDP estimation
	// off): what a refused caller can make the server read.
	grpcWindow, grpcConnWindow int
	auth                       interceptors.Config
	// loadAuth reads auth again (SIGHUP, a changed policy file); nil
	// means it never changes.
	loadAuth func() (interceptors.Config, error)
	// policyFiles are the files the _FILE variables name, watched for
	// changes.
	policyFiles []string
	// tlsCert and tlsKey, both or neither, serve gRPC and REST over TLS.
	tlsCert, tlsKey string
	// HTTP server timeouts; zero means the default above.
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	idleTimeout       time.Duration
}

// demoVariables are the demo's own settings, read as tokengate's are.
var demoVariables = []string{"GRPC_ADDR", "HTTP_ADDR", "PPROF_ADDR", "GRPC_WINDOW_SIZE", "GRPC_CONN_WINDOW_SIZE", "TLS_CERT_FILE", "TLS_KEY_FILE"}

// parseOptions reads the flags, and the demo's own variables and
// tokengate's from environ and the .env file at dotEnv, as Brevia reads its
// settings (names in any case, the environment first): TLS_CERT_FILE in
// .env must not leave the demo serving plaintext.
func parseOptions(args, environ []string, dotEnv string, out io.Writer) (options, error) {
	vars, err := settings.Load(environ, dotEnv, demoVariables...)
	if err != nil {
		return options{}, err
	}
	env := func(k, def string) string {
		if v := vars[k]; v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("tokengate-demo", flag.ContinueOnError)
	fs.SetOutput(out)
	var o options
	fs.StringVar(&o.grpcAddr, "grpc-addr", env("GRPC_ADDR", defaultGRPCAddr), "gRPC listen address (env GRPC_ADDR)")
	fs.StringVar(&o.httpAddr, "http-addr", env("HTTP_ADDR", defaultHTTPAddr), "REST gateway listen address (env HTTP_ADDR)")
	fs.StringVar(&o.pprofAddr, "pprof-addr", env("PPROF_ADDR", ""), "serve net/http/pprof on this address, off when empty; keep it on loopback (env PPROF_ADDR)")
	var window, connWindow string
	fs.StringVar(&window, "grpc-window", env("GRPC_WINDOW_SIZE", ""), "fix the gRPC listener's HTTP/2 stream window at this many bytes (65535 or more; empty: grpc-go's default, grown by BDP estimation) (env GRPC_WINDOW_SIZE)")
	fs.StringVar(&connWindow, "grpc-conn-window", env("GRPC_CONN_WINDOW_SIZE", ""), "fix the gRPC listener's HTTP/2 connection window at this many bytes (65535 or more; empty: grpc-go's default) (env GRPC_CONN_WINDOW_SIZE)")
	fs.StringVar(&o.tlsCert, "tls-cert", env("TLS_CERT_FILE", ""), "PEM certificate: serve gRPC and REST over TLS, reloaded when the file changes (env TLS_CERT_FILE)")
	fs.StringVar(&o.tlsKey, "tls-key", env("TLS_KEY_FILE", ""), "PEM private key of -tls-cert (env TLS_KEY_FILE)")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: tokengate-demo [-grpc-addr ADDR] [-http-addr ADDR] [-tls-cert FILE -tls-key FILE] [-pprof-addr ADDR] [-grpc-window BYTES] [-grpc-conn-window BYTES]\n\n"+
			"Runs EchoService and StatusService behind tokengate over gRPC and REST.\n"+
			"Auth comes from TOKENS_SECRET, TOKENS_SECRET_PREVIOUS, TOKENS_USERS, STATUS_TOKEN,\n"+
			"TOKENS_LEEWAY and TOKENS_CACHE_SIZE (empty TOKENS_SECRET: auth off), in the\n"+
			"environment or else in ./.env, names in any case, as Brevia reads them. The\n"+
			"first four can name files instead (TOKENS_SECRET_FILE, …): the demo applies a\n"+
			"changed file at once, and rereads everything on SIGHUP.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	// An empty address would make net.Listen take every interface: a flag
	// given an unset variable (-http-addr "$HTTP_ADDR") must not do that
	// where the empty variable itself keeps the loopback default.
	for _, f := range []struct{ name, value string }{{"-grpc-addr", o.grpcAddr}, {"-http-addr", o.httpAddr}} {
		if f.value == "" {
			return options{}, fmt.Errorf("%s is empty: give an address (every interface is \":PORT\", said on purpose)", f.name)
		}
	}
	for _, w := range []struct {
		name, value string
		to          *int
	}{{"-grpc-window (GRPC_WINDOW_SIZE)", window, &o.grpcWindow}, {"-grpc-conn-window (GRPC_CONN_WINDOW_SIZE)", connWindow, &o.grpcConnWindow}} {
		if w.value == "" {
			continue
		}
		n, err := strconv.ParseInt(w.value, 10, 32)
		if err != nil || n < minWindow {
			// grpc-go would ignore a smaller window without a word.
			return options{}, fmt.Errorf("%s: %q is not a window size: want a number of bytes from %d to %d", w.name, w.value, minWindow, math.MaxInt32)
		}
		*w.to = int(n)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return options{}, errors.New("TLS needs both a certificate and a key (-tls-cert and -tls-key, or TLS_CERT_FILE and TLS_KEY_FILE)")
	}
	o.loadAuth = func() (interceptors.Config, error) { return interceptors.ConfigFromEnviron(environ, dotEnv) }
	cfg, err := o.loadAuth()
	if err != nil {
		return options{}, err
	}
	o.auth = cfg
	if o.policyFiles, err = interceptors.PolicyFiles(environ, dotEnv); err != nil {
		return options{}, err
	}
	return o, nil
}

func run(ctx context.Context, args, environ []string, dotEnv string, logger *slog.Logger) error {
	o, err := parseOptions(args, environ, dotEnv, os.Stderr)
	if err != nil {
		return err
	}
	d, err := newDemo(o, logger)
	if err != nil {
		return err
	}
	signal.Notify(d.hup, syscall.SIGHUP)
	defer signal.Stop(d.hup)
	return d.serve(ctx)
}

// demo is the running server: gRPC on one listener, the REST gateway on
// another, the gateway calling the gRPC side over a real connection so that
// REST calls pass the same interceptors.
type demo struct {
	logger    *slog.Logger
	auth      *interceptors.Authenticator
	watcher   *interceptors.FileWatcher
	hup       chan os.Signal // SIGHUP: read the policy again
	grpcLis   net.Listener
	inproc    *memListener // the gateway's way in
	httpLis   net.Listener
	pprofLis  net.Listener
	grpcSrv   *grpc.Server
	inprocSrv *grpc.Server // serves inproc
	httpSrv   *http.Server
	pprofSrv  *http.Server
	conn      *grpc.ClientConn
	tls       *certFiles // nil when serving plaintext
	authOn    bool
	grpcAddr  string
	httpAddr  string
	pprofAddr string
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
	// The gateway's calls arrive over net.Pipe, which no outside caller can
	// reach; on them, the REST caller is the last x-forwarded-for entry.
	fromGateway := func(a net.Addr) bool { return a.Network() == memNetwork }
	auth, err := interceptors.New(o.auth,
		interceptors.WithLogger(logger),
		interceptors.WithDecisionHook(interceptors.LogDecisions(logger, interceptors.WithTrustedGateway(fromGateway))),
		interceptors.WithDecisionHook(authMetrics.Hook()),
		interceptors.WithPolicyHook(authMetrics.PolicyHook()),
	)
	if err != nil {
		return nil, fmt.Errorf("auth config: %w", err)
	}
	d := &demo{logger: logger, auth: auth, authOn: o.auth.Secret != "", hup: make(chan os.Signal, 1)}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if o.loadAuth != nil {
		// With no files to watch it only reloads on SIGHUP.
		if d.watcher, err = interceptors.NewFileWatcher(auth, o.loadAuth, o.policyFiles, 0); err != nil {
			return nil, err
		}
	}
	var grpcCreds []grpc.ServerOption
	if o.tlsCert != "" {
		if d.tls, err = loadCertFiles(o.tlsCert, o.tlsKey); err != nil {
			return nil, err
		}
		grpcCreds = append(grpcCreds, grpc.Creds(credentials.NewTLS(d.tls.config())))
	}

	if d.grpcLis, err = net.Listen("tcp", o.grpcAddr); err != nil {
		return nil, fmt.Errorf("gRPC address %s: %w (is another server running? set -grpc-addr or GRPC_ADDR)", o.grpcAddr, err)
	}
	if d.httpLis, err = net.Listen("tcp", o.httpAddr); err != nil {
		return nil, fmt.Errorf("HTTP address %s: %w (is another server running? set -http-addr or HTTP_ADDR)", o.httpAddr, err)
	}
	d.grpcAddr, d.httpAddr = d.grpcLis.Addr().String(), d.httpLis.Addr().String()

	if o.pprofAddr != "" {
		if d.pprofLis, err = net.Listen("tcp", o.pprofAddr); err != nil {
			return nil, fmt.Errorf("pprof address %s: %w", o.pprofAddr, err)
		}
		d.pprofAddr = d.pprofLis.Addr().String()
		d.pprofSrv = &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: defaultReadHeaderTimeout}
	}

	// Two servers with the same interceptors and services: one for outside
	// callers, over TLS when configured, and one for the gateway's own
	// in-memory connection, which stays plaintext.
	healthSrv := health.NewServer()
	var tap []grpc.ServerOption
	if !o.withoutTap {
		// The tap refuses a call without a valid token before grpc-go
		// reads its message; the interceptors decide the rest and back it
		// up.
		tap = append(tap, grpc.InTapHandle(auth.TapHandle))
	}
	newServer := func(opts ...grpc.ServerOption) *grpc.Server {
		srv := grpc.NewServer(append(append(opts, tap...),
			grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor()),
			grpc.ChainStreamInterceptor(auth.StreamServerInterceptor()),
		)...)
		tokengatev1.RegisterStatusServiceServer(srv, &demoservice.Status{Version: version()})
		tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})
		healthpb.RegisterHealthServer(srv, healthSrv)
		reflection.Register(srv)
		return srv
	}
	// Fixed windows, if asked for, on the callers' listener only: the
	// gateway's in-memory connection keeps grpc-go's defaults.
	external := grpcCreds
	if o.grpcWindow > 0 {
		external = append(external, grpc.InitialWindowSize(int32(o.grpcWindow)))
	}
	if o.grpcConnWindow > 0 {
		external = append(external, grpc.InitialConnWindowSize(int32(o.grpcConnWindow)))
	}
	d.grpcSrv, d.inprocSrv = newServer(external...), newServer()
	auth.KnowMethods(d.grpcSrv) // decisions name only registered methods

	// The gateway reaches the gRPC server over a real gRPC connection, so
	// REST calls pass the same interceptors, but in memory (memListener)
	// rather than over loopback TCP, which costs more per REST call.
	d.inproc = newMemListener()
	dialInproc := func(ctx context.Context, _ string) (net.Conn, error) { return d.inproc.DialContext(ctx) }
	if d.conn, err = grpc.NewClient("passthrough:///in-process", grpc.WithContextDialer(dialInproc),
		grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return nil, fmt.Errorf("gateway connection: %w", err)
	}
	// One Gateway holds the REST face's settings. WithPrecheck gives it the
	// interceptors' verdict, so that a request they would refuse for its
	// credentials is answered before its body is read (and /metrics is
	// guarded by the same decision); the interceptors still decide every
	// call the gateway makes. The body limit is grpc-go's default receive
	// limit, which the servers above keep.
	gw := gateway.New(gateway.WithPrecheck(auth.Precheck))
	mux := gw.NewServeMux()
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
	routes.Handle("GET /metrics", gw.Guard(metricsMethod, promhttp.HandlerFor(registry, promhttp.HandlerOpts{})))
	routes.Handle("/", gw.Wrap(mux))
	// No WriteTimeout: it would cut every response at a fixed time after
	// its request was read, and a server stream (GET /v1/echo/stream) may
	// rightly last longer than any such limit (with auth on, until its
	// token expires). ReadTimeout does not cut it: net/http clears the read
	// deadline once the request is read.
	d.httpSrv = &http.Server{
		Handler:           accessLog(logger, routes),
		TLSConfig:         d.tls.config(),
		ReadHeaderTimeout: orDefault(o.readHeaderTimeout, defaultReadHeaderTimeout),
		ReadTimeout:       orDefault(o.readTimeout, defaultReadTimeout),
		IdleTimeout:       orDefault(o.idleTimeout, defaultIdleTimeout),
		MaxHeaderBytes:    64 << 10,
		// net/http's own complaints (TLS handshakes, bad requests) go to
		// the demo's log, not to stderr unformatted.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return d, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// serve runs until ctx is done, then shuts down gracefully.
func (d *demo) serve(ctx context.Context) error {
	auth, scheme := "off", "plaintext"
	if d.authOn {
		auth = "on"
	}
	if d.tls != nil {
		scheme = "tls"
	}
	d.logger.Info("tokengate-demo listening", "grpc", d.grpcAddr, "http", d.httpAddr, "auth", auth, "transport", scheme)
	errc := make(chan error, 3)
	go func() { errc <- d.grpcSrv.Serve(d.grpcLis) }()
	go func() { _ = d.inprocSrv.Serve(d.inproc) }()
	go func() {
		var err error
		if d.tls != nil {
			err = d.httpSrv.ServeTLS(d.httpLis, "", "") // certificates from TLSConfig
		} else {
			err = d.httpSrv.Serve(d.httpLis)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	if d.pprofSrv != nil {
		d.logger.Warn("tokengate-demo serving pprof: keep it on loopback", "addr", d.pprofAddr)
		go func() {
			if err := d.pprofSrv.Serve(d.pprofLis); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			d.logger.Info("tokengate-demo shutting down")
			d.close()
			return nil
		case err := <-errc:
			d.close()
			return err
		case <-d.hup:
			if d.watcher != nil {
				_ = d.watcher.Reload() // logged and counted by the Authenticator
			}
		}
	}
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
	if d.pprofSrv != nil {
		_ = d.pprofSrv.Shutdown(ctx)
	} else if d.pprofLis != nil {
		d.pprofLis.Close()
	}
	if d.watcher != nil {
		d.watcher.Close()
	}
	if d.conn != nil {
		d.conn.Close()
	}
	for _, srv := range []*grpc.Server{d.grpcSrv, d.inprocSrv} {
		if srv == nil {
			continue
		}
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			srv.Stop()
		}
	}
	if d.grpcSrv == nil && d.grpcLis != nil {
		d.grpcLis.Close()
	}
	if d.inproc != nil {
		d.inproc.Close()
	}
}

// accessLog logs each REST request at debug level, with the status token
// redacted from the URL. With debug off it costs one Enabled check.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !logger.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
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
