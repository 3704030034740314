package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// writeFile replaces path's content atomically (a new file renamed over the
// old), as secret managers and editors do.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// demoFromEnv starts the demo as main would, from environ and a .env file,
// on loopback ports.
func demoFromEnv(t *testing.T, environ []string, dotEnv string) *running {
	t.Helper()
	o, err := parseOptions(nil, environ, dotEnv, io.Discard)
	if err != nil {
		t.Fatalf("parseOptions: %v", err)
	}
	return startDemoWith(t, o, nil)
}

// The settings errors of issue 12 stop the demo at startup with a clear
// message and a non-zero exit code, instead of a warning and auth off.
func TestProcessRefusesBadSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		env    []string
		dotEnv string // "dir" makes .env a directory
		want   string
	}{
		{"overflowing leeway", []string{"TOKENS_SECRET=" + testSecret, "TOKENS_LEEWAY=18446744074"}, "", "TOKENS_LEEWAY"},
		{"leeway over the cap", []string{"TOKENS_SECRET=" + testSecret, "TOKENS_LEEWAY=876000h"}, "", "TOKENS_LEEWAY"},
		{"allow-list of nobody", []string{"TOKENS_SECRET=" + testSecret, "TOKENS_USERS=,"}, "", "TOKENS_USERS"},
		{"unreadable .env", nil, "dir", ".env"},
		{"malformed .env line naming the secret", nil, "TOKENS_SECRET: " + testSecret + "\n", "TOKENS_SECRET"},
		{"two spellings that disagree", []string{"TOKENS_SECRET=" + testSecret, "tokens_secret=" + otherSecret}, "", "TOKENS_SECRET"},
		{"a variable and its file", []string{"TOKENS_SECRET=" + testSecret, "TOKENS_SECRET_FILE=/etc/hostname"}, "", "TOKENS_SECRET_FILE"},
		{"certificate without key", []string{"TOKENS_SECRET=" + testSecret, "TLS_CERT_FILE=/nonexistent"}, "", "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			switch tc.dotEnv {
			case "":
			case "dir":
				if err := os.Mkdir(filepath.Join(dir, ".env"), 0o755); err != nil {
					t.Fatal(err)
				}
			default:
				if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tc.dotEnv), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			p := demoProcessIn(t, dir, tc.env, "-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0")
			if code := p.exitCode(t, 10*time.Second); code == 0 {
				t.Fatalf("exit code 0; stderr:\n%s", p.stderr)
			}
			out := p.stderr.String()
			if !strings.Contains(out, tc.want) || strings.Contains(out, "listening") {
				t.Errorf("stderr does not name %q, or the demo listened:\n%s", tc.want, out)
			}
			if strings.Contains(out, testSecret) || strings.Contains(out, otherSecret) {
				t.Errorf("stderr leaks a secret:\n%s", out)
			}
		})
	}
}

// A Brevia deployment keeps TOKENS_SECRET in .env, in any case: the demo
// started beside it runs with authentication on, as Brevia does.
func TestDemoReadsDotEnv(t *testing.T) {
	t.Parallel()
	dotEnv := filepath.Join(t.TempDir(), ".env")
	writeFile(t, dotEnv, "# Brevia settings\ntokens_secret='"+testSecret+"'\nTOKENS_USERS=ana # only ana\n")
	r := demoFromEnv(t, nil, dotEnv)
	echo := tokengatev1.NewEchoServiceClient(r.conn)
	_, err := echo.UnaryEcho(testCtx(t), &tokengatev1.EchoRequest{Message: "hi"})
	wantCode(t, err, codes.Unauthenticated)
	ctx := withMD(testCtx(t), bearer(sign(t, testSecret, "ana", time.Now().Add(time.Hour)))...)
	if _, err := echo.UnaryEcho(ctx, &tokengatev1.EchoRequest{Message: "hi"}); err != nil {
		t.Fatalf("token made with the .env secret: %v", err)
	}
	ctx = withMD(testCtx(t), bearer(sign(t, testSecret, "bob", time.Now().Add(time.Hour)))...)
	_, err = echo.UnaryEcho(ctx, &tokengatev1.EchoRequest{Message: "hi"})
	wantCode(t, err, codes.Unauthenticated)
}

// SIGHUP reads the settings again: a .env edited under a running demo
// takes effect then, and a bad edit changes nothing.
func TestDemoSIGHUPReloads(t *testing.T) {
	t.Parallel()
	dotEnv := filepath.Join(t.TempDir(), ".env")
	writeFile(t, dotEnv, "TOKENS_SECRET="+testSecret+"\n")
	r := demoFromEnv(t, nil, dotEnv)
	echo := tokengatev1.NewEchoServiceClient(r.conn)
	call := func(secret string) error {
		ctx := withMD(testCtx(t), bearer(sign(t, secret, "ana", time.Now().Add(time.Hour)))...)
		_, err := echo.UnaryEcho(ctx, &tokengatev1.EchoRequest{Message: "hi"})
		return err
	}
	hup := func() {
		r.d.hup <- syscall.SIGHUP
		time.Sleep(200 * time.Millisecond) // serve handles it on its own goroutine
	}

	writeFile(t, dotEnv, "TOKENS_SECRET="+otherSecret+"\nTOKENS_SECRET_PREVIOUS="+testSecret+"\n")
	if err := call(otherSecret); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("new secret accepted before SIGHUP: %v", err)
	}
	hup()
	if err := call(otherSecret); err != nil {
		t.Fatalf("new secret after SIGHUP: %v", err)
	}
	writeFile(t, dotEnv, "TOKENS_SECRET=\n") // turning auth off by a reload is refused
	hup()
	if err := call(testSecret); err != nil {
		t.Fatalf("previous secret after a refused reload: %v", err)
	}
	if _, err := echo.UnaryEcho(testCtx(t), &tokengatev1.EchoRequest{Message: "hi"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a refused reload turned authentication off: %v", err)
	}
}

// selfSigned makes a certificate for 127.0.0.1 and writes it and its key as
// PEM files, returning the certificate's pool.
func selfSigned(t *testing.T, certFile, keyFile, name string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// With TLS_CERT_FILE and TLS_KEY_FILE the demo serves gRPC and REST over
// TLS, the gateway's own connection untouched, and a renewed certificate is
// served without a restart.
func TestDemoTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	firstPool := selfSigned(t, certFile, keyFile, "first")
	r := demoFromEnv(t, []string{"TOKENS_SECRET=" + testSecret, "TLS_CERT_FILE=" + certFile, "TLS_KEY_FILE=" + keyFile}, "")
	tok := sign(t, testSecret, "ana", time.Now().Add(time.Hour))

	grpcCall := func(pool *x509.CertPool) error {
		conn, err := grpc.NewClient(r.d.grpcAddr, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = tokengatev1.NewEchoServiceClient(conn).UnaryEcho(withMD(testCtx(t), bearer(tok)...), &tokengatev1.EchoRequest{Message: "hi"})
		return err
	}
	restCall := func(pool *x509.CertPool) (int, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(testCtx(t), http.MethodPost, "https://"+r.d.httpAddr+"/v1/echo", strings.NewReader(`{"message":"hi"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if err := grpcCall(firstPool); err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}
	if code, err := restCall(firstPool); err != nil || code != http.StatusOK {
		t.Fatalf("REST over TLS: %d, %v", code, err)
	}
	if resp, err := r.http.Get("http://" + r.d.httpAddr + "/status"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plaintext HTTP on the TLS port: %d, want net/http's 400", resp.StatusCode)
		}
	}

	time.Sleep(certCheckInterval) // let the next handshake look at the files
	secondPool := selfSigned(t, certFile, keyFile, "second")
	deadline := time.Now().Add(3 * certCheckInterval)
	for grpcCall(secondPool) != nil {
		if time.Now().After(deadline) {
			t.Fatal("renewed certificate not served")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, err := restCall(secondPool); err != nil || code != http.StatusOK {
		t.Fatalf("REST with the renewed certificate: %d, %v", code, err)
	}
	if err := grpcCall(firstPool); err == nil {
		t.Error("the old certificate is still served")
	}
}

// -pprof-addr serves the profiles on their own listener, and the public
// listener does not.
func TestDemoPprof(t *testing.T) {
	t.Parallel()
	o, err := parseOptions([]string{"-pprof-addr", "127.0.0.1:0"}, []string{"TOKENS_SECRET=" + testSecret}, "", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r := startDemoWith(t, o, nil)
	get := func(url string) int {
		resp, err := r.http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("http://" + r.d.pprofAddr + "/debug/pprof/"); code != http.StatusOK {
		t.Errorf("pprof index: %d", code)
	}
	if code := get(r.base + "/debug/pprof/"); code == http.StatusOK {
		t.Error("pprof served on the public listener")
	}
}

// The demo's own variables are read as tokengate's are: names in any case
// from the environment, else from .env (TLS_CERT_FILE there must not leave
// the demo in plaintext); two spellings that disagree are refused.
func TestDemoVariablesAsBreviaReadsThem(t *testing.T) {
	t.Parallel()
	dotEnv := filepath.Join(t.TempDir(), ".env")
	writeFile(t, dotEnv, "TLS_CERT_FILE=tls.crt\nTLS_KEY_FILE=tls.key\nPPROF_ADDR=127.0.0.1:6060\n")
	o, err := parseOptions(nil, []string{"TOKENS_SECRET=" + testSecret, "grpc_addr=127.0.0.1:1", "Http_Addr=127.0.0.1:2"}, dotEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.grpcAddr != "127.0.0.1:1" || o.httpAddr != "127.0.0.1:2" || o.tlsCert != "tls.crt" || o.tlsKey != "tls.key" || o.pprofAddr != "127.0.0.1:6060" {
		t.Errorf("options %+v: want the addresses from the environment (any case) and TLS and pprof from .env", o)
	}
	if _, err := parseOptions(nil, []string{"TOKENS_SECRET=" + testSecret, "GRPC_ADDR=127.0.0.1:1", "grpc_addr=127.0.0.1:2"}, "", io.Discard); err == nil {
		t.Error("two spellings of GRPC_ADDR that disagree were accepted")
	}
}

// An empty listen address is refused from a flag (-http-addr "$HTTP_ADDR"
// with the variable unset), where net.Listen would take every interface;
// the empty variable keeps the loopback default.
func TestEmptyAddressIsRefused(t *testing.T) {
	t.Parallel()
	env := []string{"TOKENS_SECRET=" + testSecret, "HTTP_ADDR=", "GRPC_ADDR="}
	o, err := parseOptions(nil, env, "", io.Discard)
	if err != nil || o.grpcAddr != defaultGRPCAddr || o.httpAddr != defaultHTTPAddr {
		t.Fatalf("empty variables: %+v, %v; want the loopback defaults", o, err)
	}
	for _, flag := range []string{"-grpc-addr", "-http-addr"} {
		_, err := parseOptions([]string{flag + "="}, env, "", io.Discard)
		if err == nil || !strings.Contains(err.Error(), flag+" is empty") {
			t.Errorf("%s= : %v, want an error naming it", flag, err)
		}
	}
	if o, err := parseOptions([]string{"-http-addr", ":0"}, env, "", io.Discard); err != nil || o.httpAddr != ":0" {
		t.Errorf("-http-addr :0, every interface said on purpose: %+v, %v", o, err)
	}
}

// -grpc-window and -grpc-conn-window fix the windows the gRPC listener
// advertises (its first SETTINGS and WINDOW_UPDATE); a size grpc-go would
// ignore is refused.
func TestDemoWindows(t *testing.T) {
	t.Parallel()
	// advertised reads what the server says until it acknowledges the
	// client's SETTINGS, which grpc-go does only after sending its own
	// SETTINGS and connection WINDOW_UPDATE.
	advertised := func(t *testing.T, addr string) (stream uint32, conn uint32) {
		t.Helper()
		c := dialRaw(t, addr)
		defer c.Close()
		if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
			t.Fatal(err)
		}
		fr := http2.NewFramer(c, c)
		if err := fr.WriteSettings(); err != nil {
			t.Fatal(err)
		}
		stream, conn = 65535, 65535 // HTTP/2's defaults, unless told otherwise
		sawSettings := false
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("reading the server's first frames: %v", err)
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if f.IsAck() {
					if !sawSettings {
						t.Fatal("the server acknowledged SETTINGS before sending its own")
					}
					return stream, conn
				}
				sawSettings = true
				if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
					stream = v
				}
			case *http2.WindowUpdateFrame:
				if f.StreamID == 0 {
					conn += f.Increment
				}
			}
		}
	}
	for _, tc := range []struct {
		args                 []string
		wantStream, wantConn uint32
	}{
		{nil, 65535, 65535}, // grpc-go's defaults (BDP estimation grows them later)
		{[]string{"-grpc-window", "65535", "-grpc-conn-window", "1048576"}, 65535, 1048576},
		{[]string{"-grpc-window", "262144"}, 262144, 65535},
		{[]string{"-grpc-conn-window", "4194304"}, 65535, 4194304},
	} {
		o, err := parseOptions(tc.args, []string{"TOKENS_SECRET=" + testSecret}, "", io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		r := startDemoWith(t, o, nil)
		stream, conn := advertised(t, r.d.grpcAddr)
		if stream != tc.wantStream || conn != tc.wantConn {
			t.Errorf("%q: advertised stream window %d, connection window %d; want %d and %d", tc.args, stream, conn, tc.wantStream, tc.wantConn)
		}
		r.stop()
	}
	for _, bad := range [][]string{{"-grpc-window", "1000"}, {"-grpc-conn-window", "big"}, {"-grpc-window", "4294967296"}} {
		if _, err := parseOptions(bad, []string{"TOKENS_SECRET=" + testSecret}, "", io.Discard); err == nil || !strings.Contains(err.Error(), "not a window size") {
			t.Errorf("%q: err = %v, want it refused as not a window size", bad, err)
		}
	}
	if _, err := parseOptions(nil, []string{"TOKENS_SECRET=" + testSecret, "GRPC_WINDOW_SIZE=10"}, "", io.Discard); err == nil || !strings.Contains(err.Error(), "GRPC_WINDOW_SIZE") {
		t.Errorf("GRPC_WINDOW_SIZE=10: err = %v, want it refused, naming the variable", err)
	}
}
