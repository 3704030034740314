package token

import "time"

// Option configures a Verifier.
type Option func(*Verifier)

// WithPreviousSecrets adds secrets accepted for verification only, tried after
// the current one: the rotation window. Empty secrets are ignored.
func WithPreviousSecrets(secrets ...[]byte) Option {
	return func(v *Verifier) {
		for _, s := range secrets {
			if len(s) > 0 {
				v.secrets = append(v.secrets, s)
			}
		}
	}
}

// WithUsers restricts tokens to these users (exact, case-sensitive match).
// No users, or only empty names, means any user.
func WithUsers(users ...string) Option {
	return func(v *Verifier) {
		for _, u := range users {
			if u == "" {
				continue
			}
			if v.users == nil {
				v.users = make(map[string]struct{}, len(users))
			}
			v.users[u] = struct{}{}
		}
	}
}

// WithLeeway tolerates clock skew on exp, nbf and iat. The default is 0, as
// in Brevia. NewVerifier refuses a leeway that CheckLeeway refuses.
func WithLeeway(d time.Duration) Option {
	return func(v *Verifier) { v.leeway = d }
}

// WithClock replaces time.Now, for tests and for replaying fixed vectors.
func WithClock(now func() time.Time) Option {
	return func(v *Verifier) {
		if now != nil {
			v.now = now
		}
	}
}

// DefaultCacheSize is the number of verified tokens a Verifier remembers
// unless WithCacheSize says otherwise.
const DefaultCacheSize = 10_000

// WithCacheSize bounds the cache of verified tokens: 0 means
// DefaultCacheSize, a negative n turns the cache off, and more than
// MaxCacheSize means MaxCacheSize.
func WithCacheSize(n int) Option {
	return func(v *Verifier) { v.cacheSize = n }
}

// newCacheOfSize returns the cache that WithCacheSize(n) asks for, or nil
// for none.
func newCacheOfSize(n int) *cache {
	switch {
	case n < 0:
		return nil
	case n == 0:
		n = DefaultCacheSize
	}
	return newCache(min(n, MaxCacheSize))
}
