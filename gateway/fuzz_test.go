package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/tokengate/tokengate/gateway"
	"github.com/tokengate/tokengate/wire"
)

type fuzzRoute struct{ method, path, rpc string }

var fuzzRoutes = []fuzzRoute{
	{http.MethodGet, "/status", statusRPC},
	{http.MethodPost, "/v1/echo", unaryRPC},
	{http.MethodGet, "/v1/echo/stream", streamRPC},
	{http.MethodHead, "/status", statusRPC},
	{http.MethodHead, "/v1/echo/stream", streamRPC},
}

// fuzzInput makes a fuzz input into a route, a URL (rawQuery, and tok as
// ?token=) and headers (two of any name, and nAuth%3 of auth1 and auth2 as
// Authorization values).
func fuzzInput(route uint8, n1, v1, n2, v2 string, nAuth uint8, auth1, auth2, rawQuery, tok string) (fuzzRoute, *url.URL, http.Header) {
	rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
	if tok != "" {
		if rawQuery != "" {
			rawQuery += "&"
		}
		rawQuery += gateway.StatusTokenParam + "=" + url.QueryEscape(tok)
	}
	h := http.Header{}
	h.Add(n1, v1)
	h.Add(n2, v2)
	for _, a := range []string{auth1, auth2}[:min(int(nAuth)%3, 2)] {
		h.Add("Authorization", a)
	}
	return rt, &url.URL{Path: rt.path, RawQuery: rawQuery}, h
}

func FuzzHeaderMapping(f *testing.F) {
	// route, two headers, Authorization headers (how many and their values),
	// the raw query, and a value for ?token=.
	f.Add(uint8(0), "X-Status-Token", "abc", "Grpc-Metadata-Authorization", "Bearer evil", uint8(1), "Bearer x", "Bearer y", "", "abc")
	f.Add(uint8(1), "Grpc-Metadata-X-Status-Token", "abc", "Authorization", "Bearer z", uint8(2), "Bearer x", "Bearer y", "message=hi", "abc")
	f.Add(uint8(2), "authorization", "Bearer lower", "Cookie", "token=abc", uint8(0), "", "", "message=a+b&token=t1", "t2")
	f.Add(uint8(3), "Grpc-Timeout", "1S", "User-Agent", "probe", uint8(1), "Basic YW5hOnB3", "", "token=a;token=b", "caf\u00e9")
	f.Add(uint8(0), "Grpc-Metadata-Foo-Bin", "AAEC", "Grpcgateway-Authorization", "Bearer evil", uint8(1), "Bearer \x00x", "", "tok%65n=abc&%zz", "\x00")
	f.Add(uint8(1), "Content-Type", "application/x-www-form-urlencoded", "X-Http-Method-Override", "GET", uint8(1), "Bearer x", "", "token=abc", "")
	// Found by fuzzing: grpc-gateway echoed the bad header in an error
	// message it could not marshal (500 before validUTF8Message).
	f.Add(uint8(1), "GrpC-Timeout", "\xab", "0", "0", uint8(1), "0", "0", "0", "0")
	// A ?token= that cannot be gRPC metadata (500 before printableASCII).
	f.Add(uint8(0), "", "", "", "", uint8(0), "", "", "", "caf\u00e9")

	// One recording backend and gateway for the whole run (per fuzzing
	// process), stopped when it ends. Inputs are served in process, which
	// skips net/http's own checks of header names and values: the gateway
	// must hold without them. Each request carries an id to the backend
	// (see idKey) to find its call among others.
	// The decision function lets every call in and records what it was
	// shown, which must be the credentials the backend then sees.
	b := newBackend(f)
	var asked sync.Map // request id -> metadata.MD
	g := gateway.New(gateway.WithPrecheck(func(ctx context.Context, _ string, creds wire.Credentials) error {
		md := credentialMD(creds)
		if id, ok := ctx.Value(idKey{}).(string); ok {
			asked.Store(id, md)
		}
		return nil
	}))
	mux := g.NewServeMux()
	b.register(f, mux)
	handler := g.Wrap(mux)
	var nextID atomic.Uint64

	f.Fuzz(func(t *testing.T, route uint8, n1, v1, n2, v2 string, nAuth uint8, auth1, auth2, rawQuery, tok string) {
		rt, u, h := fuzzInput(route, n1, v1, n2, v2, nAuth, auth1, auth2, rawQuery, tok)
		sentAuth := slices.Clone(h.Values("Authorization"))
		sentTokens := u.Query()[gateway.StatusTokenParam]

		id := strconv.FormatUint(nextID.Add(1), 10)
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), idKey{}, id), 10*time.Second)
		defer cancel()
		req := (&http.Request{
			Method:     rt.method,
			URL:        u,
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     h,
			Body:       http.NoBody,
			Host:       "gateway.test",
			RemoteAddr: "127.0.0.1:40000",
			RequestURI: u.RequestURI(),
		}).WithContext(ctx)

		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)

		if rec.Code >= 500 && !legitimate5xx(rec.Code, h) {
			t.Fatalf("%s %s with %q: status %d, body %s", rt.method, u, h, rec.Code, rec.Body)
		}

		c, called := b.rec.take(id)
		if rec.Code == http.StatusOK && !called {
			t.Fatalf("200 without a backend call")
		}
		if !called {
			return
		}
		if rt.method == http.MethodHead && rt.rpc == streamRPC {
			t.Fatalf("HEAD %s started the stream", u)
		}
		if c.method != rt.rpc {
			t.Fatalf("backend method %q, want %q", c.method, rt.rpc)
		}
		gotAuth := c.md.Get(wire.AuthorizationKey)
		if len(gotAuth) > len(sentAuth) {
			t.Fatalf("backend sees %d authorization values %q, request had %d Authorization headers %q", len(gotAuth), gotAuth, len(sentAuth), sentAuth)
		}
		left := slices.Clone(sentAuth)
		for _, v := range gotAuth {
			i := slices.Index(left, v)
			if i < 0 {
				t.Fatalf("backend sees authorization %q, not an Authorization header value (%q); headers %q", v, sentAuth, h)
			}
			left = slices.Delete(left, i, i+1)
		}
		st, hasST := c.md[wire.StatusTokenKey]
		if rt.rpc != statusRPC && hasST {
			t.Fatalf("backend sees x-status-token %q on %s", st, rt.rpc)
		}
		for _, v := range st {
			if !slices.Contains(sentTokens, v) {
				t.Fatalf("backend sees x-status-token %q, not a ?token= value (%q)", v, sentTokens)
			}
		}
		shown, ok := asked.LoadAndDelete(id)
		if !ok {
			t.Fatalf("backend called, but the decision function was not asked")
		}
		for _, k := range []string{wire.AuthorizationKey, wire.StatusTokenKey} {
			if got, want := shown.(metadata.MD).Get(k), c.md.Get(k); !slices.Equal(got, want) {
				t.Fatalf("decision function shown %s = %q, backend sees %q", k, got, want)
			}
		}
		for k := range c.md {
			if (strings.Contains(k, "authorization") && k != wire.AuthorizationKey) ||
				(strings.Contains(k, "status-token") && k != wire.StatusTokenKey) {
				t.Fatalf("backend sees a credential under %q: %q", k, c.md[k])
			}
		}
	})
}

// legitimate5xx reports whether a 5xx answer is what the client asked for
// rather than a failure of the gateway: a Grpc-Timeout header short enough
// to expire (504). (X-HTTP-Method-Override, which could once turn a route's
// method into one it lacks, 501, is off with grpc-gateway's form fallback.)
func legitimate5xx(code int, h http.Header) bool {
	return code == http.StatusGatewayTimeout && h.Get("Grpc-Timeout") != ""
}
