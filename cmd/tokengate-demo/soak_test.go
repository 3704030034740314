package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// soakFor is set on the test binary's command line, after the package:
//
//	go test -run TestSoak -count=1 -v ./cmd/tokengate-demo -soak=60s
//
// (go test passes the first flag it does not know, and everything after
// it, to the test binary, so -soak must come after the package list.)
var soakFor = flag.Duration("soak", 0, "run TestSoak's load for this long with 100 callers (0: a short run with 20)")

// soakKind is one kind of call of the soak; call returns nil when the
// answer is the expected one.
type soakKind struct {
	name       string
	call       func(ctx context.Context, n int) error
	calls, bad atomic.Int64
}

// TestSoak puts a mix of valid and invalid calls on both faces of one demo
// for a while and checks that every answer is the expected one, that the
// goroutines come back to where they were and that the heap stays flat.
// By default it runs briefly; -soak=60s runs it for real.
//
// It does not call t.Parallel: it runs alone, while the parallel tests
// wait, so that its goroutine and heap figures are its own.
func TestSoak(t *testing.T) {
	dur, callers := 3*time.Second, 20
	if *soakFor > 0 {
		dur, callers = *soakFor, 100
	}
	r := startDemo(t, testAuth, nil)
	tok := newTokens(t)
	ana := sign(t, testSecret, "ana", time.Now().Add(dur+time.Hour))

	// The soak's own clients: a few gRPC connections, and an HTTP
	// transport that keeps a connection per caller alive (the default
	// keeps 2, and 100 callers would churn through ephemeral ports).
	conns := make([]*grpc.ClientConn, 4)
	for i := range conns {
		c, err := grpc.NewClient(r.d.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	tr := &http.Transport{MaxIdleConns: 2 * callers, MaxIdleConnsPerHost: 2 * callers}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	echo := func(n int) tokengatev1.EchoServiceClient {
		return tokengatev1.NewEchoServiceClient(conns[n%len(conns)])
	}
	invalid := []struct{ tok, msg string }{
		{tok.expired, mExpired},
		{tok.wrongSecret, mSig},
		{tok.bob, mNotAllowed},
		{"garbage", mMalformed},
		{jws(`{"alg":"none","typ":"JWT"}`, payloadJSON("ana", time.Now().Add(time.Hour).Unix()), testSecret), mAlg},
	}
	wantDenied := func(err error, msg string) error {
		if s := status.Convert(err); s.Code() != codes.Unauthenticated || s.Message() != msg {
			return fmt.Errorf("got %v %q, want Unauthenticated %q", s.Code(), s.Message(), msg)
		}
		return nil
	}
	rest := func(ctx context.Context, method, target string, body string, header ...[2]string) (int, []byte, error) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, r.base+target, rd)
		if err != nil {
			return 0, nil, err
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for _, h := range header {
			req.Header.Add(h[0], h[1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}

	kinds := []*soakKind{
		{name: "gRPC unary", call: func(ctx context.Context, n int) error {
			resp, err := echo(n).UnaryEcho(withMD(ctx, bearer(ana)...), &tokengatev1.EchoRequest{Message: "soak"})
			if err != nil || resp.GetUser() != "ana" || resp.GetMessage() != "soak" {
				return fmt.Errorf("%v, %v", resp, err)
			}
			return nil
		}},
		{name: "gRPC server stream", call: func(ctx context.Context, n int) error {
			s, err := echo(n).ServerStreamingEcho(withMD(ctx, bearer(ana)...), &tokengatev1.EchoRequest{Message: "a b c"})
			if err != nil {
				return err
			}
			var got []string
			for {
				m, err := s.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return err
				}
				if m.GetUser() != "ana" {
					return fmt.Errorf("user %q", m.GetUser())
				}
				got = append(got, m.GetMessage())
			}
			if strings.Join(got, " ") != "a b c" {
				return fmt.Errorf("stream %q", got)
			}
			return nil
		}},
		{name: "gRPC invalid token", call: func(ctx context.Context, n int) error {
			bad := invalid[n%len(invalid)]
			_, err := echo(n).UnaryEcho(withMD(ctx, bearer(bad.tok)...), &tokengatev1.EchoRequest{Message: "soak"})
			return wantDenied(err, bad.msg)
		}},
		{name: "gRPC Status, status token", call: func(ctx context.Context, n int) error {
			resp, err := tokengatev1.NewStatusServiceClient(conns[n%len(conns)]).Status(
				withMD(ctx, "x-status-token", testStatusToken), &tokengatev1.StatusRequest{})
			if err != nil || resp.GetStatus() != "OK" {
				return fmt.Errorf("%v, %v", resp, err)
			}
			return nil
		}},
		{name: "REST POST /v1/echo", call: func(ctx context.Context, n int) error {
			code, body, err := rest(ctx, "POST", "/v1/echo", `{"message":"soak"}`, auth(ana))
			var e struct{ Message, User string }
			if err != nil || code != 200 || json.Unmarshal(body, &e) != nil || e.User != "ana" || e.Message != "soak" {
				return fmt.Errorf("%d %q, %v", code, body, err)
			}
			return nil
		}},
		{name: "REST invalid token", call: func(ctx context.Context, n int) error {
			bad := invalid[n%len(invalid)]
			code, body, err := rest(ctx, "POST", "/v1/echo", `{"message":"soak"}`, auth(bad.tok))
			if err != nil || code != 401 || !strings.Contains(string(body), jsonString(bad.msg)) {
				return fmt.Errorf("%d %q, %v; want 401 %q", code, body, err, bad.msg)
			}
			return nil
		}},
		{name: "REST /status?token=", call: func(ctx context.Context, n int) error {
			code, body, err := rest(ctx, "GET", "/status?token="+testStatusToken, "")
			if err != nil || code != 200 || !strings.Contains(string(body), `"status":"OK"`) {
				return fmt.Errorf("%d %q, %v", code, body, err)
			}
			return nil
		}},
	}

	// Warm up: every kind once, then let the idle HTTP connections go.
	for i, k := range kinds {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := k.call(ctx, i)
		cancel()
		if err != nil {
			t.Fatalf("warm-up %s: %v", k.name, err)
		}
	}
	tr.CloseIdleConnections()
	settle := func(limit int) int {
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= limit || time.Now().After(deadline) {
				return n
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	before := runtime.NumGoroutine()

	// The load. A caller checks the load context between calls only, so
	// that the end of the load never cuts a call short; each call has a
	// deadline of its own.
	load, stop := context.WithTimeout(context.Background(), dur)
	defer stop()
	var (
		mu       sync.Mutex
		failures []string
	)
	fail := func(kind string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, kind+": "+err.Error())
		}
		stop() // one failure stops every caller
	}
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := c; load.Err() == nil; n++ {
				k := kinds[n%len(kinds)]
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := k.call(ctx, n/len(kinds))
				cancel()
				k.calls.Add(1)
				if err != nil {
					k.bad.Add(1)
					fail(k.name, err)
				}
			}
		}()
	}
	var heap []uint64 // HeapInuse after a GC, every second
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-load.Done():
				return
			case <-tick.C:
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heap = append(heap, ms.HeapInuse)
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(dur + 30*time.Second):
		t.Fatalf("the callers did not stop within 30s of the end of the load")
	}
	elapsed := time.Since(start)
	<-sampled

	tr.CloseIdleConnections()
	const margin = 5
	after := settle(before + margin)

	var total, bad int64
	var perKind, badKind []string
	for _, k := range kinds {
		total += k.calls.Load()
		bad += k.bad.Load()
		perKind = append(perKind, fmt.Sprintf("%s %d", k.name, k.calls.Load()))
		badKind = append(badKind, fmt.Sprintf("%s %d", k.name, k.bad.Load()))
	}
	mib := func(xs []uint64) float64 {
		if len(xs) == 0 {
			return 0
		}
		var s uint64
		for _, x := range xs {
			s += x
		}
		return float64(s) / float64(len(xs)) / (1 << 20)
	}
	third := len(heap) / 3
	first, last := mib(heap[:third]), mib(heap[len(heap)-third:])
	t.Logf("soak: %v, %d callers, %d calls (%.0f/s): %s; unexpected answers %d: %s; goroutines %d before, %d after; heap in use %.1f MiB first third, %.1f MiB last third (%d samples)",
		elapsed.Round(time.Millisecond), callers, total, float64(total)/elapsed.Seconds(), strings.Join(perKind, ", "),
		bad, strings.Join(badKind, ", "), before, after, first, last, len(heap))

	if bad > 0 {
		t.Errorf("%d unexpected answers, the first ones:\n%s", bad, strings.Join(failures, "\n"))
	}
	for _, k := range kinds {
		if k.calls.Load() == 0 {
			t.Errorf("no %s call was made", k.name)
		}
	}
	if after > before+margin {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before the load, %d after it (margin %d)\n%s", before, after, margin, buf[:runtime.Stack(buf, true)])
	}
	if third > 0 && last > first*1.25 && last-first > 16 {
		t.Errorf("heap in use grew from %.1f MiB (first third) to %.1f MiB (last third)", first, last)
	}
}
