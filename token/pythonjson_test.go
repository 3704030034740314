package token

import "testing"

// TestAppendPythonJSONString checks the user string is written as Python's
// json.dumps(s) writes it (ensure_ascii=True, the default). Each want is
// what CPython prints for the input, copied by hand.
func TestAppendPythonJSONString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain ASCII", "gustavo", `"gustavo"`},
		{"empty", "", `""`},
		{"quote", `a"b`, `"a\"b"`},
		{"backslash", `a\b`, `"a\\b"`},
		{"newline", "a\nb", `"a\nb"`},
		{"tab", "a\tb", `"a\tb"`},
		{"carriage return, backspace, form feed", "\r\b\f", `"\r\b\f"`},
		{"NUL", "\x00", `"\u0000"`},
		{"control char 0x01", "\x01", `"\u0001"`},
		{"control char 0x1f", "\x1f", `"\u001f"`},
		{"DEL 0x7f", "\x7f", `"\u007f"`},
		{"space and tilde are literal", " ~", `" ~"`},
		{"slash is not escaped", "a/b", `"a/b"`},
		{"HTML characters are not escaped", "<&>", `"<&>"`},
		{"e acute", "é", `"\u00e9"`},
		{"u grave among HTML characters", "gù<&>", `"g\u00f9<&>"`},
		{"line separator U+2028", "\u2028", `"\u2028"`},
		{"last BMP code point", "\uffff", `"\uffff"`},
		{"emoji U+1F600 as a surrogate pair", "😀", `"\ud83d\ude00"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := string(appendPythonJSONString([]byte("x"), tc.in))
			if got != "x"+tc.want {
				t.Errorf("appendPythonJSONString(%q) = %s, want %s", tc.in, got[1:], tc.want)
			}
		})
	}
}
