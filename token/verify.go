package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
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
	// customClock is set by WithClock.
	customClock bool
	cache       *cache
	parser      *jwt.Parser
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
			v.customClock = true
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
		// Strict: a segment whose spare low bits are not zero is another
		// spelling of the same bytes, refused like any non-canonical form.
		parser: jwt.NewParser(jwt.WithStrictDecoding()),
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
	if v.cache != nil {
		if e := v.cache.get(tok); e != nil {
			// A verifier on a clock of its own (tests, replays) checks
			// expiry on it; otherwise the monotonic clock is enough.
			if v.customClock {
				if !v.now().Truncate(time.Second).After(e.until) {
					return e.claims, nil
				}
			} else if e.live() {
				return e.claims, nil
			}
		}
	}
	now := v.now()

	if !isJWSText(tok) {
		return Claims{}, ErrMalformed
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

// jwsText marks the bytes a compact JWS is made of: unpadded base64url and
// the dots between segments (RFC 7515 §2 and §7.1).
var jwsText = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_." {
		t[c] = true
	}
	return t
}()

// isJWSText reports whether tok holds only jwsText bytes. The base64
// decoder alone is not enough: it skips CR and LF, so a line break anywhere
// in the signature would leave it valid and let one token be spelled in
// endless ways.
func isJWSText(tok string) bool {
	for i := 0; i < len(tok); i++ {
		if !jwsText[tok[i]] {
			return false
		}
	}
	return true
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
	// Looked up by its exact name, as python-jose does: encoding/json would
	// also take "ALG" or "Alg" for it (see readPayload).
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil || h == nil {
		return ErrMalformed
	}
	rawAlg, ok := h["alg"]
	if !ok {
		return ErrAlgorithm
	}
	var alg *string
	if err := json.Unmarshal(rawAlg, &alg); err != nil {
		return ErrMalformed
	}
	if alg == nil || *alg != jwt.SigningMethodHS256.Alg() {
		return ErrAlgorithm
	}
	return nil
}

// payload is the wire form of the claims we read; any other claim is ignored,
// as Brevia ignores it.
type payload struct {
	User          *string  `json:"user"`
	Exp, Nbf, Iat *float64 // NumericDates: JSON numbers of seconds
}

// wirePayload is payload with every claim tagged, for the fast path.
type wirePayload struct {
	User *string  `json:"user"`
	Exp  *float64 `json:"exp"`
	Nbf  *float64 `json:"nbf"`
	Iat  *float64 `json:"iat"`
}

// claimNames are the claims readPayload looks up.
var claimNames = [...]string{"user", "exp", "nbf", "iat"}

// readPayload picks the claims out of a JSON object by their exact names.
// Claim names are case-sensitive (RFC 7519 §4) and so are Python's dict
// lookups, but encoding/json fills struct fields whatever the case of the
// key: it would take {"USER":"admin"} for a user and let "EXP" override
// "exp". So the one-pass struct decoding is used only when no key can be
// such a variant; otherwise the claims are looked up in a map by their exact
// names, which costs about twice as much.
func readPayload(raw []byte) (payload, error) {
	if !mayHoldCaseVariants(raw) {
		var w wirePayload
		if err := json.Unmarshal(raw, &w); err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) && typeErr.Field == "user" {
				return payload{}, ErrInvalidUser
			}
			return payload{}, ErrInvalidClaims
		}
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return payload{}, ErrInvalidClaims
		}
		return payload{User: w.User, Exp: w.Exp, Nbf: w.Nbf, Iat: w.Iat}, nil
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(raw, &claims); err != nil || claims == nil { // nil: the payload is null
		return payload{}, ErrInvalidClaims
	}
	claim := func(name string, dst any) error {
		if r, ok := claims[name]; ok {
			return json.Unmarshal(r, dst)
		}
		return nil
	}
	var p payload
	if claim("exp", &p.Exp) != nil || claim("nbf", &p.Nbf) != nil || claim("iat", &p.Iat) != nil {
		return payload{}, ErrInvalidClaims
	}
	if claim("user", &p.User) != nil {
		return payload{}, ErrInvalidUser
	}
	return p, nil
}

// mayHoldCaseVariants reports whether encoding/json could match a key of raw
// to a claim name case-insensitively without it being that exact name. It
// answers true for any escape or non-ASCII byte (encoding/json folds "ſ" to
// "s" and "K" to "k") and for any ASCII spelling of a claim name that is not
// all lower case. A false answer is certain; a true one only sends the
// payload down the exact path.
func mayHoldCaseVariants(raw []byte) bool {
	for i, c := range raw {
		if c == '\\' || c >= 0x80 {
			return true
		}
		switch c | 0x20 { // the first letters of claimNames, in any case
		case 'u', 'e', 'n', 'i':
			for _, name := range claimNames {
				if len(raw)-i >= len(name) && bytes.EqualFold(raw[i:i+len(name)], []byte(name)) &&
					string(raw[i:i+len(name)]) != name {
					return true
				}
			}
		}
	}
	return false
}

// numericDate turns a NumericDate, read as a JSON number into a float64
// (so "exp":"123", a string, is refused by encoding/json), into a time, as
// jwt.NumericDate does.
func numericDate(f float64) time.Time {
	sec, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))).Time
}

func (v *Verifier) checkClaims(seg string, now time.Time) (Claims, error) {
	raw, err := v.parser.DecodeSegment(seg)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	p, err := readPayload(raw)
	if err != nil {
		return Claims{}, err
	}
	if p.Exp == nil {
		return Claims{}, ErrNoExpiry
	}
	c := Claims{ExpiresAt: numericDate(*p.Exp)}
	if p.Nbf != nil {
		c.NotBefore = numericDate(*p.Nbf)
	}
	if p.Iat != nil {
		c.IssuedAt = numericDate(*p.Iat)
	}
	// NumericDates name whole seconds and python-jose compares them with
	// the current whole second, so a token is valid through its exp second
	// (exp == now is valid) and valid from its nbf second on.
	sec := now.Truncate(time.Second)
	if sec.After(c.ExpiresAt.Add(v.leeway)) {
		return Claims{}, ErrExpired
	}
	if p.Nbf != nil && c.NotBefore.Add(-v.leeway).After(sec) {
		return Claims{}, ErrNotYetValid
	}
	if p.Iat != nil && c.IssuedAt.Add(-v.leeway).After(sec) {
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
	c.User = *p.User
	return c, nil
}
