package main

// In-process tests of run, with a fake environment and a fixed clock. None of
// them reaches ./.env: the fake environment always has TOKENS_SECRET, so
// loadSecret never opens the file (the subprocess tests cover .env).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/token"
)

// environOf turns a map into KEY=VALUE strings, as os.Environ returns them.
func environOf(vars map[string]string) []string {
	var environ []string
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	return environ
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func runInProcess(t *testing.T, env map[string]string, now time.Time, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut, environOf(env), fixedClock(now))
	for k, v := range env {
		if strings.HasPrefix(k, "TOKENS_SECRET") && !strings.HasSuffix(k, "_FILE") && v != "" { // a path is no secret
			if strings.Contains(out.String(), v) || strings.Contains(errOut.String(), v) {
				t.Errorf("run(%q): output contains the value of %s", args, k)
			}
		}
	}
	return code, out.String(), errOut.String()
}

// Tokens Brevia makes. The first is the reference's golden vector; the
// others were made by python-jose (copied from the project's
// jose-hs256.json vectors: jose_valid and jose_valid_unicode_user).
func TestGoldenTokens(t *testing.T) {
	t.Parallel()
	const golden = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiZ3VzdGF2byIsImV4cCI6MTcwMDAwMDAwMH0.DKh8eCLLt3pPhzMNwbvKrD-xjSGdjHNmYovPoR-xrnM"
	const (
		joseSecret  = "s2265b1f5-91b7584a-d8f16adf"
		joseValid   = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiZ3VzdGF2byIsImV4cCI6NDEwMjQ0NDgwMH0.5tQPZtcT_2VOBZu1dy1eOHzRGJ7Duyg1cI4YrhrkEXU"
		joseUnicode = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiZ1x1MDBmOTwmPiIsImV4cCI6NDEwMjQ0NDgwMH0.bWJe3ybAV-EqbVKcXmuRXHV00lQ07-SAG8eb80QYqL0"
	)
	exp := time.Unix(1700000000, 0)
	tests := []struct {
		name   string
		secret string
		now    time.Time
		args   []string
		want   string
	}{
		{"default duration", "secretsecretsecret", exp.Add(-time.Hour), []string{"-u", "gustavo"}, golden},
		{"-d 60", "secretsecretsecret", exp.Add(-time.Hour), []string{"-u", "gustavo", "-d", "60"}, golden},
		{"-d 1h", "secretsecretsecret", exp.Add(-time.Hour), []string{"--user=gustavo", "-d", "1h"}, golden},
		{"-d 30 is minutes", "secretsecretsecret", exp.Add(-30 * time.Minute), []string{"-u", "gustavo", "-d", "30"}, golden},
		// Brevia adds timedelta(minutes=…) to utcnow() and python-jose
		// drops the fraction of a second.
		{"fraction of a second dropped", "secretsecretsecret", exp.Add(-time.Hour + 999*time.Millisecond), []string{"-u", "gustavo"}, golden},
		{"python-jose", joseSecret, time.Unix(4102444800, 0).Add(-2 * time.Hour), []string{"-u", "gustavo", "-d", "120"}, joseValid},
		{"python-jose non-ASCII user", joseSecret, time.Unix(4102444800, 0).Add(-time.Hour), []string{"-u", "gù<&>"}, joseUnicode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runInProcess(t, map[string]string{"TOKENS_SECRET": tc.secret}, tc.now, tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if stdout != tc.want+"\n" {
				t.Errorf("stdout = %q\nwant     %q", stdout, tc.want+"\n")
			}
			// Both secrets are short: the warning is expected, on stderr.
			if !strings.Contains(stderr, "warning") {
				t.Errorf("stderr = %q, want a short-secret warning", stderr)
			}
		})
	}
}

// A secret python-jose would read as JSON before verifying gets a warning
// (Brevia would refuse the token); the token is still signed with its bytes.
func TestJSONSecretWarns(t *testing.T) {
	t.Parallel()
	secret := `{"key":"0123456789abcdef0123456789abcdef"}`
	code, stdout, stderr := runInProcess(t, map[string]string{"TOKENS_SECRET": secret}, time.Now(), "-u", "ana")
	if code != exitOK || !strings.Contains(stderr, "would refuse this token") || strings.Contains(stderr, "0123456789abcdef") {
		t.Fatalf("exit %d, stderr %q; want a token and a warning that does not print the secret", code, stderr)
	}
	v, err := token.NewVerifier([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(strings.TrimSpace(stdout)); err != nil {
		t.Errorf("token not signed with the secret's bytes: %v", err)
	}
}

// The payload is exactly {"user":…,"exp":…}, in that order, as Brevia
// writes it, and the token verifies.
func TestClaimsExactly(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("k", 32)
	now := time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	code, stdout, stderr := runInProcess(t, map[string]string{"TOKENS_SECRET": secret}, now, "-u", "ana", "-d", "90")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	tok := strings.TrimSuffix(stdout, "\n")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d segments", tok, len(parts))
	}
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || string(header) != `{"alg":"HS256","typ":"JWT"}` {
		t.Errorf("header = %q, %v", header, err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	wantExp := now.Add(90 * time.Minute).Unix()
	if want := `{"user":"ana","exp":` + itoa(wantExp) + `}`; string(payload) != want {
		t.Errorf("payload = %s, want %s", payload, want)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil || len(m) != 2 {
		t.Errorf("payload keys: %v (%v), want exactly user and exp", m, err)
	}

	v, err := token.NewVerifier([]byte(secret), token.WithClock(fixedClock(now)))
	if err != nil {
		t.Fatal(err)
	}
	verified, err := v.Verify(tok)
	c := verified.Claims()
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.User != "ana" || c.ExpiresAt.Unix() != wantExp {
		t.Errorf("claims = %+v", c)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestJSONOutputExact(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000-3600, 0)
	code, stdout, _ := runInProcess(t, map[string]string{"TOKENS_SECRET": "secretsecretsecret"}, now, "--json", "-u", "gustavo")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	want := `{"token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiZ3VzdGF2byIsImV4cCI6MTcwMDAwMDAwMH0.DKh8eCLLt3pPhzMNwbvKrD-xjSGdjHNmYovPoR-xrnM","user":"gustavo","expires_at":"2023-11-14T22:13:20Z","exp":1700000000}` + "\n"
	if stdout != want {
		t.Errorf("stdout = %s\nwant     %s", stdout, want)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestStdoutFailureExits1(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	env := environOf(map[string]string{"TOKENS_SECRET": strings.Repeat("k", 32)})
	code := run(nil, failingWriter{}, &stderr, env, time.Now)
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr.String(), "broken pipe") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"60", time.Hour, ""},
		{"90", 90 * time.Minute, ""},
		// Python's int(): Brevia's -d is a click option of type int.
		{"+5", 5 * time.Minute, ""},
		{" 5", 5 * time.Minute, ""},
		{"5\t\n", 5 * time.Minute, ""},
		{"1_000", 1000 * time.Minute, ""},
		{"007", 7 * time.Minute, ""},
		{"1_0_0", 100 * time.Minute, ""},
		{"_1", 0, "not minutes"},
		{"1_", 0, "not minutes"},
		{"1__0", 0, "not minutes"},
		{"+_1", 0, "not minutes"},
		{"+ 5", 0, "not minutes"},
		{"+-5", 0, "not minutes"},
		{"=5", 0, "not minutes"},
		{"\u0663", 0, "in ASCII"},  // Arabic-Indic 3: Python reads 3
		{"\u00a05", 0, "in ASCII"}, // Python reads 5
		{"-_5", 0, "not minutes"},
		{"1_000_000_000_000_000_000", 0, "too long"},
		{"90m", 90 * time.Minute, ""},
		{"2h", 2 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"45s", 45 * time.Second, ""},
		{"1s", time.Second, ""},
		{"0", 0, "positive"},
		{"-5", 0, "positive"},
		{"-5m", 0, "positive"},
		{"0s", 0, "positive"},
		{"-99999999999999999999", 0, "positive"},
		{"99999999999999999999", 0, "too long"},
		{"153722867280912931", 0, "too long"}, // > MaxInt64 nanoseconds as minutes
		{"500ms", 0, "at least 1s"},
		{"abc", 0, "not minutes"},
		{"1.5", 0, "not minutes"},
		{"", 0, "not minutes"},
		{"90 m", 0, "not minutes"},
		{" 90m", 0, "not minutes"},
	}
	for _, tc := range tests {
		got, err := parseDuration(tc.in)
		switch {
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("parseDuration(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
		}
	}
}

// Brevia's create_token is a click command: a short option takes the rest
// of its argument as its value, "=" included.
func TestClickShortOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want []string
	}{
		{[]string{"-uana", "-d90"}, []string{"-u", "ana", "-d", "90"}},
		{[]string{"-u=ana", "-d=5"}, []string{"-u", "=ana", "-d", "=5"}},
		{[]string{"-user", "ana"}, []string{"-u", "ser", "ana"}},
		{[]string{"--user=bo", "--user", "-dx", "--duration", "5"}, []string{"--user=bo", "--user", "-dx", "--duration", "5"}},
		{[]string{"-u", "-dfoo"}, []string{"-u", "-dfoo"}}, // a value, even if it looks like a flag
		{[]string{"-d", "-uana"}, []string{"-d", "-uana"}},
		{[]string{"-json", "-uana"}, []string{"-json", "-u", "ana"}},
		{[]string{"--json", "-uana"}, []string{"--json", "-u", "ana"}},
		{[]string{"--", "-uana"}, []string{"--", "-uana"}},
		{[]string{"-h", "-x", "--dfoo", "-"}, []string{"-h", "-x", "--dfoo", "-"}},
		{[]string{"-d"}, []string{"-d"}},
	}
	for _, tc := range tests {
		var user string
		var asJSON bool
		var d durationFlag
		flags := newFlagSet(&user, &d, &asJSON)
		if got := clickShortOptions(flags, tc.in); strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") {
			t.Errorf("clickShortOptions(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TOKENS_SECRET_FILE: the secret from a file, one trailing newline removed;
// with TOKENS_SECRET too, or an empty or missing file, a usage error.
func TestSecretFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const fileSecret = "a-secret-kept-in-a-file-of-32-bytes!"
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte(fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	code, out, errOut := runInProcess(t, map[string]string{"TOKENS_SECRET_FILE": file}, now, "-u", "ana")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	v, err := token.NewVerifier([]byte(fileSecret), token.WithClock(fixedClock(now)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(strings.TrimSpace(out)); err != nil {
		t.Errorf("token not signed with the file's secret: %v", err)
	}
	for _, env := range []map[string]string{
		{"TOKENS_SECRET_FILE": file, "TOKENS_SECRET": strings.Repeat("k", 32)},
		{"TOKENS_SECRET_FILE": empty},
		{"TOKENS_SECRET_FILE": filepath.Join(dir, "missing")},
		{"tokens_secret_file": dir},
	} {
		code, out, errOut := runInProcess(t, env, now)
		if code != exitUsage || out != "" || !strings.Contains(strings.ToUpper(errOut), "TOKENS_SECRET_FILE") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want a usage error naming TOKENS_SECRET_FILE", env, code, out, errOut)
		}
	}
	// The secret itself put where its file's path belongs names no file:
	// the error must not print it.
	pasted := "8d2f0c3b9a7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c"
	code, out, errOut = runInProcess(t, map[string]string{"TOKENS_SECRET_FILE": pasted}, now, "-u", "ana")
	if code != exitUsage || out != "" || strings.Contains(errOut, pasted[8:40]) || !strings.Contains(errOut, "no such file") {
		t.Errorf("TOKENS_SECRET_FILE=<a secret>: exit %d, stdout %q, stderr %q; want a usage error that does not print it", code, out, errOut)
	}
}
