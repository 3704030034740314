package token

import (
	"bytes"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzDecodeSegment holds the verifier's base64 decoding to golang-jwt's
// Parser.DecodeSegment with WithStrictDecoding: the same bytes, and an error
// for the same inputs, also when one scratch decodes input after input.
func FuzzDecodeSegment(f *testing.F) {
	for _, seg := range []string{
		"", "e", "eyJ", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", headerSegment + "==",
		"eyJ1c2VyIjoiYSJ9", "eyJ1c2VyIjoiYSJ8", "eyJ1c2VyIjoiYSJ9\n", "eyJ1\r\nc2Vy", "ab+/", "ab-_", "AAAB", "AAA=",
		strings.Repeat("A", 43), strings.Repeat("_", 43) + "x", "\x00\xff",
	} {
		f.Add(seg, "eyJ1c2VyIjoiYSJ9")
	}
	parser := jwt.NewParser(jwt.WithStrictDecoding())
	f.Fuzz(func(t *testing.T, seg, next string) {
		s := new(scratch)
		for _, in := range []string{seg, next, seg} {
			want, wantErr := parser.DecodeSegment(in)
			got, err := s.decode(in)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("decode(%q): error %v, golang-jwt says %v", in, err, wantErr)
			}
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("decode(%q) = %x, golang-jwt says %x", in, got, want)
			}
		}
	})
}
