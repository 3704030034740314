package settings_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/internal/settings"
)

// secret is never to appear in an error.
const secret = "S3cr3t-value-0123456789abcdef"

func writeDotEnv(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	t.Parallel()
	names := []string{"TOKENS_SECRET", "TOKENS_USERS"}
	type loadCase struct {
		name    string
		environ []string
		dotEnv  *string // nil: no file
		want    map[string]string
		wantErr string
	}
	tests := []loadCase{
		{name: "nothing set", want: map[string]string{}},
		{name: "environment", environ: []string{"TOKENS_SECRET=" + secret}, want: map[string]string{"TOKENS_SECRET": secret}},
		{name: ".env", dotEnv: ptr("TOKENS_SECRET=" + secret + "\n"), want: map[string]string{"TOKENS_SECRET": secret}},
		{name: "environment wins", environ: []string{"TOKENS_SECRET=env"}, dotEnv: ptr("TOKENS_SECRET=file\nTOKENS_USERS=ana\n"),
			want: map[string]string{"TOKENS_SECRET": "env", "TOKENS_USERS": "ana"}},
		// pydantic-settings: env_ignore_empty is false.
		{name: "empty in the environment wins", environ: []string{"TOKENS_SECRET="}, dotEnv: ptr("TOKENS_SECRET=file\n"),
			want: map[string]string{"TOKENS_SECRET": ""}},
		// pydantic-settings: case_sensitive=False lowers every name.
		{name: "any case in the environment", environ: []string{"tokens_secret=a", "Tokens_Users=ana"},
			want: map[string]string{"TOKENS_SECRET": "a", "TOKENS_USERS": "ana"}},
		{name: "any case in .env", dotEnv: ptr("tokens_secret=a\nexport Tokens_Users=ana\n"),
			want: map[string]string{"TOKENS_SECRET": "a", "TOKENS_USERS": "ana"}},
		// Python's "\u212a".lower() is "k".
		{name: "Kelvin sign", dotEnv: ptr("TO\u212aENS_SECRET=a\n"), want: map[string]string{"TOKENS_SECRET": "a"}},
		{name: "dotted I is not i", dotEnv: ptr("TOKENS_USERS=ana\nTOKENS_USERS\u0130=bob\n"), want: map[string]string{"TOKENS_USERS": "ana"}},
		{name: "spellings that agree", environ: []string{"TOKENS_SECRET=a", "tokens_secret=a"}, dotEnv: ptr("TOKENS_USERS=x\ntokens_users=x\n"),
			want: map[string]string{"TOKENS_SECRET": "a", "TOKENS_USERS": "x"}},
		{name: "same spelling twice in .env, one value", dotEnv: ptr("TOKENS_SECRET=" + secret + "\nTOKENS_SECRET=" + secret + "\n"),
			want: map[string]string{"TOKENS_SECRET": secret}},
		{name: "a quoted value over lines that only mention a variable", dotEnv: ptr("NOTE=\"see\nTOKENS_SECRET in the docs\"\nTOKENS_SECRET=a\n"),
			want: map[string]string{"TOKENS_SECRET": "a"}},
		{name: "expansion from the environment", environ: []string{"ADMIN=ana"}, dotEnv: ptr("TOKENS_USERS=${ADMIN},bob\n"),
			want: map[string]string{"TOKENS_USERS": "ana,bob"}},
		{name: "malformed line about another variable", dotEnv: ptr("OTHER: 1\nTOKENS_SECRET=a\n"), want: map[string]string{"TOKENS_SECRET": "a"}},
		{name: "malformed line ignored when the environment has the variable", environ: []string{"TOKENS_SECRET=a"},
			dotEnv: ptr("TOKENS_SECRET: b\n"), want: map[string]string{"TOKENS_SECRET": "a"}},
		{name: "byte order mark before a comment", dotEnv: ptr("\ufeff# settings\nTOKENS_SECRET=a\n"), want: map[string]string{"TOKENS_SECRET": "a"}},

		{name: "spellings that disagree in the environment", environ: []string{"TOKENS_SECRET=" + secret, "tokens_secret=b"},
			wantErr: "the environment sets TOKENS_SECRET as both TOKENS_SECRET and tokens_secret, with different values"},
		{name: "spellings that disagree in .env", dotEnv: ptr("TOKENS_SECRET=" + secret + "\n\ntokens_secret=b\n"),
			wantErr: "line 3 sets TOKENS_SECRET again, spelt tokens_secret, to another value"},
		// python-dotenv's last binding would win: TOKENS_SECRET= after
		// the secret would turn authentication off.
		{name: "same spelling twice in .env, another value", dotEnv: ptr("TOKENS_SECRET=" + secret + "\nTOKENS_SECRET=\n"),
			wantErr: "line 2 sets TOKENS_SECRET again, to another value than line 1"},
		{name: "a name with other characters", dotEnv: ptr("TOKENS_SECRET:=" + secret + "\n"),
			wantErr: "line 1 sets a name that is TOKENS_SECRET with other characters"},
		// An accent makes another name, composed or combining alike.
		{name: "an accented name, combining", dotEnv: ptr("TOKENS_SECRE\u0301T=x\nTOKENS_SECRET=a\n"), want: map[string]string{"TOKENS_SECRET": "a"}},
		{name: "an accented name, composed", dotEnv: ptr("TOKENS_SECR\u00c9T=x\nTOKENS_SECRET=a\n"), want: map[string]string{"TOKENS_SECRET": "a"}},
		{name: "a quoted name with value punctuation", dotEnv: ptr("'TOKENS_SECRET=-+/'=x\n"),
			wantErr: "line 1 sets a name that is TOKENS_SECRET with other characters"},
		{name: "a quoted value that swallows a variable's line", dotEnv: ptr("GREETING=\"hello\n  export TOKENS_SECRET = " + secret + "\nMOTD=bye\"\n"),
			wantErr: "line 1: a value runs on over a line that sets TOKENS_SECRET"},
		{name: "... after export and a tab", dotEnv: ptr("A='x\nexport\tTOKENS_SECRET=1\n'\n"),
			wantErr: "line 1: a value runs on over a line that sets TOKENS_SECRET"},
		{name: "... quoted", dotEnv: ptr("B=\"x\n\v'TOKENS_SECRET'=1\"\n"),
			wantErr: "line 1: a value runs on over a line that sets TOKENS_SECRET"},
		{name: "... mistyped", dotEnv: ptr("C=\"x\nTOKENS_SECRET:=1\"\n"),
			wantErr: "line 1: a value runs on over a line that sets TOKENS_SECRET"},
		{name: "... in the variable's own value", dotEnv: ptr("TOKENS_USERS=\"ana\nTOKENS_USERS=bob\"\n"),
			wantErr: "line 1: a value runs on over a line that sets TOKENS_USERS"},
		{name: "malformed line naming a variable", dotEnv: ptr("TOKENS_USERS=ana\ntokens_secret: " + secret + "\n"),
			wantErr: "line 2 mentions TOKENS_SECRET but is not KEY=VALUE"},
		{name: "unclosed quote", dotEnv: ptr("TOKENS_SECRET=\"" + secret + "\nTOKENS_USERS=ana\n"),
			wantErr: "line 1 mentions TOKENS_SECRET but is not KEY=VALUE"},
		{name: "a variable without =", dotEnv: ptr("TOKENS_SECRET\n"), wantErr: `line 1 names TOKENS_SECRET without "="`},
		{name: "byte order mark before a variable", dotEnv: ptr("\ufeffTOKENS_SECRET=" + secret + "\n"),
			wantErr: "line 1 sets TOKENS_SECRET right after a UTF-8 byte order mark"},
		{name: "not UTF-8", dotEnv: ptr("TOKENS_SECRET=" + secret + "\xff\n"), wantErr: "line 1 is not valid UTF-8"},
	}
	// Characters that show nothing, before the name or after it: a
	// zero-width space, a Hangul filler, a combining grapheme joiner, the
	// blank Braille pattern.
	for _, c := range []string{"\u200b", "\u3164", "\u034f", "\u2800"} {
		tests = append(tests, loadCase{name: fmt.Sprintf("a name with %U", []rune(c)[0]), dotEnv: ptr(c + "TOKENS_SECRET" + c + "=" + secret + "\n"),
			wantErr: "line 1 sets a name that is TOKENS_SECRET with other characters"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), ".env") // absent
			if tc.dotEnv != nil {
				path = writeDotEnv(t, *tc.dotEnv)
			}
			got, err := settings.Load(tc.environ, path, names...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// A .env that exists but cannot be read is an error, not "unset": auth
// would otherwise be off.
func TestLoadUnreadableDotEnv(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), ".env")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := settings.Load(nil, dir, "TOKENS_SECRET")
	if err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Errorf("err = %v, want cannot read", err)
	}
	// Not opened at all when the environment has every name.
	got, err := settings.Load([]string{"TOKENS_SECRET=a"}, dir, "TOKENS_SECRET")
	if err != nil || got["TOKENS_SECRET"] != "a" {
		t.Errorf("Load = %q, %v", got, err)
	}
}

func TestLoadNoDotEnvPath(t *testing.T) {
	t.Parallel()
	got, err := settings.Load([]string{"OTHER=1", "novalue"}, "", "TOKENS_SECRET")
	if err != nil || len(got) != 0 {
		t.Errorf("Load = %q, %v; want nothing", got, err)
	}
}
