package token_test

import (
	"testing"
	"time"

	"github.com/tokengate/tokengate/token"
)

// BenchmarkVerify measures the three paths a token takes, on the real
// clock as in production:
//
//   - cached: a token seen before, served from the cache;
//   - first_seen: the full check (shape, HMAC, header, claims). It runs on a
//     Verifier without a cache (WithCacheSize(-1)) and one token, so every
//     iteration does exactly that work and nothing else; pre-making b.N
//     distinct tokens instead would cost b.N signatures and their memory
//     before the loop and mix in cache insertion and eviction, which the
//     cached case and the cache tests cover;
//   - bad_signature: a forged token, refused after one HMAC per secret.
func BenchmarkVerify(b *testing.B) {
	secret := []byte("benchmark-secret-0123456789abcdef")
	good, _, err := token.Issue(secret, "gustavo", time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	forged, _, err := token.Issue([]byte("not the secret"), "gustavo", time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name    string
		tok     string
		opts    []token.Option
		wantErr bool
	}{
		{"cached", good, nil, false},
		{"first_seen", good, []token.Option{token.WithCacheSize(-1)}, false},
		{"bad_signature", forged, nil, true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			v, err := token.NewVerifier(secret, bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := v.Verify(bc.tok); (err != nil) != bc.wantErr {
				b.Fatalf("Verify = %v", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				v.Verify(bc.tok)
			}
		})
	}
}
