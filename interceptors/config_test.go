package interceptors_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/token"
)

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestConfigFromLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    interceptors.Config
		wantErr string
	}{
		{"empty environment turns auth off", map[string]string{}, interceptors.Config{}, ""},
		{"all variables", map[string]string{
			"TOKENS_SECRET": "s1", "TOKENS_SECRET_PREVIOUS": "s0", "TOKENS_USERS": "ana,bob",
			"STATUS_TOKEN": "st", "TOKENS_LEEWAY": "30", "TOKENS_CACHE_SIZE": "-1",
		}, interceptors.Config{Secret: "s1", PreviousSecret: "s0", Users: []string{"ana", "bob"},
			StatusToken: "st", Leeway: 30 * time.Second, CacheSize: -1}, ""},
		{"users trimmed, empty entries dropped, case kept", map[string]string{"TOKENS_USERS": " ana , ,Bob,"},
			interceptors.Config{Users: []string{"ana", "Bob"}}, ""},
		// Brevia: `if not valid_users: return`, so "" lets any user in.
		{"empty users is no list", map[string]string{"TOKENS_USERS": ""}, interceptors.Config{}, ""},
		// An empty _FILE is a path never filled in: refused, not read as
		// no secret (authentication off) or no list (any user).
		{"empty secret file variable", map[string]string{"TOKENS_SECRET_FILE": ""}, interceptors.Config{}, "TOKENS_SECRET_FILE is set but empty"},
		{"empty users file variable", map[string]string{"TOKENS_SECRET": "s1", "TOKENS_USERS_FILE": ""}, interceptors.Config{}, "TOKENS_USERS_FILE is set but empty"},
		{"empty file variable beside its variable", map[string]string{"TOKENS_SECRET": "s1", "TOKENS_SECRET_FILE": ""}, interceptors.Config{Secret: "s1"}, ""},
		// No previous secret or status token only lets fewer calls in.
		{"empty previous-secret and status-token file variables", map[string]string{"TOKENS_SECRET": "s1", "TOKENS_SECRET_PREVIOUS_FILE": "", "STATUS_TOKEN_FILE": ""},
			interceptors.Config{Secret: "s1"}, ""},
		// Brevia splits these into [""] or [" "] and refuses every token.
		{"users only a comma", map[string]string{"TOKENS_USERS": ","}, interceptors.Config{}, "names no user: TOKENS_USERS=\",\""},
		{"users only a space", map[string]string{"TOKENS_USERS": " "}, interceptors.Config{}, "names no user"},
		{"users only commas and spaces", map[string]string{"TOKENS_USERS": " , ,"}, interceptors.Config{}, "names no user"},
		{"leeway as Go duration", map[string]string{"TOKENS_LEEWAY": "1m30s"}, interceptors.Config{Leeway: 90 * time.Second}, ""},
		{"leeway at the maximum, seconds", map[string]string{"TOKENS_LEEWAY": "300"}, interceptors.Config{Leeway: token.MaxLeeway}, ""},
		{"leeway at the maximum, duration", map[string]string{"TOKENS_LEEWAY": "5m"}, interceptors.Config{Leeway: token.MaxLeeway}, ""},
		{"leeway zero", map[string]string{"TOKENS_LEEWAY": "0"}, interceptors.Config{}, ""},
		{"bad leeway", map[string]string{"TOKENS_LEEWAY": "soon"}, interceptors.Config{}, "TOKENS_LEEWAY"},
		{"negative leeway", map[string]string{"TOKENS_LEEWAY": "-5"}, interceptors.Config{}, "TOKENS_LEEWAY"},
		{"negative leeway duration", map[string]string{"TOKENS_LEEWAY": "-1s"}, interceptors.Config{}, "negative"},
		{"leeway one second over", map[string]string{"TOKENS_LEEWAY": "301"}, interceptors.Config{}, "more than the maximum, 5m0s"},
		{"leeway duration over", map[string]string{"TOKENS_LEEWAY": "5m1s"}, interceptors.Config{}, "more than the maximum"},
		{"leeway of a century", map[string]string{"TOKENS_LEEWAY": "876000h"}, interceptors.Config{}, "more than the maximum"},
		// 18446744074 seconds is 2^64 ns plus a little: multiplying wraps
		// round to 0.29s.
		{"leeway seconds that wrap", map[string]string{"TOKENS_LEEWAY": "18446744074"}, interceptors.Config{}, "more than the maximum"},
		{"leeway seconds over int64", map[string]string{"TOKENS_LEEWAY": "99999999999999999999"}, interceptors.Config{}, "more than the maximum"},
		{"leeway seconds under int64", map[string]string{"TOKENS_LEEWAY": "-99999999999999999999"}, interceptors.Config{}, "negative"},
		{"leeway duration over int64", map[string]string{"TOKENS_LEEWAY": "9999999999h"}, interceptors.Config{}, "at most 5m0s"},
		{"bad cache size", map[string]string{"TOKENS_CACHE_SIZE": "lots"}, interceptors.Config{}, "TOKENS_CACHE_SIZE"},
		{"cache size over the cap", map[string]string{"TOKENS_CACHE_SIZE": "1048577"}, interceptors.Config{}, "up to 1048576"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := interceptors.ConfigFromLookup(lookupFrom(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestConfigNoUsersIsErrNoUsers(t *testing.T) {
	t.Parallel()
	_, err := interceptors.ConfigFromLookup(lookupFrom(map[string]string{"TOKENS_USERS": " , "}))
	if !errors.Is(err, interceptors.ErrNoUsers) {
		t.Errorf("err = %v, want interceptors.ErrNoUsers", err)
	}
}

func TestConfigLeewayErrorIsErrLeeway(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"-1", "301", "18446744074"} {
		_, err := interceptors.ConfigFromLookup(lookupFrom(map[string]string{"TOKENS_LEEWAY": s}))
		if !errors.Is(err, token.ErrLeeway) {
			t.Errorf("TOKENS_LEEWAY=%s: err = %v, want token.ErrLeeway", s, err)
		}
	}
}

// secret must never appear in an error.
const configSecret = "cfg-S3cr3t-0123456789abcdef0123456789"

func TestConfigFromEnviron(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		environ []string
		dotEnv  string // "" = no file
		want    interceptors.Config
		wantErr string
	}{
		{name: "environment only", environ: []string{"TOKENS_SECRET=" + configSecret, "TOKENS_USERS=ana"},
			want: interceptors.Config{Secret: configSecret, Users: []string{"ana"}}},
		{name: "names in any case", environ: []string{"tokens_secret=s", "Status_Token=st"}, dotEnv: "tokens_users=ana\ntokens_leeway=5\n",
			want: interceptors.Config{Secret: "s", StatusToken: "st", Users: []string{"ana"}, Leeway: 5 * time.Second}},
		{name: ".env fills what the environment lacks", environ: []string{"TOKENS_SECRET=env"},
			dotEnv: "TOKENS_SECRET=file\nTOKENS_SECRET_PREVIOUS=old\nexport TOKENS_CACHE_SIZE=10\n",
			want:   interceptors.Config{Secret: "env", PreviousSecret: "old", CacheSize: 10}},
		{name: "empty in the environment wins", environ: []string{"TOKENS_SECRET="}, dotEnv: "TOKENS_SECRET=file\n",
			want: interceptors.Config{}},
		{name: "python-dotenv values", environ: []string{"ADMIN=ana"},
			dotEnv: "TOKENS_SECRET=Pa$5word #comment\nTOKENS_USERS=${ADMIN},${OPS:-bob}\nSTATUS_TOKEN=\"a\\tb\"\n",
			want:   interceptors.Config{Secret: "Pa$5word", Users: []string{"ana", "bob"}, StatusToken: "a\tb"}},
		{name: "malformed lines about other things are skipped", dotEnv: "OTHER: 1\nTOKENS_SECRET=s\n",
			want: interceptors.Config{Secret: "s"}},

		{name: "malformed line naming a variable", dotEnv: "TOKENS_SECRET: " + configSecret + "\n",
			wantErr: "line 1 mentions TOKENS_SECRET"},
		{name: "variable with no =", dotEnv: "\nSTATUS_TOKEN\n", wantErr: "line 2 names STATUS_TOKEN without"},
		{name: "two spellings in the environment", environ: []string{"TOKENS_SECRET=" + configSecret, "tokens_secret=b"},
			wantErr: "as both TOKENS_SECRET and tokens_secret"},
		{name: "two spellings in .env", dotEnv: "TOKENS_SECRET=" + configSecret + "\ntokens_secret=b\n",
			wantErr: "line 2 sets TOKENS_SECRET again, spelt tokens_secret"},
		{name: ".env not UTF-8", dotEnv: "TOKENS_SECRET=" + configSecret + "\xfe\n", wantErr: "not valid UTF-8"},
		{name: "users naming nobody in .env", dotEnv: "TOKENS_USERS=,\n", wantErr: "names no user"},
		{name: "leeway out of range in .env", dotEnv: "TOKENS_LEEWAY=1h\n", wantErr: "more than the maximum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), ".env")
			if tc.dotEnv != "" {
				if err := os.WriteFile(path, []byte(tc.dotEnv), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := interceptors.ConfigFromEnviron(tc.environ, path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), configSecret) {
					t.Errorf("the error quotes the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A .env that cannot be read must stop the server, not turn auth off.
func TestConfigFromEnvironUnreadableDotEnv(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), ".env")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := interceptors.ConfigFromEnviron(nil, dir); err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Errorf("err = %v, want cannot read", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(".env", []byte("tokens_users=ana\nSTATUS_TOKEN=from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOKENS_SECRET", "from-env")
	t.Setenv("STATUS_TOKEN", "from-env")
	cfg, err := interceptors.ConfigFromEnv()
	if err != nil || cfg.Secret != "from-env" || cfg.StatusToken != "from-env" || !reflect.DeepEqual(cfg.Users, []string{"ana"}) {
		t.Fatalf("ConfigFromEnv = %+v, %v", cfg, err)
	}
}

// A server reads its Config as Brevia reads its settings: the environment
// first, then ./.env (.env), names in any case. Here the
// .env file is a temporary one.
func ExampleConfigFromEnviron() {
	dir, err := os.MkdirTemp("", "config-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	dotEnv := filepath.Join(dir, ".env")
	content := "tokens_secret=Pa$5word # a comment\nTOKENS_USERS=ana,bob\nTOKENS_LEEWAY=30\n"
	if err := os.WriteFile(dotEnv, []byte(content), 0o600); err != nil {
		panic(err)
	}

	cfg, err := interceptors.ConfigFromEnviron([]string{"TOKENS_USERS=carol"}, dotEnv)
	if err != nil {
		panic(err) // in a server: log it and exit; never run with auth off
	}
	// Never print the secret; its length shows that "$5" was kept.
	fmt.Printf("secret of %d bytes, users %q, leeway %v\n", len(cfg.Secret), cfg.Users, cfg.Leeway)
	// Output:
	// secret of 8 bytes, users ["carol"], leeway 30s
}

// The _FILE variables: each value from its file (one trailing newline
// removed), the users file one user a line or commas with # comments, and
// every mistake a startup error rather than weaker authentication.
func TestConfigFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secretFile := file("secret", "file-secret\n")
	previousFile := file("previous", "file-previous\n")
	emptyFile := file("empty", "")
	newlineFile := file("newline", "\n")
	usersFile := file("users", "# who may call\nana\nbob, carla\n\n  dan  # the new one\n")
	nobodyFile := file("nobody", "# nobody yet\n\n , \n")
	statusFile := file("status", "file-status\r\n")

	cfg, err := interceptors.ConfigFromEnviron([]string{
		"TOKENS_SECRET_FILE=" + secretFile,
		"tokens_secret_previous_file=" + previousFile,
		"TOKENS_USERS_FILE=" + usersFile,
		"STATUS_TOKEN_FILE=" + statusFile,
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := interceptors.Config{Secret: "file-secret", PreviousSecret: "file-previous",
		Users: []string{"ana", "bob", "carla", "dan"}, StatusToken: "file-status"}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config = %+v, want %+v", cfg, want)
	}
	files, err := interceptors.PolicyFiles([]string{"TOKENS_SECRET_FILE=" + secretFile, "TOKENS_USERS_FILE=" + usersFile}, "")
	if err != nil || !reflect.DeepEqual(files, []string{secretFile, usersFile}) {
		t.Errorf("PolicyFiles = %q, %v", files, err)
	}

	// An empty previous-secret file ends a rotation.
	cfg, err = interceptors.ConfigFromEnviron([]string{"TOKENS_SECRET_FILE=" + secretFile, "TOKENS_SECRET_PREVIOUS_FILE=" + emptyFile}, "")
	if err != nil || cfg.PreviousSecret != "" {
		t.Errorf("empty previous file: %+v, %v", cfg, err)
	}

	for _, tc := range []struct {
		name    string
		environ []string
		want    error
	}{
		{"both a variable and its file", []string{"TOKENS_SECRET=x", "TOKENS_SECRET_FILE=" + secretFile}, interceptors.ErrBothSet},
		{"empty secret file", []string{"TOKENS_SECRET_FILE=" + emptyFile}, nil},
		{"secret file of a newline", []string{"TOKENS_SECRET_FILE=" + newlineFile}, nil},
		{"empty status-token file", []string{"TOKENS_SECRET=x", "STATUS_TOKEN_FILE=" + emptyFile}, nil},
		{"status-token file of a newline", []string{"TOKENS_SECRET=x", "STATUS_TOKEN_FILE=" + newlineFile}, nil},
		{"users file naming nobody", []string{"TOKENS_SECRET=x", "TOKENS_USERS_FILE=" + nobodyFile}, interceptors.ErrNoUsers},
		{"missing file", []string{"TOKENS_SECRET_FILE=" + filepath.Join(dir, "nope")}, os.ErrNotExist},
		{"a directory", []string{"TOKENS_SECRET_FILE=" + dir}, interceptors.ErrPolicyFile},
	} {
		_, err := interceptors.ConfigFromEnviron(tc.environ, "")
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "file-secret") {
			t.Errorf("%s: error quotes the secret: %v", tc.name, err)
		}
	}
}
