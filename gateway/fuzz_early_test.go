package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/tokengate/tokengate/gateway"
)

// FuzzEarlyAnswer checks the early decision against the handler's: two
// gateways with the same decision function, one on a mux made by
// NewServeMux that has learned every route (it decides, and answers most
// refusals, before grpc-gateway's handler), one on a mux made with
// ServeMuxOptions (the handler decides every request), get the same
// request. Their answers must be the same to the byte (status, every
// header, body), and a call must reach the backend through both or
// neither.
func FuzzEarlyAnswer(f *testing.F) {
	// route, two headers, Authorization (how many, and values: "valid" is
	// a token the decision lets in), the raw query, ?token=, the body.
	f.Add(uint8(1), "Accept", "application/json", "", "", uint8(0), "", "", "", "", `{"message":"hi"}`)
	f.Add(uint8(1), "TE", "trailers", "", "", uint8(1), "Bearer forged", "", "", "", `{"message":"hi"}`)
	f.Add(uint8(1), "Grpc-Timeout", "soon", "", "", uint8(1), "valid", "", "", "", `{"message":"hi"}`)
	f.Add(uint8(0), "Content-Type", "application/x-www-form-urlencoded", "X-Http-Method-Override", "GET", uint8(0), "", "", "", "st", "token=st")
	f.Add(uint8(0), "", "", "", "", uint8(2), "valid", "valid", "x=%ff", "", "")
	f.Add(uint8(3), "", "", "", "", uint8(1), "Basic YW5hOnB3", "", "", "wrong", "")
	f.Add(uint8(1), "", "", "", "", uint8(1), "Bearer \x01", "", "", "", strings.Repeat(" ", 100))

	ana := signed(f, testSecret, "ana", time.Now().Add(time.Hour))
	type face struct {
		b *backend
		h http.Handler
	}
	newFace := func(early bool) face {
		a := newAuthenticator(f)
		b := newBackend(f)
		g := gateway.New(gateway.WithPrecheck(a.Precheck), gateway.WithMaxBodySize(64))
		mux := runtime.NewServeMux(g.ServeMuxOptions()...)
		if early {
			mux = g.NewServeMux()
		}
		b.register(f, mux)
		return face{b, g.Wrap(mux)}
	}
	early, handler := newFace(true), newFace(false)
	var nextID atomic.Uint64
	// Requests are made by hand, as in FuzzHeaderMapping, so that no input
	// is refused before the gateway sees it.
	serve := func(fc face, method string, u *url.URL, h http.Header, body string) (*httptest.ResponseRecorder, bool) {
		id := strconv.FormatUint(nextID.Add(1), 10)
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), idKey{}, id), 10*time.Second)
		defer cancel()
		req := (&http.Request{
			Method:        method,
			URL:           u,
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        h.Clone(),
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)),
			Host:          "gateway.test",
			RemoteAddr:    "127.0.0.1:40000",
			RequestURI:    u.RequestURI(),
		}).WithContext(ctx)
		rec := httptest.NewRecorder()
		fc.h.ServeHTTP(rec, req)
		_, called := fc.b.rec.take(id)
		return rec, called
	}
	// Teach the early gateway every route: a refusal of each.
	for _, rt := range fuzzRoutes {
		serve(early, rt.method, &url.URL{Path: rt.path}, http.Header{}, "")
	}

	f.Fuzz(func(t *testing.T, route uint8, n1, v1, n2, v2 string, nAuth uint8, auth1, auth2, rawQuery, tok, body string) {
		// "valid" stands for a token the decision lets in.
		if auth1 == "valid" {
			auth1 = "Bearer " + ana
		}
		if auth2 == "valid" {
			auth2 = "Bearer " + ana
		}
		rt, u, h := fuzzInput(route, n1, v1, n2, v2, nAuth, auth1, auth2, rawQuery, tok)
		got, gotCalled := serve(early, rt.method, u, h, body)
		want, wantCalled := serve(handler, rt.method, u, h, body)
		if h.Get("Grpc-Timeout") != "" && (got.Code == http.StatusGatewayTimeout || want.Code == http.StatusGatewayTimeout) {
			return // a deadline the call may or may not meet
		}
		if got.Code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Fatalf("%s %s with %q, body %q:\nearly:   %d %q %q\nhandler: %d %q %q", rt.method, u, h, body,
				got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
		}
		if gotCalled != wantCalled {
			t.Fatalf("%s %s with %q: a call reached the backend through the early gateway: %v, through the handler's: %v", rt.method, u, h, gotCalled, wantCalled)
		}
	})
}
