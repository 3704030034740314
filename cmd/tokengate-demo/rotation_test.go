package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// rotationCallers are valid callers kept busy over gRPC and REST through
// a drill; they send whatever token current holds.
type rotationCallers struct {
	current  atomic.Pointer[string]
	calls    atomic.Int64
	failures atomic.Int64
	firstErr atomic.Pointer[string]
	stop     chan struct{}
	wg       sync.WaitGroup
}

func (c *rotationCallers) fail(err string) {
	c.failures.Add(1)
	c.firstErr.CompareAndSwap(nil, &err)
}

func (c *rotationCallers) start(t *testing.T, r *running, n int) {
	echo := tokengatev1.NewEchoServiceClient(r.conn)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	for i := range n {
		c.wg.Go(func() {
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				tok := *c.current.Load()
				c.calls.Add(1)
				if i%2 == 0 {
					ctx, cancel := context.WithTimeout(withMD(context.Background(), bearer(tok)...), 10*time.Second)
					_, err := echo.UnaryEcho(ctx, &tokengatev1.EchoRequest{Message: "hi"})
					cancel()
					if err != nil {
						c.fail(fmt.Sprintf("gRPC: %v", err))
					}
					continue
				}
				req, _ := http.NewRequest(http.MethodPost, r.base+"/v1/echo", strings.NewReader(`{"message":"hi"}`))
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					c.fail(fmt.Sprintf("REST: %v", err))
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					c.fail(fmt.Sprintf("REST: %d", resp.StatusCode))
				}
			}
		})
	}
}

// watchedStream is an open bidirectional stream whose end is timed.
type watchedStream struct {
	name  string
	s     tokengatev1.EchoService_BidirectionalStreamingEchoClient
	ended chan struct{}
	at    time.Time
	err   error
}

func openWatched(t *testing.T, r *running, name, tok string) *watchedStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(withMD(context.Background(), bearer(tok)...), time.Minute)
	t.Cleanup(cancel)
	s, err := tokengatev1.NewEchoServiceClient(r.conn).BidirectionalStreamingEcho(ctx)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := s.Send(&tokengatev1.EchoRequest{Message: "hi"}); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	w := &watchedStream{name: name, s: s, ended: make(chan struct{})}
	go func() {
		_, w.err = s.Recv() // the server sends nothing more until the stream ends
		w.at = time.Now()
		close(w.ended)
	}()
	return w
}

// endedWithin checks that w ended with Unauthenticated and reason within
// limit of since, and returns how long it took.
func (w *watchedStream) endedWithin(t *testing.T, since time.Time, limit time.Duration, reason string) time.Duration {
	t.Helper()
	select {
	case <-w.ended:
	case <-time.After(time.Until(since.Add(limit))):
		t.Fatalf("stream %s still open %v after the change", w.name, limit)
	}
	if status.Code(w.err) != codes.Unauthenticated || !strings.Contains(status.Convert(w.err).Message(), reason) {
		t.Errorf("stream %s ended with %v, want Unauthenticated %q", w.name, w.err, reason)
	}
	return w.at.Sub(since)
}

func (w *watchedStream) open() bool {
	select {
	case <-w.ended:
		return false
	default:
		return true
	}
}

// TestRotationDrill is issue 14's drill, run under load against the demo
// reading its policy from files: valid callers over gRPC and REST all
// along, and a stream per user and secret. Rotate (current = new, previous
// = old), move the callers to new tokens, retire the old secret, remove a
// user. No valid call may fail; the retired secret's tokens and streams,
// and the removed user's stream, must be refused within 1 s.
func TestRotationDrill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile, previousFile, usersFile := filepath.Join(dir, "secret"), filepath.Join(dir, "previous"), filepath.Join(dir, "users")
	writeFile(t, secretFile, testSecret+"\n")
	writeFile(t, previousFile, "")
	writeFile(t, usersFile, "ana\nbob\n")
	r := demoFromEnv(t, []string{
		"TOKENS_SECRET_FILE=" + secretFile,
		"TOKENS_SECRET_PREVIOUS_FILE=" + previousFile,
		"TOKENS_USERS_FILE=" + usersFile,
	}, "")
	exp := time.Now().Add(time.Hour)
	oldAna, oldBob := sign(t, testSecret, "ana", exp), sign(t, testSecret, "bob", exp)
	newAna, newBob := sign(t, otherSecret, "ana", exp), sign(t, otherSecret, "bob", exp)
	accepted := func(tok string) bool {
		_, err := tokengatev1.NewEchoServiceClient(r.conn).UnaryEcho(withMD(testCtx(t), bearer(tok)...), &tokengatev1.EchoRequest{})
		return err == nil
	}
	waitFor := func(what string, since time.Time, ok func() bool) time.Duration {
		t.Helper()
		for !ok() {
			if time.Since(since) > time.Second {
				t.Fatalf("%s: not within 1s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
		return time.Since(since)
	}

	callers := &rotationCallers{stop: make(chan struct{})}
	callers.current.Store(&oldAna)
	callers.start(t, r, 50)
	defer func() {
		close(callers.stop)
		callers.wg.Wait()
	}()
	anaOld, bobOld := openWatched(t, r, "ana/old", oldAna), openWatched(t, r, "bob/old", oldBob)
	time.Sleep(200 * time.Millisecond)

	// 1. Rotate: the old secret becomes the previous one first, so that it
	// is accepted at every moment.
	writeFile(t, previousFile, testSecret+"\n")
	writeFile(t, secretFile, otherSecret+"\n")
	rotated := time.Now()
	tRotate := waitFor("new secret accepted", rotated, func() bool { return accepted(newAna) })
	anaNew, bobNew := openWatched(t, r, "ana/new", newAna), openWatched(t, r, "bob/new", newBob)

	// 2. Callers move to new tokens.
	callers.current.Store(&newAna)
	time.Sleep(200 * time.Millisecond)
	if !anaOld.open() || !bobOld.open() {
		t.Fatal("a stream of the old secret ended while it was still the previous secret")
	}

	// 3. Retire the old secret.
	writeFile(t, previousFile, "")
	retired := time.Now()
	tRefused := waitFor("old-secret token refused", retired, func() bool { return !accepted(oldAna) })
	tAnaOld := anaOld.endedWithin(t, retired, time.Second, "signature does not match")
	tBobOld := bobOld.endedWithin(t, retired, time.Second, "signature does not match")

	// 4. Remove bob.
	time.Sleep(100 * time.Millisecond)
	writeFile(t, usersFile, "ana\n")
	removed := time.Now()
	tBob := bobNew.endedWithin(t, removed, time.Second, "user not allowed")
	time.Sleep(200 * time.Millisecond)
	if !anaNew.open() {
		t.Fatalf("ana's stream with the new secret ended: %v", anaNew.err)
	}
	if err := anaNew.s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	<-anaNew.ended

	close(callers.stop)
	callers.wg.Wait()
	callers.stop = make(chan struct{}) // the deferred close has something to close
	if n := callers.failures.Load(); n != 0 {
		t.Errorf("%d of %d valid calls failed; first: %s", n, callers.calls.Load(), *callers.firstErr.Load())
	}
	t.Logf("drill: %d valid calls, 0 failed; new secret accepted %v after the rotation; "+
		"old-secret token refused %v after the retirement, its streams ended after %v and %v; "+
		"removed user's stream ended %v after the users file changed",
		callers.calls.Load(), tRotate.Round(time.Millisecond), tRefused.Round(time.Millisecond),
		tAnaOld.Round(time.Millisecond), tBobOld.Round(time.Millisecond), tBob.Round(time.Millisecond))
}

// TestBadReloadsUnderLoad: each bad change of a policy file (an empty
// secret file, a users file naming nobody, a deleted file, a file replaced
// by a directory) leaves the old policy serving valid callers with no
// failed call, and shows in the log and in the reload metric.
func TestBadReloadsUnderLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile, usersFile := filepath.Join(dir, "secret"), filepath.Join(dir, "users")
	writeFile(t, secretFile, testSecret+"\n")
	writeFile(t, usersFile, "ana\n")
	var logs syncBuffer
	o, err := parseOptions(nil, []string{"TOKENS_SECRET_FILE=" + secretFile, "TOKENS_USERS_FILE=" + usersFile}, "", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r := startDemoWith(t, o, slog.New(slog.NewTextHandler(&logs, nil)))
	ana := sign(t, testSecret, "ana", time.Now().Add(time.Hour))
	rejected := func() string {
		req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, r.base+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+ana)
		resp, err := r.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, `tokengate_policy_reloads_total{result="rejected"}`) {
				return strings.Fields(line)[1]
			}
		}
		return "0"
	}

	callers := &rotationCallers{stop: make(chan struct{})}
	callers.current.Store(&ana)
	callers.start(t, r, 20)
	stopped := false
	defer func() {
		if !stopped {
			close(callers.stop)
			callers.wg.Wait()
		}
	}()

	for i, bad := range []struct {
		name string
		do   func()
	}{
		{"empty secret file", func() { writeFile(t, secretFile, "") }},
		{"users file naming nobody", func() { writeFile(t, secretFile, testSecret+"\n"); writeFile(t, usersFile, "# nobody\n , \n") }},
		{"deleted users file", func() { os.Remove(usersFile) }},
		{"users file replaced by a directory", func() {
			if err := os.Mkdir(usersFile, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		logged := strings.Count(logs.String(), "new policy refused")
		bad.do()
		deadline := time.Now().Add(2 * time.Second)
		for rejected() != fmt.Sprint(i+1) || strings.Count(logs.String(), "new policy refused") == logged {
			if time.Now().After(deadline) {
				t.Fatalf("%s: rejected reloads = %s, want %d; log:\n%s", bad.name, rejected(), i+1, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // callers keep calling under the bad file
	}
	close(callers.stop)
	callers.wg.Wait()
	stopped = true
	if n := callers.failures.Load(); n != 0 {
		t.Errorf("%d of %d valid calls failed during bad reloads; first: %s", n, callers.calls.Load(), *callers.firstErr.Load())
	}
	if strings.Contains(logs.String(), testSecret) {
		t.Error("the log holds the secret")
	}
}
