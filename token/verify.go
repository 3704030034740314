package token

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier checks tokens against one or more secrets and the rules of
// tokengate: HS256 only, exp required, nbf/iat honoured, a non-blank user,
// and the optional allow-list. It remembers tokens it has verified (never
// failures) until they expire, so a token seen again costs a hash lookup.
// A Verifier is safe for concurrent use; its settings never change after
// NewVerifier, so a new secret or user list means a new Verifier and an
// empty cache.
type Verifier struct {
	secrets [][]byte
	users   map[string]struct{}
	leeway  time.Duration
	now     func() time.Time
	cache   *cache
	parser  *jwt.Parser
}

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
// in Brevia.
func WithLeeway(d time.Duration) Option {
	return func(v *Verifier) {
		if d > 0 {
			v.leeway = d
		}
	}
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

// WithCacheSize bounds the cache of verified tokens; 0 or less turns it off.
func WithCacheSize(n int) Option {
	return func(v *Verifier) {
		if n <= 0 {
			v.cache = nil
			return
		}
		v.cache = newCache(n)
	}
}

// NewVerifier returns a Verifier for tokens signed with secret (or any
// secret given through WithPreviousSecrets).
func NewVerifier(secret []byte, opts ...Option) (*Verifier, error) {
	if len(secret) == 0 {
		return nil, ErrNoSecret
	}
	v := &Verifier{
		secrets: [][]byte{secret},
		now:     time.Now,
		cache:   newCache(DefaultCacheSize),
		parser:  jwt.NewParser(),
	}
	for _, opt := range opts {
		opt(v)
	}
	return v, nil
}

// Verify checks tok and returns its claims. The error is one of this
// package's sentinels.
//
// The order of checks is chosen so that forged tokens are cheap to refuse:
// size, shape and signature come before any JSON is decoded.
func (v *Verifier) Verify(tok string) (Claims, error) {
	if tok == "" {
		return Claims{}, ErrMissing
	}
	if len(tok) > MaxSize {
		return Claims{}, ErrTooLarge
	}
	now := v.now()
	if v.cache != nil {
		if c, ok := v.cache.get(tok, now); ok {
			return c, nil
		}
	}

	dot := strings.LastIndexByte(tok, '.')
	if dot < 0 {
		return Claims{}, ErrMalformed
	}
	signingString, sigSegment := tok[:dot], tok[dot+1:]
	headerSeg, payloadSeg, ok := strings.Cut(signingString, ".")
	if !ok || headerSeg == "" || payloadSeg == "" || strings.Contains(payloadSeg, ".") {
		return Claims{}, ErrMalformed
	}
	sig, err := v.parser.DecodeSegment(sigSegment)
	if err != nil || len(sig) == 0 {
		return Claims{}, ErrMalformed
	}
	if err := v.checkSignature(signingString, sig); err != nil {
		return Claims{}, err
	}
	if headerSeg != headerSegment {
		if err := v.checkHeader(headerSeg); err != nil {
			return Claims{}, err
		}
	}
	c, err := v.checkClaims(payloadSeg, now)
	if err != nil {
		return Claims{}, err
	}
	if v.cache != nil {
		v.cache.put(tok, c, c.ExpiresAt.Add(v.leeway), now)
	}
	return c, nil
}

// checkSignature tries each secret in turn. The algorithm is pinned: HS256 is
// what we compute, whatever the header says, and checkHeader then refuses
// any other alg, so a token cannot choose how it is verified.
func (v *Verifier) checkSignature(signingString string, sig []byte) error {
	for _, secret := range v.secrets {
		if jwt.SigningMethodHS256.Verify(signingString, sig, secret) == nil {
			return nil
		}
	}
	return ErrSignatureInvalid
}

func (v *Verifier) checkHeader(seg string) error {
	raw, err := v.parser.DecodeSegment(seg)
	if err != nil {
		return ErrMalformed
	}
	var h struct {
		Alg *string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return ErrMalformed
	}
	if h.Alg == nil || *h.Alg != jwt.SigningMethodHS256.Alg() {
		return ErrAlgorithm
	}
	return nil
}

// payload is the wire form of the claims we read; any other claim is ignored,
// as Brevia ignores it.
type payload struct {
	User *string      `json:"user"`
	Exp  *numericDate `json:"exp"`
	Nbf  *numericDate `json:"nbf"`
	Iat  *numericDate `json:"iat"`
}

// numericDate is jwt.NumericDate without its tolerance for numbers written
// as strings ("exp":"123"): RFC 7519 says a NumericDate is a JSON number.
type numericDate struct{ jwt.NumericDate }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == '"' {
		return ErrInvalidClaims
	}
	return d.NumericDate.UnmarshalJSON(b)
}

func (v *Verifier) checkClaims(seg string, now time.Time) (Claims, error) {
	raw, err := v.parser.DecodeSegment(seg)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "user" {
			return Claims{}, ErrInvalidUser
		}
		return Claims{}, ErrInvalidClaims
	}
	if p.Exp == nil {
		return Claims{}, ErrNoExpiry
	}
	// NumericDates name whole seconds and python-jose compares them with
	// the current whole second, so a token is valid through its exp second
	// (exp == now is valid) and valid from its nbf second on.
	sec := now.Truncate(time.Second)
	if sec.After(p.Exp.Add(v.leeway)) {
		return Claims{}, ErrExpired
	}
	if p.Nbf != nil && p.Nbf.Add(-v.leeway).After(sec) {
		return Claims{}, ErrNotYetValid
	}
	if p.Iat != nil && p.Iat.Add(-v.leeway).After(sec) {
		return Claims{}, ErrNotYetValid
	}
	if p.User == nil || strings.TrimSpace(*p.User) == "" {
		return Claims{}, ErrInvalidUser
	}
	if v.users != nil {
		if _, ok := v.users[*p.User]; !ok {
			return Claims{}, ErrUserNotAllowed
		}
	}
	c := Claims{User: *p.User, ExpiresAt: p.Exp.Time}
	if p.Nbf != nil {
		c.NotBefore = p.Nbf.Time
	}
	if p.Iat != nil {
		c.IssuedAt = p.Iat.Time
	}
	return c, nil
}
