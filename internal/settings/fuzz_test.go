package settings_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tokengate/tokengate/internal/settings"
)

// FuzzParseDotEnv checks that any input parses without panicking, and that
// a value written the way a careful user would write it (double-quoted,
// with python-dotenv's escapes) reads back unchanged.
//
//	go test ./internal/settings -run '^$' -fuzz FuzzParseDotEnv -fuzztime 1m
func FuzzParseDotEnv(f *testing.F) {
	for _, tc := range dotEnvCases {
		f.Add([]byte(tc.in), "TOKENS_SECRET", "Pa$5word #x")
	}
	f.Add([]byte("A='\\"), "k", "a\\\"b\n\t\u00e9")
	f.Fuzz(func(t *testing.T, data []byte, key, value string) {
		bindings, err := settings.ParseDotEnv(data, lookup(map[string]string{"B": "b"}))
		if err != nil && utf8.Valid(data) {
			t.Fatalf("error on UTF-8 input: %v", err)
		}
		for _, b := range bindings {
			if b.Line < 1 || (b.Key == "" && (b.HasValue || b.Value != "")) {
				t.Fatalf("bad binding %+v", b)
			}
		}

		if !isSimpleKey(key) || !utf8.ValidString(value) || strings.Contains(value, "${") {
			return
		}
		line := "export " + key + ` = "` + quoteEscapes.Replace(value) + `" # comment` + "\n"
		bindings, err = settings.ParseDotEnv([]byte("# first\n"+line+"OTHER=1"), lookup(nil))
		if err != nil || len(bindings) != 2 {
			t.Fatalf("ParseDotEnv(%q) = %+v, %v", line, bindings, err)
		}
		if b := bindings[0]; b.Key != key || b.Value != value || !b.HasValue || b.Line != 2 {
			t.Fatalf("ParseDotEnv(%q) = %+v, want %s=%q", line, b, key, value)
		}
	})
}

var quoteEscapes = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)

func isSimpleKey(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
