package interceptors

import (
	"errors"
	"testing"
	"time"

	"github.com/tokengate/tokengate/token"
)

// validUntil, where tapped calls and stream expiry end, is the first
// instant at which the verifier refuses the token as expired: for leeways
// with fractions of a second too (TOKENS_LEEWAY=500ms), where the stream
// used to be ended up to a second late.
func TestValidUntilIsWhereTheVerifierStops(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	tok, err := token.Sign(secret, token.Claims{User: "ana", ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	for _, leeway := range []time.Duration{0, 100 * time.Millisecond, 500 * time.Millisecond, 900 * time.Millisecond,
		time.Second, 1500 * time.Millisecond, time.Minute, token.MaxLeeway} {
		v, err := token.NewVerifier(secret, token.WithLeeway(leeway), token.WithCacheSize(0))
		if err != nil {
			t.Fatal(err)
		}
		end := validUntil(exp, leeway)
		if _, err := v.VerifyAt(tok, end.Add(-time.Nanosecond)); err != nil {
			t.Errorf("leeway %v: refused just before validUntil (%v): %v", leeway, end.Sub(exp), err)
		}
		if _, err := v.VerifyAt(tok, end); !errors.Is(err, token.ErrExpired) {
			t.Errorf("leeway %v: at validUntil (exp+%v) err = %v, want ErrExpired", leeway, end.Sub(exp), err)
		}
	}
}
