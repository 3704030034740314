package main

// Tests of the built command, run as a subprocess with an explicit, minimal
// environment and a fresh temporary working directory (for .env).

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/token"
)

var binary string // the command under test, built by TestMain

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "create_token-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "create_token")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building create_token: %v\n", err)
		return 1
	}
	return m.Run()
}

// Secrets used below: long and distinctive, so that finding one in the
// output cannot be a coincidence.
const (
	secretA     = "A0a1b2c3d4e5f60718293a4b5c6d7e8f9A0a1b2c3d4e5f60718293a4b5c6d7e8f9" // 66 bytes
	secretB     = "B9f8e7d6c5b4a3928170f6e5d4c3b2a1B9f8e7d6c5b4a3928170f6e5d4c3b2a1"
	secretShort = "Sh0rtS3cr3tXyz" // 14 bytes
	// secretDollarFile is how a .env line writes secretDollar, python-dotenv
	// reading ${PART} from PART=secretB[:20] in the environment.
	secretDollarFile = "Pa$5word$HOME-${PART}-end"
	secretDollar     = "Pa$5word$HOME-" + "B9f8e7d6c5b4a3928170" + "-end"
)

type invocation struct {
	args    []string
	env     map[string]string // the whole environment of the command
	dotEnv  *string           // content of ./.env, if any
	secrets []string          // must appear in neither stdout nor stderr (env values are added)
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

func str(s string) *string { return &s }

func (inv invocation) run(t *testing.T) result {
	t.Helper()
	dir := t.TempDir()
	if inv.dotEnv != nil {
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(*inv.dotEnv), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(binary, inv.args...)
	cmd.Dir = dir
	cmd.Env = []string{} // not nil: nil would inherit the test's environment
	if runtime.GOOS == "windows" {
		cmd.Env = append(cmd.Env, "SYSTEMROOT="+os.Getenv("SYSTEMROOT"))
	}
	secrets := inv.secrets
	for k, v := range inv.env {
		cmd.Env = append(cmd.Env, k+"="+v)
		if strings.HasPrefix(strings.ToUpper(k), "TOKENS_SECRET") && v != "" {
			secrets = append(secrets, v)
		}
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	default:
		t.Fatalf("running %s: %v", binary, err)
	}
	for _, s := range secrets {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			t.Errorf("%q: the secret %q appears in the output: %v", inv.args, s, r)
		}
	}
	return r
}

// tokenOf checks a successful run: exit 0, exactly one line on stdout, and
// returns the token.
func tokenOf(t *testing.T, r result) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("want exit 0: %v", r)
	}
	tok, ok := strings.CutSuffix(r.stdout, "\n")
	if !ok || tok == "" || strings.ContainsAny(tok, "\n\r \t") {
		t.Fatalf("stdout is not exactly one line: %q", r.stdout)
	}
	return tok
}

// verify checks tok with secret only and returns its claims.
func verify(t *testing.T, secret, tok string) token.Claims {
	t.Helper()
	v, err := token.NewVerifier([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	return c.Claims()
}

// checkExp checks that exp is now+d, now being some instant in [before, after].
func checkExp(t *testing.T, exp time.Time, d time.Duration, before, after time.Time) {
	t.Helper()
	if lo, hi := before.Add(d).Truncate(time.Second), after.Add(d); exp.Before(lo) || exp.After(hi) {
		t.Errorf("exp = %v, want between %v and %v (now + %v)", exp, lo, hi, d)
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantUser string
		wantTTL  time.Duration
	}{
		{"defaults", nil, "brevia", time.Hour},
		{"-u ana", []string{"-u", "ana"}, "ana", time.Hour},
		{"--user ana", []string{"--user", "ana"}, "ana", time.Hour},
		{"-u=ana is the user =ana, as in click", []string{"-u=ana"}, "=ana", time.Hour},
		{"-user=bo is the user ser=bo, as in click", []string{"-user=bo"}, "ser=bo", time.Hour},
		{"--user=ana", []string{"--user=ana"}, "ana", time.Hour},
		{"-uana (click style)", []string{"-uana"}, "ana", time.Hour},
		{"last one wins", []string{"-u", "ana", "--user", "bo"}, "bo", time.Hour},
		{"user with spaces", []string{"-u", "Ana Maria"}, "Ana Maria", time.Hour},
		{"-d 90 is minutes", []string{"-d", "90"}, "brevia", 90 * time.Minute},
		{"-d 90m", []string{"-d", "90m"}, "brevia", 90 * time.Minute},
		{"-d 2h", []string{"-d", "2h"}, "brevia", 2 * time.Hour},
		{"--duration 1h30m", []string{"--duration", "1h30m"}, "brevia", 90 * time.Minute},
		{"--duration=5", []string{"--duration=5"}, "brevia", 5 * time.Minute},
		{"-d ' 5' as Python's int()", []string{"-d", " 5"}, "brevia", 5 * time.Minute},
		{"-d 1_000 as Python's int()", []string{"-d", "1_000"}, "brevia", 1000 * time.Minute},
		{"-d +5", []string{"-d", "+5"}, "brevia", 5 * time.Minute},
		{"-d90 (click style)", []string{"-d90"}, "brevia", 90 * time.Minute},
		{"-d 1440", []string{"-d", "1440"}, "brevia", 24 * time.Hour},
		{"both", []string{"-u", "ana", "-d", "2h"}, "ana", 2 * time.Hour},
		{"both, other order", []string{"--duration=2h", "--user=ana"}, "ana", 2 * time.Hour},
		{"--json=false", []string{"--json=false", "-u", "ana"}, "ana", time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := time.Now()
			r := invocation{args: tc.args, env: map[string]string{"TOKENS_SECRET": secretA}}.run(t)
			after := time.Now()
			tok := tokenOf(t, r)
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			c := verify(t, secretA, tok)
			if c.User != tc.wantUser {
				t.Errorf("user = %q, want %q", c.User, tc.wantUser)
			}
			checkExp(t, c.ExpiresAt, tc.wantTTL, before, after)
			if !c.IssuedAt.IsZero() || !c.NotBefore.IsZero() {
				t.Errorf("claims carry iat or nbf: %+v", c)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"-d 0", []string{"-d", "0"}, "must be positive"},
		{"-d -5", []string{"-d", "-5"}, "must be positive"},
		{"-d=-5 is the value =-5, as in click", []string{"-d=-5"}, `invalid value "=-5" for flag -d`},
		{"-d=1 is the value =1, as in click", []string{"-d=1"}, `invalid value "=1" for flag -d`},
		{"-user ana is -u ser and a stray ana, as in click", []string{"-user", "ana"}, `unexpected argument "ana"`},
		{"-duration 5 is -d uration", []string{"-duration", "5"}, `invalid value "uration" for flag -d`},
		{"-d in another script", []string{"-d", "\u0663"}, "in ASCII"},
		{"-d -5m", []string{"-d", "-5m"}, "must be positive"},
		{"-d 0s", []string{"-d", "0s"}, "must be positive"},
		{"-d 500ms", []string{"-d", "500ms"}, "at least 1s"},
		{"-d abc", []string{"-d", "abc"}, `invalid value "abc" for flag -d`},
		{"-d 1.5", []string{"-d", "1.5"}, `invalid value "1.5"`},
		{"--duration empty", []string{"--duration="}, `invalid value ""`},
		{"-d without value", []string{"-d"}, "flag needs an argument: -d"},
		{"-u without value", []string{"-u"}, "flag needs an argument: -u"},
		{"blank user", []string{"-u", ""}, "must not be blank"},
		{"spaces user", []string{"--user=  "}, "must not be blank"},
		{"user of separators, blank to Python", []string{"-u", "\x1c"}, "must not be blank"},
		{"user not UTF-8", []string{"-u", "\xff"}, "must be valid UTF-8"},
		{"unknown flag", []string{"--bogus"}, "flag provided but not defined: -bogus"},
		{"unknown short flag", []string{"-x"}, "flag provided but not defined: -x"},
		{"stray argument", []string{"-u", "ana", "extra"}, `unexpected argument "extra"`},
		{"positional user", []string{"ana"}, `unexpected argument "ana"`},
		{"after --", []string{"--", "-u", "ana"}, `unexpected argument "-u"`},
		{"bad --json value", []string{"--json=maybe"}, "invalid boolean value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := invocation{args: tc.args, env: map[string]string{"TOKENS_SECRET": secretA}}.run(t)
			if r.code != 2 {
				t.Errorf("want exit 2: %v", r)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], tc.wantStderr) || !strings.Contains(lines[1], "--help") {
				t.Errorf("stderr = %q, want one line with %q and a hint to see --help", r.stderr, tc.wantStderr)
			}
		})
	}
}

func TestSecretSources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		env        map[string]string
		dotEnv     *string
		wantSecret string // the token verifies with it; "" = want exit 2
		wantStderr []string
	}{
		{
			name:       "environment",
			env:        map[string]string{"TOKENS_SECRET": secretA},
			wantSecret: secretA,
		},
		{
			name:       ".env when the environment has no TOKENS_SECRET",
			dotEnv:     str("# settings\nOTHER=1\nTOKENS_SECRET=" + secretB + "\n"),
			wantSecret: secretB,
		},
		{
			name:       ".env quoted, export, no final newline",
			dotEnv:     str(`export TOKENS_SECRET="` + secretB + `"`),
			wantSecret: secretB,
		},
		{
			name:       "environment wins over .env",
			env:        map[string]string{"TOKENS_SECRET": secretA},
			dotEnv:     str("TOKENS_SECRET=" + secretB + "\n"),
			wantSecret: secretA,
		},
		{
			// pydantic-settings: a variable set to "" in the environment
			// still wins over .env (env_ignore_empty defaults to false).
			name:       "empty in the environment wins over .env",
			env:        map[string]string{"TOKENS_SECRET": ""},
			dotEnv:     str("TOKENS_SECRET=" + secretB + "\n"),
			wantStderr: []string{"TOKENS_SECRET", "set but empty", "openssl rand -hex 32"},
		},
		{
			name:       "empty in the environment, no .env",
			env:        map[string]string{"TOKENS_SECRET": ""},
			wantStderr: []string{"TOKENS_SECRET", "empty", "openssl rand -hex 32"},
		},
		{
			name:       "not set anywhere",
			wantStderr: []string{"TOKENS_SECRET", "not set", "openssl rand -hex 32"},
		},
		{
			name:       ".env without TOKENS_SECRET",
			dotEnv:     str("OTHER=1\n"),
			wantStderr: []string{"TOKENS_SECRET", "not set", "openssl rand -hex 32"},
		},
		{
			name:       "empty in .env",
			dotEnv:     str("TOKENS_SECRET=\n"),
			wantStderr: []string{"TOKENS_SECRET", "empty in .env", "openssl rand -hex 32"},
		},
		{
			// python-dotenv warns about the line and goes on.
			name:       "a malformed line about something else is skipped",
			dotEnv:     str("this is not a setting\nTOKENS_SECRET=" + secretB + "\n"),
			wantSecret: secretB,
		},
		{
			name:       ".env with an unterminated quote",
			dotEnv:     str(`TOKENS_SECRET="` + secretB + "\n"),
			wantStderr: []string{".env: line 1 mentions TOKENS_SECRET but is not KEY=VALUE"},
		},
		{
			name:       "a malformed line about the secret",
			dotEnv:     str("OTHER=1\nTOKENS_SECRET: " + secretB + "\n"),
			wantStderr: []string{".env: line 2 mentions TOKENS_SECRET but is not KEY=VALUE"},
		},
		{
			name:       "the secret without =",
			dotEnv:     str("TOKENS_SECRET\n"),
			wantStderr: []string{`.env: line 1 names TOKENS_SECRET without "="`},
		},
		{
			name:       ".env not UTF-8",
			dotEnv:     str("TOKENS_SECRET=" + secretB + "\xff\n"),
			wantStderr: []string{"cannot read .env: line 1 is not valid UTF-8"},
		},
		{
			// pydantic-settings: case_sensitive=False.
			name:       "lower case in the environment",
			env:        map[string]string{"tokens_secret": secretA},
			dotEnv:     str("TOKENS_SECRET=" + secretB + "\n"),
			wantSecret: secretA,
		},
		{
			name:       "mixed case in .env",
			dotEnv:     str("export Tokens_Secret=" + secretB + "\n"),
			wantSecret: secretB,
		},
		{
			name:       "two spellings in the environment that disagree",
			env:        map[string]string{"TOKENS_SECRET": secretA, "tokens_secret": secretB},
			wantStderr: []string{"the environment sets TOKENS_SECRET as both"},
		},
		{
			name:       "two spellings in .env that disagree",
			dotEnv:     str("TOKENS_SECRET=" + secretA + "\ntokens_secret=" + secretB + "\n"),
			wantStderr: []string{".env: line 2 sets TOKENS_SECRET again, spelt tokens_secret"},
		},
		{
			// python-dotenv keeps a bare $ (godotenv would read "C0ffee" +
			// "" + ...), drops an unquoted " #comment" and expands ${VAR}
			// from the environment.
			name:       "python-dotenv values",
			env:        map[string]string{"PART": secretB[:20]},
			dotEnv:     str("TOKENS_SECRET=" + secretDollarFile + " # the secret\n"),
			wantSecret: secretDollar,
		},
		{
			name:       "double-quoted escapes",
			dotEnv:     str(`TOKENS_SECRET="` + secretA + `\t\"x\\"` + "\n"),
			wantSecret: secretA + "\t\"x\\",
		},
		{
			name:       "a malformed .env is not read when the environment has the secret",
			env:        map[string]string{"TOKENS_SECRET": secretA},
			dotEnv:     str("this is not a setting\n"),
			wantSecret: secretA,
		},
		{
			name:       "only the previous secret",
			env:        map[string]string{"TOKENS_SECRET_PREVIOUS": secretB},
			wantStderr: []string{"TOKENS_SECRET", "not set", "openssl rand -hex 32"},
		},
		{
			name:       "the previous secret is not used for signing",
			env:        map[string]string{"TOKENS_SECRET": secretA, "TOKENS_SECRET_PREVIOUS": secretB},
			wantSecret: secretA,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := invocation{args: []string{"-u", "ana"}, env: tc.env, dotEnv: tc.dotEnv, secrets: []string{secretA, secretB}}.run(t)
			if tc.wantSecret == "" {
				if r.code != 2 || r.stdout != "" {
					t.Fatalf("want exit 2 and no stdout: %v", r)
				}
				if strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("stderr is not one line: %q", r.stderr)
				}
				for _, want := range tc.wantStderr {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("stderr = %q, want it to mention %q", r.stderr, want)
					}
				}
				return
			}
			tok := tokenOf(t, r)
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			verify(t, tc.wantSecret, tok)
			for _, other := range []string{secretA, secretB} {
				if other == tc.wantSecret {
					continue
				}
				v, _ := token.NewVerifier([]byte(other))
				if _, err := v.Verify(tok); !errors.Is(err, token.ErrSignatureInvalid) {
					t.Errorf("verifying with the other secret: %v, want ErrSignatureInvalid", err)
				}
			}
		})
	}
}

func TestUnreadableDotEnv(t *testing.T) {
	t.Parallel()
	// A directory named .env cannot be read, even by root.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".env"), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary)
	cmd.Dir, cmd.Env = dir, []string{}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
		t.Fatalf("err = %v, want exit 2; stderr %q", err, stderr.String())
	}
	if stdout.String() != "" || !strings.Contains(stderr.String(), "cannot read .env") {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestShortSecretWarns(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"environment", ".env"} {
		t.Run(src, func(t *testing.T) {
			t.Parallel()
			inv := invocation{args: []string{"-u", "ana"}, secrets: []string{secretShort}}
			if src == ".env" {
				inv.dotEnv = str("TOKENS_SECRET=" + secretShort + "\n")
			} else {
				inv.env = map[string]string{"TOKENS_SECRET": secretShort}
			}
			r := inv.run(t)
			tok := tokenOf(t, r)
			verify(t, secretShort, tok)
			if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "warning") ||
				!strings.Contains(r.stderr, "TOKENS_SECRET") || !strings.Contains(r.stderr, "32") {
				t.Errorf("stderr = %q, want a one-line warning about a short TOKENS_SECRET", r.stderr)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	before := time.Now()
	r := invocation{args: []string{"--json", "-u", "ana", "-d", "2h"}, env: map[string]string{"TOKENS_SECRET": secretA}}.run(t)
	after := time.Now()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("want exit 0 and no stderr: %v", r)
	}
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "}\n") {
		t.Errorf("stdout is not one JSON object and a newline: %q", r.stdout)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	if len(got) != 4 {
		t.Errorf("keys = %v, want token, user, expires_at, exp", got)
	}
	var out struct {
		Token     string  `json:"token"`
		User      string  `json:"user"`
		ExpiresAt string  `json:"expires_at"`
		Exp       float64 `json:"exp"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	c := verify(t, secretA, out.Token)
	if out.User != "ana" || c.User != "ana" {
		t.Errorf("user = %q, token user %q", out.User, c.User)
	}
	expiresAt, err := time.Parse(time.RFC3339, out.ExpiresAt)
	if err != nil {
		t.Fatalf("expires_at: %v", err)
	}
	if int64(out.Exp) != c.ExpiresAt.Unix() || !expiresAt.Equal(c.ExpiresAt) {
		t.Errorf("exp %v, expires_at %v, token exp %v: want all equal", out.Exp, out.ExpiresAt, c.ExpiresAt)
	}
	checkExp(t, c.ExpiresAt, 2*time.Hour, before, after)
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--help", "-h", "-help"} {
		t.Run(arg, func(t *testing.T) {
			t.Parallel()
			// No secret at all: help needs none.
			r := invocation{args: []string{arg}}.run(t)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("want exit 0 and no stderr: %v", r)
			}
			for _, want := range []string{
				"Usage: create_token", "-u, --user", "-d, --duration", "--json",
				"TOKENS_SECRET", ".env", "openssl rand -hex 32", "TOKENS_SECRET_PREVIOUS",
				"Exit status", "  0  ", "  1  ", "  2  ",
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("help does not mention %q", want)
				}
			}
		})
	}
}

// The payload the command writes is byte for byte Brevia's: user, then exp,
// no spaces, nothing else.
func TestPayloadBytes(t *testing.T) {
	t.Parallel()
	r := invocation{args: []string{"-u", "ana"}, env: map[string]string{"TOKENS_SECRET": secretA}}.run(t)
	tok := tokenOf(t, r)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" {
		t.Fatalf("token %q: want 3 segments and Brevia's header", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(string(payload), `{"user":"ana","exp":`)
	if !ok || !strings.HasSuffix(rest, "}") || strings.Trim(rest, "0123456789}") != "" {
		t.Errorf("payload = %s, want {\"user\":\"ana\",\"exp\":<integer>}", payload)
	}
}
