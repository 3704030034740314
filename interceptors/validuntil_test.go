package interceptors

import (
	"errors"
	"math"
	"math/rand/v2"
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

// tappedUntil, validUntil in whole seconds and nanoseconds for the tap, is
// validUntil's instant on the monotonic clock of processStart, saturating,
// for any expiry (fractions of a second, the year 9999) and leeway.
func TestTappedUntilIsValidUntil(t *testing.T) {
	// Times of the decision with a monotonic reading (processStart's) and a
	// range of ages of the process and of nanoseconds within the second:
	// the saturation bound depends on both.
	var nows []time.Time
	for _, age := range []time.Duration{0, time.Hour, math.MaxInt64 / 2, math.MaxInt64 - 1000*time.Hour} {
		base := processStart.Add(age)
		for _, ns := range []int{0, 1, 500_000_000, 999_999_999} {
			d := time.Duration(ns - base.Nanosecond())
			if d < 0 {
				d += time.Second // never before processStart
			}
			nows = append(nows, base.Add(d))
		}
	}
	nows = append(nows, time.Now())
	for _, now := range nows {
		want := func(exp time.Time, leeway time.Duration) time.Duration {
			elapsed, left := now.Sub(processStart), validUntil(exp, leeway).Sub(now)
			if left > math.MaxInt64-elapsed {
				return math.MaxInt64
			}
			return elapsed + left
		}
		rng := rand.New(rand.NewPCG(1, 2))
		exps := []time.Time{
			now, now.Truncate(time.Second), now.Add(-time.Second), now.Add(time.Hour),
			time.Unix(253402300799, 0), time.Unix(253402300799, 999999999), // the end of the year 9999
		}
		// Around where the sum saturates, to the nanosecond.
		edge := now.Unix() + (math.MaxInt64-int64(now.Sub(processStart)))/int64(time.Second)
		for d := int64(-3); d <= 2; d++ {
			for _, ns := range []int64{0, 1, int64(now.Nanosecond()) - 1, int64(now.Nanosecond()), int64(now.Nanosecond()) + 1, 999999999} {
				if ns >= 0 && ns < int64(time.Second) {
					exps = append(exps, time.Unix(edge+d, ns))
				}
			}
		}
		for range 2000 {
			exps = append(exps, time.Unix(now.Unix()-2+rng.Int64N(300*365*24*3600), rng.Int64N(int64(time.Second))))
		}
		leeways := []time.Duration{0, 1, 900 * time.Millisecond, time.Second, 1500 * time.Millisecond, token.MaxLeeway}
		for i, exp := range exps {
			for _, leeway := range append(leeways, time.Duration(rng.Int64N(int64(token.MaxLeeway)+1))) {
				if !validUntil(exp, leeway).After(now) && i%2 == 1 {
					continue // a token the verifier refused at now: only half of them
				}
				got, w := tappedUntil(now, exp, leeway), want(exp, leeway)
				if got != w && (w > now.Sub(processStart) || got > now.Sub(processStart)) {
					t.Fatalf("exp %v (%d.%09d), leeway %v: tappedUntil = %v, want %v", exp, exp.Unix(), exp.Nanosecond(), leeway, got, w)
				}
			}
		}
	}
}
