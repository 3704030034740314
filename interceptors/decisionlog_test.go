package interceptors_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/interceptors"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// logBuffer collects a JSON slog handler's output; the hook writes from the
// server's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// take returns the lines written so far and forgets them.
func (b *logBuffer) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	b.buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestLogDecisions(t *testing.T) {
	t.Parallel()
	valid := mustSign(t, secret, "ana", time.Now().Add(time.Hour))
	expired := mustSign(t, secret, "ana", time.Now().Add(-time.Hour))
	forged := mustSign(t, "not-the-secret-not-the-secret-xx", "ana", time.Now().Add(time.Hour))

	var logs logBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	conn := testServer(t, interceptors.Config{Secret: secret, Users: []string{"ana"}},
		interceptors.WithDecisionHook(interceptors.LogDecisions(logger)))
	echo := tokengatev1.NewEchoServiceClient(conn)
	const method = "/tokengate.v1.EchoService/UnaryEcho"

	tests := []struct {
		name       string
		md         []string
		wantLevel  string
		wantReason interceptors.Reason
		wantUser   string
	}{
		{"allowed", []string{"authorization", "Bearer " + valid}, "DEBUG", interceptors.ReasonValidToken, "ana"},
		{"no token", nil, "WARN", interceptors.ReasonMissingToken, ""},
		{"forged token", []string{"authorization", "Bearer " + forged}, "WARN", interceptors.ReasonInvalidToken, ""},
		{"not bearer", []string{"authorization", "Basic " + valid}, "WARN", interceptors.ReasonNotBearer, ""},
		{"expired token", []string{"authorization", "Bearer " + expired}, "INFO", interceptors.ReasonExpired, ""},
	}
	for _, tc := range tests { // one server and one log: not parallel
		t.Run(tc.name, func(t *testing.T) {
			_, _ = echo.UnaryEcho(withMD(tc.md...), &tokengatev1.EchoRequest{Message: "hi"})
			lines := logs.take()
			if len(lines) != 1 {
				t.Fatalf("got %d log lines, want 1: %q", len(lines), lines)
			}
			for _, s := range []string{valid, expired, forged, secret} {
				if strings.Contains(lines[0], s) {
					t.Fatalf("log line leaks a token or the secret: %s", lines[0])
				}
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"level": tc.wantLevel, "method": method, "reason": string(tc.wantReason)}
			if tc.wantUser != "" {
				want["user"] = tc.wantUser
			}
			for k, v := range want {
				if rec[k] != v {
					t.Errorf("%s = %v, want %v in %s", k, rec[k], v, lines[0])
				}
			}
			if _, ok := rec["user"]; ok && tc.wantUser == "" {
				t.Errorf("user logged for a denial: %s", lines[0])
			}
			if _, ok := rec["error"]; ok == (tc.wantLevel == "DEBUG") {
				t.Errorf("error attribute present = %v, want it on denials only: %s", ok, lines[0])
			}
		})
	}
}

func TestLogDecisionsAllowedOnlyAtDebug(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil)) // Info and above
	conn := testServer(t, interceptors.Config{Secret: secret},
		interceptors.WithDecisionHook(interceptors.LogDecisions(logger)))
	echo := tokengatev1.NewEchoServiceClient(conn)

	ctx := withMD("authorization", "Bearer "+mustSign(t, secret, "ana", time.Now().Add(time.Hour)))
	if _, err := echo.UnaryEcho(ctx, &tokengatev1.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
	if lines := logs.take(); len(lines) != 0 {
		t.Errorf("allowed call logged above Debug: %q", lines)
	}
	_, _ = echo.UnaryEcho(withMD(), &tokengatev1.EchoRequest{})
	if lines := logs.take(); len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") {
		t.Errorf("denied call: log = %q, want one WARN line", lines)
	}
}
