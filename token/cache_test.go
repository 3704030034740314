package token

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	cacheSecret = []byte("cache-test-secret-5a0f3c8e1b7d9246")
	cacheNow    = time.Unix(1_700_000_000, 0)
)

// clockAt is a Verifier clock the test can move.
type clockAt struct{ ns atomic.Int64 }

func newClockAt(t time.Time) *clockAt {
	c := &clockAt{}
	c.set(t)
	return c
}
func (c *clockAt) set(t time.Time) { c.ns.Store(t.UnixNano()) }
func (c *clockAt) now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *clockAt) option() Option  { return WithClock(c.now) }
func fixedAt(t time.Time) Option   { return WithClock(func() time.Time { return t }) }
func mustVerifier(tb testing.TB, secret []byte, opts ...Option) *Verifier {
	tb.Helper()
	v, err := NewVerifier(secret, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// claimsOf is Verify's answer as claims, for tests that compare them.
func claimsOf(vt VerifiedToken, err error) (Claims, error) { return vt.Claims(), err }

func cacheToken(tb testing.TB, secret []byte, user string, exp time.Time) string {
	tb.Helper()
	tok, err := Sign(secret, Claims{User: user, ExpiresAt: exp})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// unverifiable makes v unable to verify anything from scratch: only its
// cache can still say yes. The settings of a real Verifier never change;
// this is how a test tells a cached answer from a computed one.
func unverifiable(v *Verifier) {
	v.keys = newHMACKeys([][]byte{[]byte("a secret nobody signed with")})
}

func TestCacheServesVerifiedTokens(t *testing.T) {
	t.Parallel()
	tok := cacheToken(t, cacheSecret, "alice", cacheNow.Add(time.Hour))

	v := mustVerifier(t, cacheSecret, fixedAt(cacheNow))
	first, err := claimsOf(v.Verify(tok))
	if err != nil {
		t.Fatal(err)
	}
	if n := v.cache.len(); n != 1 {
		t.Fatalf("cache holds %d entries after one verified token, want 1", n)
	}
	unverifiable(v)
	again, err := claimsOf(v.Verify(tok))
	if err != nil {
		t.Fatalf("second Verify = %v: the token was not served from the cache", err)
	}
	if again != first {
		t.Errorf("cached claims = %+v, want %+v", again, first)
	}

	// The same probe without a cache: the second call is computed, and fails.
	uncached := mustVerifier(t, cacheSecret, fixedAt(cacheNow), WithCacheSize(-1))
	if _, err := uncached.Verify(tok); err != nil {
		t.Fatal(err)
	}
	unverifiable(uncached)
	if _, err := uncached.Verify(tok); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("Verify without a cache = %v, want ErrSignatureInvalid", err)
	}
}

// TestCacheRespectsExpiry: a cached token is served through exp + leeway
// (whole seconds, like the full check) and never after.
func TestCacheRespectsExpiry(t *testing.T) {
	t.Parallel()
	const leeway = 5 * time.Second
	exp := cacheNow.Add(time.Minute)
	tok := cacheToken(t, cacheSecret, "alice", exp)
	tests := []struct {
		name    string
		now     time.Time
		wantErr error // nil: valid, and served from the cache
	}{
		{"before exp", exp.Add(-time.Second), nil},
		{"at exp", exp, nil},
		{"at exp + leeway", exp.Add(leeway), nil},
		{"within the last second of the leeway", exp.Add(leeway + 999*time.Millisecond), nil},
		{"one second past exp + leeway", exp.Add(leeway + time.Second), ErrExpired},
		{"long after", exp.Add(24 * time.Hour), ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newClockAt(cacheNow)
			v := mustVerifier(t, cacheSecret, clock.option(), WithLeeway(leeway))
			if _, err := v.Verify(tok); err != nil {
				t.Fatal(err)
			}
			clock.set(tc.now)
			if _, err := v.Verify(tok); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tc.wantErr)
			}
			// Only the cache can accept the token now: it must when the
			// token is valid, and must not when it has expired.
			unverifiable(v)
			wantErr := tc.wantErr
			if wantErr != nil {
				wantErr = ErrSignatureInvalid
			}
			if _, err := v.Verify(tok); !errors.Is(err, wantErr) {
				t.Errorf("Verify with only the cache able to say yes = %v, want %v", err, wantErr)
			}
		})
	}
}

// TestCacheRespectsNotBefore: a cached token is served at a time exactly
// when verifying it again would accept it, before its nbf and iat too,
// which a clock that went back (or VerifyAt with an earlier time) asks
// about. Every time around the first valid second, in quarter seconds, for
// nbf, iat and both, with leeways of whole and fractional seconds.
func TestCacheRespectsNotBefore(t *testing.T) {
	t.Parallel()
	start := cacheNow.Add(time.Minute) // nbf or iat
	exp := start.Add(time.Hour)
	claims := map[string]Claims{
		"nbf":              {User: "alice", ExpiresAt: exp, NotBefore: start},
		"iat":              {User: "alice", ExpiresAt: exp, IssuedAt: start},
		"iat after nbf":    {User: "alice", ExpiresAt: exp, NotBefore: start.Add(-time.Minute), IssuedAt: start},
		"nbf after iat":    {User: "alice", ExpiresAt: exp, NotBefore: start, IssuedAt: start.Add(-time.Minute)},
		"neither (anchor)": {User: "alice", ExpiresAt: exp},
	}
	for name, c := range claims {
		tok, err := Sign(cacheSecret, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, leeway := range []time.Duration{0, 1500 * time.Millisecond, 5 * time.Second} {
			uncached := mustVerifier(t, cacheSecret, WithCacheSize(-1), WithLeeway(leeway))
			cached := mustVerifier(t, cacheSecret, WithLeeway(leeway))
			if _, err := cached.VerifyAt(tok, exp); err != nil { // into the cache
				t.Fatal(err)
			}
			unverifiable(cached) // only the cache can say yes now
			refused := 0
			for at := start.Add(-leeway - 3*time.Second); at.Before(start.Add(2 * time.Second)); at = at.Add(250 * time.Millisecond) {
				_, want := uncached.VerifyAt(tok, at)
				_, got := cached.VerifyAt(tok, at)
				if want != nil {
					refused++
					if !errors.Is(want, ErrNotYetValid) {
						t.Fatalf("%s, leeway %v, at start%+v: verified %v, want ErrNotYetValid or nil", name, leeway, at.Sub(start), want)
					}
				}
				if (got == nil) != (want == nil) {
					t.Errorf("%s, leeway %v, at start%+v: the cache says %v, verifying says %v", name, leeway, at.Sub(start), got, want)
				}
			}
			// The walk crosses the first valid second, except with neither
			// claim, where every time is valid.
			if (refused == 0) != (name == "neither (anchor)") {
				t.Errorf("%s, leeway %v: %d times refused", name, leeway, refused)
			}
		}
	}
}

// TestCacheExpiresOnTheRealClock: on the default clock (time.Now), a cached
// token stops being served once its exp second has passed.
func TestCacheExpiresOnTheRealClock(t *testing.T) {
	t.Parallel()
	exp := time.Now().Truncate(time.Second).Add(time.Second)
	if time.Until(exp) < 300*time.Millisecond {
		exp = exp.Add(time.Second) // leave the checks before exp some time
	}
	tok := cacheToken(t, cacheSecret, "alice", exp)
	v := mustVerifier(t, cacheSecret)
	if _, err := v.Verify(tok); err != nil {
		t.Fatal(err)
	}
	unverifiable(v)
	if _, err := v.Verify(tok); err != nil && time.Now().Before(exp) {
		t.Fatalf("Verify before exp = %v, want it served from the cache", err)
	}
	time.Sleep(time.Until(exp.Add(1100 * time.Millisecond)))
	if _, err := v.Verify(tok); !errors.Is(err, ErrSignatureInvalid) {
		t.Fatalf("Verify after exp = %v, want ErrSignatureInvalid: the cache served an expired token", err)
	}
}

// TestCacheNeverStoresFailures: a rejected token is not remembered, so a
// token refused because it is not valid yet is accepted once it is.
func TestCacheNeverStoresFailures(t *testing.T) {
	t.Parallel()
	exp := cacheNow.Add(time.Hour)
	notYet, err := Sign(cacheSecret, Claims{User: "alice", ExpiresAt: exp, NotBefore: cacheNow.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		tok     string
		wantErr error
	}{
		{cacheToken(t, []byte("another secret"), "alice", exp), ErrSignatureInvalid},
		{cacheToken(t, cacheSecret, "alice", cacheNow.Add(-time.Second)), ErrExpired},
		{cacheToken(t, cacheSecret, "mallory", exp), ErrUserNotAllowed},
		{notYet, ErrNotYetValid},
		{"not.a.token", ErrMalformed},
	}
	clock := newClockAt(cacheNow)
	v := mustVerifier(t, cacheSecret, clock.option(), WithUsers("alice"))
	for _, b := range bad {
		for range 3 {
			if _, err := v.Verify(b.tok); !errors.Is(err, b.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, b.wantErr)
			}
		}
	}
	if n := v.cache.len(); n != 0 {
		t.Fatalf("cache holds %d entries after only failures, want 0", n)
	}

	clock.set(cacheNow.Add(time.Minute))
	if _, err := v.Verify(notYet); err != nil {
		t.Errorf("Verify once nbf has passed = %v, want valid", err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	const tokens = 5_000
	toks := make([]string, tokens)
	for i := range toks {
		toks[i] = cacheToken(t, cacheSecret, fmt.Sprintf("user-%d", i), cacheNow.Add(time.Hour))
	}
	for _, size := range []int{1, 3, 5, 64, 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			v := mustVerifier(t, cacheSecret, fixedAt(cacheNow), WithCacheSize(size))
			for i, tok := range toks {
				if _, err := v.Verify(tok); err != nil {
					t.Fatal(err)
				}
				if n := v.cache.len(); n > size {
					t.Fatalf("after %d tokens the cache holds %d entries, more than %d", i+1, n, size)
				}
			}
			if n := v.cache.len(); n < size/2 {
				t.Errorf("cache holds %d entries after %d tokens: it barely caches", n, tokens)
			}
			unverifiable(v)
			if _, err := v.Verify(toks[tokens-1]); err != nil {
				t.Errorf("the token verified last is not served from the cache: %v", err)
			}
		})
	}
}

// TestCacheSizeIsCapped: the table is allocated whole, so an absurd size is
// cut to MaxCacheSize rather than tried.
func TestCacheSizeIsCapped(t *testing.T) {
	t.Parallel()
	for _, size := range []int{MaxCacheSize + 1, 1 << 40, math.MaxInt} {
		v := mustVerifier(t, cacheSecret, WithCacheSize(size))
		if slots := len(v.cache.sets) * v.cache.ways; slots != MaxCacheSize {
			t.Errorf("WithCacheSize(%d): %d slots, want %d", size, slots, MaxCacheSize)
		}
	}
}

// TestCacheSizeZeroIsDefault: WithCacheSize(0) means DefaultCacheSize, as
// interceptors.Config.CacheSize 0 does, the same as no WithCacheSize.
func TestCacheSizeZeroIsDefault(t *testing.T) {
	t.Parallel()
	for _, opts := range [][]Option{nil, {WithCacheSize(0)}, {WithCacheSize(5), WithCacheSize(0)}} {
		v := mustVerifier(t, cacheSecret, opts...)
		if v.cache == nil {
			t.Fatalf("%d options: no cache, want DefaultCacheSize", len(opts))
		}
		if slots := len(v.cache.sets) * v.cache.ways; slots != DefaultCacheSize {
			t.Errorf("%d options: %d slots, want %d", len(opts), slots, DefaultCacheSize)
		}
	}
}

func TestCacheSizeNegativeDisablesIt(t *testing.T) {
	t.Parallel()
	tok := cacheToken(t, cacheSecret, "alice", cacheNow.Add(time.Hour))
	for _, size := range []int{-1, math.MinInt} {
		v := mustVerifier(t, cacheSecret, fixedAt(cacheNow), WithCacheSize(size))
		if v.cache != nil {
			t.Fatalf("WithCacheSize(%d) kept a cache", size)
		}
		for range 2 {
			if c, err := claimsOf(v.Verify(tok)); err != nil || c.User != "alice" {
				t.Fatalf("WithCacheSize(%d): Verify = %+v, %v", size, c, err)
			}
		}
	}
}

// TestCacheConcurrent mixes repeated, new and bad tokens from several
// goroutines on a small cache, so that entries are added, served and
// evicted at the same time, every answer checked against its own token;
// run it with -race. A cache of 4 is one set, where every insert races for
// the same four slots.
func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	for _, size := range []int{4, 32} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			testCacheConcurrent(t, size)
		})
	}
}

func testCacheConcurrent(t *testing.T, size int) {
	const goroutines, rounds = 8, 400
	exp := cacheNow.Add(time.Hour)
	v := mustVerifier(t, cacheSecret, fixedAt(cacheNow), WithCacheSize(size))

	repeated := make([]string, 8)
	for i := range repeated {
		repeated[i] = cacheToken(t, cacheSecret, fmt.Sprintf("shared-%d", i), exp)
	}
	forged := cacheToken(t, []byte("forger"), "shared-0", exp)
	expired := cacheToken(t, cacheSecret, "shared-1", cacheNow.Add(-time.Minute))

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				r := i % len(repeated)
				check(t, v, repeated[r], fmt.Sprintf("shared-%d", r), nil)
				user := fmt.Sprintf("g%d-%d", g, i)
				fresh, err := Sign(cacheSecret, Claims{User: user, ExpiresAt: exp})
				if err != nil {
					t.Error(err)
					return
				}
				check(t, v, fresh, user, nil)
				check(t, v, forged, "", ErrSignatureInvalid)
				check(t, v, expired, "", ErrExpired)
			}
		})
	}
	wg.Wait()
	if n := v.cache.len(); n > size {
		t.Errorf("cache holds %d entries, more than %d", n, size)
	}
}

func check(t *testing.T, v *Verifier, tok, wantUser string, wantErr error) {
	c, err := claimsOf(v.Verify(tok))
	if !errors.Is(err, wantErr) || c.User != wantUser {
		t.Errorf("Verify = %q, %v; want %q, %v", c.User, err, wantUser, wantErr)
	}
}

// TestCacheIsPerVerifier: a token one Verifier has cached is judged afresh
// by another, with that one's secret and users.
func TestCacheIsPerVerifier(t *testing.T) {
	t.Parallel()
	tok := cacheToken(t, cacheSecret, "alice", cacheNow.Add(time.Hour))
	first := mustVerifier(t, cacheSecret, fixedAt(cacheNow))
	if _, err := first.Verify(tok); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		other   *Verifier
		wantErr error
	}{
		{"another secret", mustVerifier(t, []byte("another secret"), fixedAt(cacheNow)), ErrSignatureInvalid},
		{"same secret, other users", mustVerifier(t, cacheSecret, fixedAt(cacheNow), WithUsers("bob")), ErrUserNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tc.other.Verify(tok); !errors.Is(err, tc.wantErr) {
				t.Errorf("Verify = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestCacheDiesWithItsVerifier: a Verifier that is dropped (replaced after
// a change of secret or users, say) takes its cache with it, however far
// off the expiry of the tokens in it.
func TestCacheDiesWithItsVerifier(t *testing.T) {
	t.Parallel()
	freed := make(chan struct{})
	func() {
		v := mustVerifier(t, cacheSecret)
		tok := cacheToken(t, cacheSecret, "alice", time.Now().Add(time.Hour))
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
		if n := v.cache.len(); n != 1 {
			t.Fatalf("cache holds %d entries, want 1", n)
		}
		runtime.AddCleanup(v.cache, func(freed chan struct{}) { close(freed) }, freed)
	}()
	for range 100 {
		runtime.GC()
		select {
		case <-freed:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("the cache of a dropped Verifier is still reachable: it lives until its tokens expire")
}

// TestCacheConfirmsTheToken: the hash only finds an entry; the whole token
// must match before its claims are served.
func TestCacheConfirmsTheToken(t *testing.T) {
	t.Parallel()
	exp := cacheNow.Add(time.Hour)
	tokA := cacheToken(t, cacheSecret, "alice", exp)
	tokB := cacheToken(t, cacheSecret, "bobby", exp)
	if len(tokA) != len(tokB) {
		t.Fatalf("tokens of %d and %d bytes, want equal lengths", len(tokA), len(tokB))
	}
	v := mustVerifier(t, cacheSecret, fixedAt(cacheNow))
	if _, err := v.Verify(tokA); err != nil {
		t.Fatal(err)
	}
	unverifiable(v)
	if c, err := claimsOf(v.Verify(tokB)); !errors.Is(err, ErrSignatureInvalid) {
		t.Fatalf("Verify(B) with only A cached = %+v, %v; want ErrSignatureInvalid", c, err)
	}

	// Force a collision: put a copy of A's entry, labelled with B's hash,
	// where a lookup of B lands.
	hashOf := func(tok string) uint64 { return maphash.String(v.cache.seed, tok) }
	hA, hB := hashOf(tokA), hashOf(tokB)
	entryA, _ := v.cache.get(tokA)
	if entryA == nil || entryA.hash != hA {
		t.Fatal("A is not in the cache")
	}
	collided := *entryA
	collided.hash = hB
	setB := v.cache.set(hB)
	slot := 0
	if setB.entries[slot].Load() == entryA { // A and B share a set: keep A's slot
		slot = 1
	}
	setB.entries[slot].Store(&collided)
	setB.hashes[slot].Store(hB)
	if c, err := claimsOf(v.Verify(tokB)); !errors.Is(err, ErrSignatureInvalid) {
		t.Fatalf("Verify(B) whose hash finds A's entry = %+v, %v; want ErrSignatureInvalid", c, err)
	}
	if c, err := claimsOf(v.Verify(tokA)); err != nil || c.User != "alice" {
		t.Fatalf("Verify(A) = %+v, %v; want alice's claims from the cache", c, err)
	}
}

func TestEqualConstantTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"a", "a", true},
		{"token", "token", true},
		{"token", "tokem", false},
		{"token", "Token", false},
		{"abc", "abd", false},
		{"xbc", "abc", false},
		{"abc", "abcd", false},
		{"abcd", "abc", false},
		{"", "a", false},
		{"\x00", "", false},
		{"\x00", "\x01", false},
		{"\xff\xfe", "\xff\xfe", true},
	}
	for _, tc := range tests {
		if got := equalConstantTime(tc.a, tc.b); got != tc.want {
			t.Errorf("equalConstantTime(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	// Every length across the word-at-a-time loop and its tail, with one
	// bit changed at every position.
	base := strings.Repeat("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9", 2)
	for n := range len(base) {
		a := base[:n]
		if !equalConstantTime(a, strings.Clone(a)) {
			t.Fatalf("equalConstantTime(%q, same) = false", a)
		}
		for i := range n {
			for _, bit := range []byte{0x01, 0x80} {
				b := []byte(a)
				b[i] ^= bit
				if equalConstantTime(a, string(b)) {
					t.Fatalf("equalConstantTime(%q, %q) = true", a, b)
				}
			}
		}
	}
}

// TestSignatureMatchesGolangJWT: the pooled HMAC keys answer exactly as
// golang-jwt's SigningMethodHS256.Verify does, for good and bad signatures,
// used again and again (a pooled HMAC must be reset between uses).
func TestSignatureMatchesGolangJWT(t *testing.T) {
	t.Parallel()
	secrets := [][]byte{[]byte("k"), []byte(strings.Repeat("long key ", 20)), cacheSecret}
	keys := newHMACKeys(secrets)
	for i, secret := range secrets {
		for n := range 50 {
			input := strings.Repeat("x.", n) + strconv.Itoa(n)
			good, err := jwt.SigningMethodHS256.Sign(input, secret)
			if err != nil {
				t.Fatal(err)
			}
			bad := bytes.Clone(good)
			bad[n%len(bad)] ^= 1
			for _, sig := range [][]byte{good, bad, good[:31], nil} {
				want := jwt.SigningMethodHS256.Verify(input, sig, secret) == nil
				if got := keys[i].verify(new(scratch), input, sig); got != want {
					t.Fatalf("secret %d, input %q, sig %x: verify = %v, golang-jwt says %v", i, input, sig, got, want)
				}
			}
		}
	}
}

// TestVerifySharesCachedTokens: Verify hands out a view of the cache's own
// claims for a cached token (no copy), and its own claims without a cache.
func TestVerifySharesCachedTokens(t *testing.T) {
	t.Parallel()
	tok := cacheToken(t, cacheSecret, "alice", cacheNow.Add(time.Hour))
	for _, tc := range []struct {
		name       string
		size       int
		wantShared bool
	}{{"cached", DefaultCacheSize, true}, {"no cache", -1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := mustVerifier(t, cacheSecret, fixedAt(cacheNow), WithCacheSize(tc.size))
			first, err := v.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			second, err := v.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			if shared := first.claims == second.claims; shared != tc.wantShared {
				t.Errorf("two verifications share one Claims: %v, want %v", shared, tc.wantShared)
			}
			want, err := claimsOf(v.Verify(tok))
			if err != nil {
				t.Fatal(err)
			}
			if first.Claims() != want || second.Claims() != want || first.User() != "alice" {
				t.Errorf("Verify claims %+v, %+v; Verify says %+v", first.Claims(), second.Claims(), want)
			}
			if bad, err := v.Verify(tok + "x"); bad != (VerifiedToken{}) || !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignatureInvalid) {
				t.Errorf("Verify(bad) = %+v, %v; want the zero VerifiedToken and an error", bad, err)
			}
		})
	}
}
