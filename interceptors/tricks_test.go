package interceptors

import (
	"context"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/token"
)

// The two hand-rolled speed tricks of this package, each measured against
// the plain code it replaces:
//
//	go test ./interceptors -run '^$' -bench 'Trick' -benchmem -count 10

// plainCaller is the plain way to hand the caller to the handler:
// context.WithValue with a pointer to a struct.
type plainCaller struct {
	verified    token.VerifiedToken
	statusToken bool
	token       string
	policy      *policy
}

type plainKey struct{}

// BenchmarkTrickCallerContext: callerContext is one allocation where
// context.WithValue and the value it carries are two; the handler's lookup
// costs the same.
func BenchmarkTrickCallerContext(b *testing.B) {
	base := context.Background()
	b.Run("callerContext", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ctx := context.Context(&callerContext{Context: base})
			if callerFrom(ctx) == nil {
				b.Fatal("no caller")
			}
		}
	})
	b.Run("context.WithValue", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ctx := context.WithValue(base, plainKey{}, &plainCaller{token: "t"})
			if c, _ := ctx.Value(plainKey{}).(*plainCaller); c == nil {
				b.Fatal("no caller")
			}
		}
	})
}

// plainBearerToken is bearerToken without its fast path.
func plainBearerToken(vals []string) (string, error) {
	if len(vals) != 1 {
		return "", ErrMultipleCredentials
	}
	v := vals[0]
	if strings.TrimSpace(v) == "" {
		return "", token.ErrMissing
	}
	scheme, tok, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "bearer") {
		return "", ErrNotBearer
	}
	if strings.TrimSpace(tok) == "" {
		return "", token.ErrMissing
	}
	return tok, nil
}

// BenchmarkTrickBearerToken: the fast path decides the usual
// "Bearer <token>" from its first seven bytes and its last, where the plain
// parser scans the whole value (about 150 bytes) twice, for the blank
// checks and the cut.
func BenchmarkTrickBearerToken(b *testing.B) {
	vals := []string{"Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiYW5hIiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2lnbmF0dXJlLW9mLXRoaXJ0eS10d28tYnl0ZXMtb2s"}
	for _, bc := range []struct {
		name string
		f    func([]string) (string, error)
	}{{"fast_path", bearerToken}, {"plain", plainBearerToken}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.f(vals); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The fast path gives the plain parser's answers.
func TestBearerTokenFastPathAgrees(t *testing.T) {
	for _, v := range []string{"Bearer abc", "bearer abc", "BEARER  abc", "Bearer abc ", "Bearer ", "Bearer", "Basic abc", " Bearer abc", "Bearer\tabc", "Bearerabc", ""} {
		got, gotErr := bearerToken([]string{v})
		want, wantErr := plainBearerToken([]string{v})
		if got != want || gotErr != wantErr {
			t.Errorf("%q: fast path (%q, %v), plain (%q, %v)", v, got, gotErr, want, wantErr)
		}
	}
}
