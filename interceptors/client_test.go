package interceptors_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/internal/demoservice"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
)

// serveCreds runs the demo services behind an Authenticator built from cfg
// on an in-memory listener, stopped with the test.
func serveCreds(t *testing.T, cfg interceptors.Config, srvOpts ...grpc.ServerOption) *bufconn.Listener {
	t.Helper()
	a, err := interceptors.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := grpc.NewServer(append(srvOpts,
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()))...)
	tokengatev1.RegisterStatusServiceServer(srv, &demoservice.Status{Version: "test"})
	tokengatev1.RegisterEchoServiceServer(srv, demoservice.Echo{})
	lis := bufconn.Listen(1 << 16)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis
}

// dialCreds connects to lis with opts, plaintext unless opts say otherwise.
func dialCreds(t *testing.T, lis *bufconn.Listener, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, opts...)
	conn, err := grpc.NewClient("passthrough:///bufconn", opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestCredentialsReachTheHandler(t *testing.T) {
	t.Parallel()
	lis := serveCreds(t, interceptors.Config{Secret: secret, Users: []string{"ana"}, StatusToken: statusToken})
	minting, err := interceptors.MintingCredentials([]byte(secret), "ana", time.Hour, interceptors.AllowInsecure())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		creds      credentials.PerRPCCredentials
		echoCode   codes.Code
		wantUser   string
		statusCode codes.Code
	}{
		{"bearer token", interceptors.BearerToken(mustSign(t, secret, "ana", time.Now().Add(time.Hour)), interceptors.AllowInsecure()),
			codes.OK, "ana", codes.OK},
		{"minting", minting, codes.OK, "ana", codes.OK},
		{"status token opens the status method only", interceptors.StatusTokenCredentials(statusToken, interceptors.AllowInsecure()),
			codes.Unauthenticated, "", codes.OK},
		{"wrong status token", interceptors.StatusTokenCredentials("nope", interceptors.AllowInsecure()),
			codes.Unauthenticated, "", codes.Unauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn := dialCreds(t, lis, grpc.WithPerRPCCredentials(tc.creds))
			echo := tokengatev1.NewEchoServiceClient(conn)

			resp, err := echo.UnaryEcho(context.Background(), &tokengatev1.EchoRequest{Message: "hi"})
			assertCode(t, err, tc.echoCode, "", secret, statusToken)
			if got := resp.GetUser(); got != tc.wantUser {
				t.Errorf("unary handler saw user %q, want %q", got, tc.wantUser)
			}
			s, err := echo.ServerStreamingEcho(context.Background(), &tokengatev1.EchoRequest{Message: "hi"})
			if err == nil {
				var r *tokengatev1.EchoResponse
				r, err = s.Recv()
				if got := r.GetUser(); got != tc.wantUser {
					t.Errorf("stream handler saw user %q, want %q", got, tc.wantUser)
				}
			}
			assertCode(t, err, tc.echoCode, "", secret, statusToken)

			_, err = tokengatev1.NewStatusServiceClient(conn).Status(context.Background(), &tokengatev1.StatusRequest{})
			assertCode(t, err, tc.statusCode, "", secret, statusToken)
		})
	}
}

// transportSecurityRequired is how grpc refuses a connection without
// transport security when per-RPC credentials require it.
const transportSecurityRequired = "credentials require transport level security"

func TestCredentialsRefusePlaintext(t *testing.T) {
	t.Parallel()
	minting, err := interceptors.MintingCredentials([]byte(secret), "ana", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	all := []struct {
		name  string
		creds credentials.PerRPCCredentials
	}{
		{"bearer token", interceptors.BearerToken("tok")},
		{"minting", minting},
		{"status token", interceptors.StatusTokenCredentials(statusToken)},
	}
	lis := serveCreds(t, interceptors.Config{Secret: secret, StatusToken: statusToken})
	plain := dialCreds(t, lis)
	for _, tc := range all {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !tc.creds.RequireTransportSecurity() {
				t.Error("RequireTransportSecurity() = false without AllowInsecure")
			}
			_, err := grpc.NewClient("passthrough:///bufconn",
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithPerRPCCredentials(tc.creds))
			if err == nil || !strings.Contains(err.Error(), transportSecurityRequired) {
				t.Errorf("dialing plaintext: err = %v, want grpc's %q", err, transportSecurityRequired)
			}
			// Given to one call instead, they are refused by that call.
			_, err = tokengatev1.NewStatusServiceClient(plain).Status(context.Background(), &tokengatev1.StatusRequest{},
				grpc.PerRPCCredentials(tc.creds))
			assertCode(t, err, codes.Unauthenticated, "cannot send secure credentials on an insecure connection")
		})
	}
}

func TestMintingCredentialsOverTLS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSignedTLS(t, "tokengate.test")
	lis := serveCreds(t, interceptors.Config{Secret: secret}, grpc.Creds(credentials.NewTLS(serverTLS)))
	minting, err := interceptors.MintingCredentials([]byte(secret), "ana", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	conn := dialCreds(t, lis, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)), grpc.WithPerRPCCredentials(minting))
	resp, err := tokengatev1.NewEchoServiceClient(conn).UnaryEcho(context.Background(), &tokengatev1.EchoRequest{})
	if err != nil || resp.GetUser() != "ana" {
		t.Fatalf("UnaryEcho over TLS = %v, %v; want user ana", resp, err)
	}
}

// selfSignedTLS returns TLS configurations for a server named name and a
// client that trusts only it.
func selfSignedTLS(t *testing.T, name string) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: roots, ServerName: name}
	return server, client
}

func TestMintingCredentialsArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secret  []byte
		user    string
		ttl     time.Duration
		wantErr error
	}{
		{"one hour", []byte(secret), "ana", time.Hour, nil},
		{"shortest lifetime", []byte(secret), "ana", 11*time.Second + time.Nanosecond, nil},
		{"empty secret", nil, "ana", time.Hour, token.ErrNoSecret},
		{"blank user", []byte(secret), " ", time.Hour, token.ErrInvalidUser},
		{"blank secret", []byte(" \t\n"), "ana", time.Hour, interceptors.ErrBlankSecret},
		{"user blank to Python", []byte(secret), "\x1f", time.Hour, token.ErrInvalidUser},
		{"user not UTF-8", []byte(secret), "\xff", time.Hour, token.ErrInvalidUser},
		{"zero ttl", []byte(secret), "ana", 0, interceptors.ErrTTLTooShort},
		{"negative ttl", []byte(secret), "ana", -time.Hour, interceptors.ErrTTLTooShort},
		{"ttl equal to the margin", []byte(secret), "ana", 10 * time.Second, interceptors.ErrTTLTooShort},
		{"ttl within the margin plus exp rounding", []byte(secret), "ana", 11 * time.Second, interceptors.ErrTTLTooShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := interceptors.MintingCredentials(tc.secret, tc.user, tc.ttl)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if (err == nil) != (c != nil) {
				t.Errorf("credentials = %v with err = %v", c, err)
			}
		})
	}
}

// fakeClock is a clock tests move by hand; with tick set, every reading
// also moves it on by tick. It is safe for concurrent use.
type fakeClock struct {
	ns   atomic.Int64
	tick time.Duration

	mu      sync.Mutex
	pending int           // readings still to be taken before gate opens
	gate    chan struct{} // nil when readings are not held
}

func newFakeClock(start time.Time, tick time.Duration) *fakeClock {
	c := &fakeClock{tick: tick}
	c.set(start)
	return c
}

func (c *fakeClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// holdReadings makes the next n readings wait until all n are taken, so
// that n concurrent callers have all read the clock before any goes on.
func (c *fakeClock) holdReadings(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending, c.gate = n, make(chan struct{})
}

func (c *fakeClock) now() time.Time {
	t := time.Unix(0, c.ns.Add(int64(c.tick))-int64(c.tick))
	c.mu.Lock()
	gate := c.gate
	if gate != nil {
		if c.pending--; c.pending == 0 {
			close(gate)
			c.gate = nil
		}
	}
	c.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return t
}

// bearerOf returns the token the credentials send on one call.
func bearerOf(t testing.TB, c credentials.PerRPCCredentials) string {
	t.Helper()
	md, err := c.GetRequestMetadata(context.Background())
	if err != nil {
		t.Fatalf("GetRequestMetadata: %v", err)
	}
	tok, ok := strings.CutPrefix(md["authorization"], "Bearer ")
	if !ok || len(md) != 1 {
		t.Fatalf("metadata = %q, want only authorization: Bearer <token>", md)
	}
	return tok
}

// expOf reads the exp claim from tok's payload without verifying it.
func expOf(t testing.TB, tok string) time.Time {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return time.Unix(claims.Exp, 0)
}

func TestMintingCredentialsRenewal(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	tests := []struct {
		ttl    time.Duration
		margin time.Duration // documented: max(ttl/5, 10s)
	}{
		{time.Hour, 12 * time.Minute},
		{30 * time.Second, 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.ttl.String(), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(start, 0)
			c, err := interceptors.MintingCredentials([]byte(secret), "ana", tc.ttl, interceptors.WithCredentialClock(clock.now))
			if err != nil {
				t.Fatal(err)
			}
			first := bearerOf(t, c)
			if got := expOf(t, first); !got.Equal(start.Add(tc.ttl)) {
				t.Fatalf("first token exp = %v, want %v", got, start.Add(tc.ttl))
			}
			renewAt := start.Add(tc.ttl - tc.margin)
			for _, at := range []time.Time{start.Add(time.Second), renewAt.Add(-time.Second), renewAt.Add(-time.Nanosecond)} {
				clock.set(at)
				if bearerOf(t, c) != first {
					t.Fatalf("token renewed at %v, before the renewal point %v", at.Sub(start), renewAt.Sub(start))
				}
			}
			clock.set(renewAt)
			second := bearerOf(t, c)
			if second == first {
				t.Fatalf("token not renewed at the renewal point %v", renewAt.Sub(start))
			}
			if got := expOf(t, second); !got.Equal(renewAt.Add(tc.ttl)) {
				t.Errorf("renewed token exp = %v, want %v", got, renewAt.Add(tc.ttl))
			}
			clock.set(renewAt.Add(tc.ttl - tc.margin - time.Nanosecond))
			if bearerOf(t, c) != second {
				t.Error("renewed token replaced before its own renewal point")
			}

			v, err := token.NewVerifier([]byte(secret), token.WithClock(func() time.Time { return renewAt }))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(second); err != nil {
				t.Errorf("renewed token does not verify: %v", err)
			}
		})
	}
}

// Renewal is timed on the monotonic clock, not on the token's exp (wall
// time): a wall clock set back an hour would otherwise keep sending a token
// for an hour past its expiry, which every server refuses.
func TestMintingCredentialsRenewOnTheMonotonicClock(t *testing.T) {
	t.Parallel()
	c, err := interceptors.MintingCredentials([]byte(secret), "ana", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bearerOf(t, c)
	renewAt := interceptors.RenewAt(c)
	if renewAt.Round(0) == renewAt { // Round(0) strips the monotonic reading
		t.Errorf("renewal time %v has no monotonic clock reading", renewAt)
	}
	if d := time.Until(renewAt); d < 47*time.Minute || d > 48*time.Minute {
		t.Errorf("renewal in %v, want about 48m (exp less 12m)", d)
	}
}

// Callers on 50 goroutines cross a renewal point, ten times over. Each
// reading of the clock moves it on by a second and every caller reads it
// before any goes on, so a credential that minted more than once per
// renewal would hand out tokens with different exp values.
func TestMintingCredentialsConcurrentRenewal(t *testing.T) {
	t.Parallel()
	const (
		callers  = 50
		renewals = 10
		margin   = 12 * time.Minute // max(ttl/5, 10s)
	)
	clock := newFakeClock(time.Unix(1_700_000_000, 0), time.Second)
	c, err := interceptors.MintingCredentials([]byte(secret), "ana", time.Hour, interceptors.WithCredentialClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier([]byte(secret), token.WithUsers("ana"), token.WithCacheSize(-1),
		token.WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}

	// round makes one call per caller at once and returns the tokens sent.
	round := func() map[string]bool {
		clock.holdReadings(callers)
		var (
			mu   sync.Mutex
			seen = map[string]bool{}
			wg   sync.WaitGroup
		)
		for range callers {
			wg.Go(func() {
				md, err := c.GetRequestMetadata(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[strings.TrimPrefix(md["authorization"], "Bearer ")] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		return seen
	}

	var current string
	for tok := range round() {
		if current != "" {
			t.Fatal("more than one token minted before any renewal")
		}
		current = tok
	}
	for i := range renewals {
		// 50 readings a second apart from 10s before the renewal point:
		// the round crosses it.
		clock.set(expOf(t, current).Add(-margin - 10*time.Second))
		var minted []string
		for tok := range round() {
			if _, err := v.Verify(tok); err != nil {
				t.Fatalf("renewal %d: token does not verify: %v", i, err)
			}
			if tok != current {
				minted = append(minted, tok)
			}
		}
		if len(minted) != 1 {
			t.Fatalf("renewal %d: %d new tokens, want 1", i, len(minted))
		}
		current = minted[0]
	}
}

func TestCredentialMetadataIsPerCall(t *testing.T) {
	t.Parallel()
	c := interceptors.BearerToken("tok")
	md, _ := c.GetRequestMetadata(context.Background())
	md["authorization"] = "changed"
	if got := bearerOf(t, c); got != "tok" {
		t.Errorf("second call sends %q after the first call's map was changed", got)
	}
	if md, _ := interceptors.StatusTokenCredentials(statusToken).GetRequestMetadata(context.Background()); len(md) != 1 || md["x-status-token"] != statusToken {
		t.Errorf("status token metadata = %q", md)
	}
}

// WithMinValidity is the guarantee a long stream needs: every call starts
// with a token that has more than the minimum left. Before it, a token
// minted with ttl = 60s was reused until 12s were left, so a 20s stream
// opened then was cut by the server after 12s.
func TestMintingCredentialsMinValidity(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	const ttl, minValidity = time.Minute, 30 * time.Second
	clock := newFakeClock(start, 0)
	c, err := interceptors.MintingCredentials([]byte(secret), "ana", ttl,
		interceptors.WithCredentialClock(clock.now), interceptors.WithMinValidity(minValidity))
	if err != nil {
		t.Fatal(err)
	}
	for at := start; at.Before(start.Add(3 * ttl)); at = at.Add(time.Second) {
		clock.set(at)
		if left := expOf(t, bearerOf(t, c)).Sub(at); left <= minValidity {
			t.Fatalf("at +%v a call starts with a token that has %v left, want more than %v", at.Sub(start), left, minValidity)
		}
	}

	// Without the option the default margin is all a call can count on.
	clock.set(start)
	d, err := interceptors.MintingCredentials([]byte(secret), "ana", ttl, interceptors.WithCredentialClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	bearerOf(t, d)
	clock.set(start.Add(ttl - 13*time.Second))
	if left := expOf(t, bearerOf(t, d)).Sub(start.Add(ttl - 13*time.Second)); left != 13*time.Second {
		t.Errorf("default: token reused with %v left, want 13s (margin max(ttl/5, 10s) = 12s)", left)
	}

	// A minimum the lifetime cannot give is refused, not silently cut.
	if _, err := interceptors.MintingCredentials([]byte(secret), "ana", ttl, interceptors.WithMinValidity(ttl)); !errors.Is(err, interceptors.ErrTTLTooShort) {
		t.Errorf("min validity = ttl: err = %v, want ErrTTLTooShort", err)
	}
	// Near the largest Duration, the check must not overflow into a pass.
	for _, d := range []time.Duration{math.MaxInt64, math.MaxInt64 - time.Second/2} {
		if _, err := interceptors.MintingCredentials([]byte(secret), "ana", ttl, interceptors.WithMinValidity(d)); !errors.Is(err, interceptors.ErrTTLTooShort) {
			t.Errorf("min validity %v: err = %v, want ErrTTLTooShort", d, err)
		}
	}
	if _, err := interceptors.MintingCredentials([]byte(secret), "ana", math.MinInt64); !errors.Is(err, interceptors.ErrTTLTooShort) {
		t.Errorf("ttl math.MinInt64: err = %v, want ErrTTLTooShort", err)
	}
}

// Credentials printed or logged (%v, %+v, %#v, slog) never show their
// token, status token or secret.
func TestCredentialsPrintNoSecret(t *testing.T) {
	t.Parallel()
	minting, err := interceptors.MintingCredentials([]byte(secret), "ana", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []any{interceptors.BearerToken("tok-123-secret"), interceptors.StatusTokenCredentials("st-456-secret"), minting} {
		var logs bytes.Buffer
		slog.New(slog.NewTextHandler(&logs, nil)).Info("dialing", "creds", c)
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("dialing", "creds", c)
		// A struct holding them in an unexported field, whose String fmt
		// cannot call.
		held := struct{ c any }{c}
		outs := []string{logs.String(), fmt.Sprintf("%+v", held), fmt.Sprintf("%#v", held), fmt.Errorf("dial with %v", c).Error()}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X"} {
			outs = append(outs, fmt.Sprintf(verb, c))
		}
		for _, out := range outs {
			if strings.Contains(out, "secret") && !strings.Contains(out, "redacted") || strings.Contains(out, secret) || strings.Contains(out, "tok-123") || strings.Contains(out, "st-456") {
				t.Errorf("printed as %q", out)
			}
		}
	}
}

// A client that reads its secret from a file follows a rotation: it signs
// with the new secret from its next renewal on, and keeps the last one
// while the file cannot be read.
func TestMintingCredentialsFromFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "secret")
	if _, err := interceptors.MintingCredentialsFromFile(file, "ana", time.Hour); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err = %v", err)
	}
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_700_000_000, 0)
	clock := newFakeClock(start, 0)
	c, err := interceptors.MintingCredentialsFromFile(file, "ana", time.Minute, interceptors.WithCredentialClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	signedWith := func(key string) bool {
		v, err := token.NewVerifier([]byte(key), token.WithClock(clock.now))
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(strings.TrimPrefix(bearerOf(t, c), "Bearer "))
		return err == nil
	}
	if !signedWith(secret) {
		t.Fatal("first token not signed with the file's secret")
	}
	if err := os.WriteFile(file, []byte(newSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !signedWith(secret) {
		t.Error("token renewed before its renewal point")
	}
	clock.set(start.Add(time.Minute)) // past the renewal point
	if !signedWith(newSecret) {
		t.Error("renewed token not signed with the rotated secret")
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	clock.set(start.Add(2 * time.Minute))
	if !signedWith(newSecret) {
		t.Error("with the file gone, the last secret should still sign")
	}
	// A file caught with a byte of its new content written, or holding a
	// blank line, is what a server refuses as a new secret: the last
	// secret signs on, rather than tokens no server accepts.
	for i, partial := range []string{"0", "\n\n"} {
		if err := os.WriteFile(file, []byte(partial), 0o600); err != nil {
			t.Fatal(err)
		}
		clock.set(start.Add(time.Duration(3+i) * time.Minute))
		if !signedWith(newSecret) {
			t.Errorf("secret file holding %q: the last secret should still sign", partial)
		}
	}
}
