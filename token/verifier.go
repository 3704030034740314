package token

import "time"

// Verifier checks tokens against one or more secrets and the rules in the
// package doc. It remembers tokens it has verified (never failures) until
// they expire, so a token seen again costs a hash lookup.
// A Verifier is safe for concurrent use; its settings never change after
// NewVerifier, so a new secret or user list means a new Verifier and an
// empty cache.
type Verifier struct {
	secrets   [][]byte
	keys      []*hmacKey // one per secret, in order
	users     map[string]struct{}
	leeway    time.Duration
	now       func() time.Time
	cacheSize int // as given to WithCacheSize; cache is built from it
	cache     *cache
}

// NewVerifier returns a Verifier for tokens signed with secret (or any
// secret given through WithPreviousSecrets). It fails with ErrNoSecret for
// an empty secret, and with an error wrapping ErrLeeway for a leeway
// outside what CheckLeeway allows.
func NewVerifier(secret []byte, opts ...Option) (*Verifier, error) {
	if len(secret) == 0 {
		return nil, ErrNoSecret
	}
	v := &Verifier{secrets: [][]byte{secret}, now: time.Now}
	for _, opt := range opts {
		opt(v)
	}
	if err := CheckLeeway(v.leeway); err != nil {
		return nil, err
	}
	v.keys = newHMACKeys(v.secrets)
	v.cache = newCacheOfSize(v.cacheSize)
	return v, nil
}

// VerifiedToken is a token that passed verification. It is a read-only view
// of the token's claims, which the Verifier shares between every
// verification of a token it has cached, so that a cached token costs no
// copy and no allocation. The zero VerifiedToken holds no claims.
type VerifiedToken struct{ claims *Claims }

// Claims returns the verified token's claims.
func (t VerifiedToken) Claims() Claims {
	if t.claims == nil {
		return Claims{}
	}
	return *t.claims
}

// User returns the verified token's user ("" for the zero VerifiedToken).
func (t VerifiedToken) User() string {
	if t.claims == nil {
		return ""
	}
	return t.claims.User
}

// ExpiresAt returns the verified token's expiry (the zero time for the zero
// VerifiedToken), without copying the rest of its claims.
func (t VerifiedToken) ExpiresAt() time.Time {
	if t.claims == nil {
		return time.Time{}
	}
	return t.claims.ExpiresAt
}

// Verify checks tok. The error is one of this package's sentinels, and
// comes with the zero VerifiedToken.
//
// Size, shape and signature are checked before any JSON is decoded (see the
// package doc), so forged tokens are cheap to refuse.
func (v *Verifier) Verify(tok string) (VerifiedToken, error) {
	return v.VerifyAt(tok, v.now())
}

// VerifyAt is Verify at the time now rather than the Verifier's clock
// (WithClock), for a caller that has just read the clock for itself: the
// interceptors read it once per call, for the call's decision and for how
// long it took.
func (v *Verifier) VerifyAt(tok string, now time.Time) (VerifiedToken, error) {
	if tok == "" {
		return VerifiedToken{}, ErrMissing
	}
	if len(tok) > MaxSize {
		return VerifiedToken{}, ErrTooLarge
	}
	var h uint64
	if v.cache != nil {
		var e *cacheEntry
		if e, h = v.cache.get(tok); e != nil && e.servable(now) {
			return VerifiedToken{&e.claims}, nil
		}
	}
	c, err := v.verify(tok, now)
	if err != nil {
		return VerifiedToken{}, err
	}
	if v.cache != nil {
		return v.cache.put(h, tok, c, c.ExpiresAt.Add(v.leeway), v.leeway), nil
	}
	shared := new(Claims) // not &c, which would move c to the heap on every path
	*shared = c
	return VerifiedToken{shared}, nil
}

// verify checks tok from scratch, at time now.
func (v *Verifier) verify(tok string, now time.Time) (Claims, error) {
	parts, ok := splitJWS(tok)
	if !ok {
		return Claims{}, ErrMalformed
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	sig, err := s.decode(parts.signature)
	if err != nil || len(sig) == 0 {
		return Claims{}, ErrMalformed
	}
	if err := v.checkSignature(s, parts.signingString, sig); err != nil {
		return Claims{}, err
	}
	if parts.header != headerSegment {
		if err := checkHeader(s, parts.header); err != nil {
			return Claims{}, err
		}
	}
	return v.checkClaims(s, parts.payload, now)
}
