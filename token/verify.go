package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fastjson"
)

// Verifier checks tokens against one or more secrets and the rules of
// tokengate: HS256 only, exp required, nbf/iat honoured, a non-blank user,
// the optional allow-list, and the registered claims refused as Brevia
// (python-jose) refuses them: aud, at_hash, and a sub or jti that is not a
// string. It remembers tokens it has verified (never failures) until they
// expire, so a token seen again costs a hash lookup.
// A Verifier is safe for concurrent use; its settings never change after
// NewVerifier, so a new secret or user list means a new Verifier and an
// empty cache.
type Verifier struct {
	secrets [][]byte
	keys    []*hmacKey // one per secret, in order
	users   map[string]struct{}
	leeway  time.Duration
	now     func() time.Time
	cache   *cache
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

// WithCacheSize bounds the cache of verified tokens; 0 or less turns it off
// and more than MaxCacheSize means MaxCacheSize.
func WithCacheSize(n int) Option {
	return func(v *Verifier) {
		if n <= 0 {
			v.cache = nil
			return
		}
		v.cache = newCache(min(n, MaxCacheSize))
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
	}
	for _, opt := range opts {
		opt(v)
	}
	v.keys = newHMACKeys(v.secrets)
	return v, nil
}

// Verify checks tok and returns its claims. The error is one of this
// package's sentinels.
//
// The order of checks is chosen so that forged tokens are cheap to refuse:
// size, shape and signature come before any JSON is decoded.
func (v *Verifier) Verify(tok string) (Claims, error) {
	t, err := v.VerifyShared(tok)
	if err != nil {
		return Claims{}, err
	}
	return *t.claims, nil
}

// Verified is a token that passed verification. It is a read-only view of
// claims the Verifier may share with every verification of a token it has
// cached; the zero Verified holds no claims.
type Verified struct{ claims *Claims }

// Claims returns the verified token's claims.
func (t Verified) Claims() Claims {
	if t.claims == nil {
		return Claims{}
	}
	return *t.claims
}

// User returns the verified token's user ("" for the zero Verified).
func (t Verified) User() string {
	if t.claims == nil {
		return ""
	}
	return t.claims.User
}

// VerifyShared is Verify for a hot path that keeps the result, such as an
// interceptor carrying it to a handler: a cached token costs no copy of its
// claims and no allocation.
func (v *Verifier) VerifyShared(tok string) (Verified, error) {
	if tok == "" {
		return Verified{}, ErrMissing
	}
	if len(tok) > MaxSize {
		return Verified{}, ErrTooLarge
	}
	now := v.now()
	var h uint64
	if v.cache != nil {
		var e *cacheEntry
		if e, h = v.cache.get(tok); e != nil && e.servable(now) {
			return Verified{&e.claims}, nil
		}
	}
	c, err := v.verify(tok, now)
	if err != nil {
		return Verified{}, err
	}
	if v.cache != nil {
		return v.cache.put(h, tok, c, c.ExpiresAt.Add(v.leeway)), nil
	}
	shared := new(Claims) // not &c, which would move c to the heap on every path
	*shared = c
	return Verified{shared}, nil
}

// verify checks tok from scratch, at time now.
func (v *Verifier) verify(tok string, now time.Time) (Claims, error) {
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
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	sig, err := s.decode(sigSegment)
	if err != nil || len(sig) == 0 {
		return Claims{}, ErrMalformed
	}
	if err := v.checkSignature(s, signingString, sig); err != nil {
		return Claims{}, err
	}
	if headerSeg != headerSegment {
		if err := checkHeader(s, headerSeg); err != nil {
			return Claims{}, err
		}
	}
	return v.checkClaims(s, payloadSeg, now)
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
func (v *Verifier) checkSignature(s *scratch, signingString string, sig []byte) error {
	if len(sig) != sha256.Size {
		return ErrSignatureInvalid
	}
	for _, k := range v.keys {
		if k.verify(s, signingString, sig) {
			return nil
		}
	}
	return ErrSignatureInvalid
}

// hmacKey is HS256 (golang-jwt's SigningMethodHS256: HMAC with its hash,
// SHA-256) keyed once. jwt.SigningMethodHS256.Verify builds a new HMAC for
// every call, which costs two extra SHA-256 blocks and a few allocations;
// here keyed HMACs are pooled and Reset between uses, which crypto/hmac
// makes cheap. Tokens made by golang-jwt, python-jose or Sign verify the same
// (TestSignatureMatchesGolangJWT).
type hmacKey struct{ pool sync.Pool }

func newHMACKeys(secrets [][]byte) []*hmacKey {
	keys := make([]*hmacKey, len(secrets))
	for i, secret := range secrets {
		secret := bytes.Clone(secret)
		keys[i] = &hmacKey{pool: sync.Pool{New: func() any {
			return hmac.New(jwt.SigningMethodHS256.Hash.New, secret)
		}}}
	}
	return keys
}

// verify reports whether sig is the HMAC of signingString, comparing in
// constant time.
func (k *hmacKey) verify(s *scratch, signingString string, sig []byte) bool {
	h := k.pool.Get().(hash.Hash)
	defer k.pool.Put(h)
	h.Reset()
	// The HMAC takes no strings: copy into scratch rather than convert,
	// which would allocate, and sum into scratch too.
	s.in = append(s.in[:0], signingString...)
	h.Write(s.in)
	s.sum = h.Sum(s.sum[:0])
	return hmac.Equal(s.sum, sig)
}

func checkHeader(s *scratch, seg string) error {
	raw, err := s.decode(seg)
	if err != nil {
		return ErrMalformed
	}
	// Looked up by its exact name, as python-jose does (see parseObject).
	o, ok := s.parseObject(raw)
	if !ok {
		return ErrMalformed
	}
	var alg *fastjson.Value
	o.Visit(func(key []byte, v *fastjson.Value) {
		if string(key) == "alg" {
			alg = v // the last one, as in Python
		}
	})
	if alg == nil || alg.Type() != fastjson.TypeString {
		if alg != nil && alg.Type() != fastjson.TypeNull {
			return ErrMalformed
		}
		return ErrAlgorithm
	}
	if string(alg.GetStringBytes()) != jwt.SigningMethodHS256.Alg() {
		return ErrAlgorithm
	}
	return nil
}

// payload is the wire form of the claims we read. Other claims are ignored,
// as Brevia ignores them, except the registered claims python-jose refuses
// (aud, at_hash, and a sub or jti that is not a string), which readPayload
// refuses too.
type payload struct {
	User          optional[string]
	Exp, Nbf, Iat optional[float64] // NumericDates: JSON numbers of seconds
}

// optional is a claim that may be absent (or null, which counts as absent).
// A value rather than a pointer: nothing to allocate.
type optional[T any] struct {
	v  T
	ok bool
}

// scratch is the working memory of one verification: the base64 input and
// output of a segment and the JSON parser that reads it. Verifications reuse
// it through scratchPool, so that a token seen for the first time costs no
// allocation for decoding or parsing.
type scratch struct {
	in, out, sum []byte
	user         []byte // the user claim's raw JSON text
	json         fastjson.Parser
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// strictBase64 decodes segments as golang-jwt's Parser.DecodeSegment does
// with WithStrictDecoding: unpadded base64url, and a segment whose spare low
// bits are not zero (another spelling of the same bytes) is refused like any
// non-canonical form. FuzzDecodeSegment holds the two together.
var strictBase64 = base64.RawURLEncoding.Strict()

// decode decodes seg into s's output buffer and returns it; it stays valid
// until the next decode with s.
func (s *scratch) decode(seg string) ([]byte, error) {
	s.in = append(s.in[:0], seg...)
	s.out = slices.Grow(s.out[:0], strictBase64.DecodedLen(len(seg)))
	n, err := strictBase64.Decode(s.out[:cap(s.out)], s.in)
	if err != nil {
		return nil, err
	}
	return s.out[:n], nil
}

// parseObject validates raw as strict JSON text in UTF-8 and returns the
// object it holds, or false if it holds anything else. The object is valid
// until s parses again.
//
// fastjson (rather than encoding/json) because it is several times faster
// on a verifier's hot path and matches keys exactly: claim and header names
// are case-sensitive (RFC 7519 §4, and Python's dict lookups), while
// encoding/json would take {"USER":"admin"} for a user and let "EXP"
// override "exp".
func (s *scratch) parseObject(raw []byte) (*fastjson.Object, bool) {
	if !utf8.Valid(raw) || fastjson.ValidateBytes(raw) != nil {
		return nil, false
	}
	v, err := s.json.ParseBytes(raw)
	if err != nil {
		return nil, false
	}
	o, err := v.Object()
	return o, err == nil
}

// readPayload picks the claims out of a JSON object by their exact names.
// Like Python's json.loads, a name given twice takes its last value, and an
// earlier value, however wrong, is forgotten.
func readPayload(s *scratch, raw []byte) (payload, error) {
	o, ok := s.parseObject(raw)
	if !ok {
		return payload{}, ErrInvalidClaims
	}
	var user, exp, nbf, iat, sub, jti *fastjson.Value
	var aud, atHash bool
	o.Visit(func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "user":
			user = v
		case "exp":
			exp = v
		case "nbf":
			nbf = v
		case "iat":
			iat = v
		case "aud":
			aud = true
		case "sub":
			sub = v
		case "jti":
			jti = v
		case "at_hash":
			atHash = true
		}
	})
	var p payload
	var err error
	if p.Exp, err = numericDateClaim(exp); err != nil {
		return payload{}, err
	}
	if p.Nbf, err = numericDateClaim(nbf); err != nil {
		return payload{}, err
	}
	if p.Iat, err = numericDateClaim(iat); err != nil {
		return payload{}, err
	}
	if p.User, err = userClaim(s, user); err != nil {
		return payload{}, err
	}
	// python-jose's checks when given no audience, issuer, subject or
	// access token, in its order: an aud names an audience we cannot be
	// (so even null or [] is refused), sub and jti must be strings if
	// present (null is not), and an at_hash binds the token to an access
	// token we do not have. iss is not looked at. These come before the
	// checks of time, as a token refused here is refused forever.
	switch {
	case aud:
		return payload{}, ErrAudience
	case sub != nil && sub.Type() != fastjson.TypeString:
		return payload{}, ErrInvalidSubject
	case jti != nil && jti.Type() != fastjson.TypeString:
		return payload{}, ErrInvalidJTI
	case atHash:
		return payload{}, ErrAtHash
	}
	return p, nil
}

// userClaim reads the user claim: a JSON string, or null or absent (which
// checkClaims refuses later, as a blank user).
//
// A user whose JSON text escapes half of a UTF-16 surrogate pair without
// the other half is refused. Python keeps such a string as written, but
// fastjson decodes it on a best-effort basis: the JSON text "\ud800" comes
// out as the six characters \ud800, as "\\ud800" does, and "\ud800\u0041"
// as U+FFFD (the A is lost), as "\ufffd" does. Two spellings would then be
// one user, to the allow-list and to whoever reads the claims. Only the
// raw JSON text tells them apart, and fastjson keeps it only until Type
// decodes the string in place: hence the copy first.
func userClaim(s *scratch, v *fastjson.Value) (optional[string], error) {
	if v == nil {
		return optional[string]{}, nil
	}
	s.user = v.MarshalTo(s.user[:0])
	switch v.Type() {
	case fastjson.TypeString:
		if hasLoneSurrogate(s.user) {
			return optional[string]{}, ErrInvalidUser
		}
		return optional[string]{string(v.GetStringBytes()), true}, nil
	case fastjson.TypeNull:
		return optional[string]{}, nil
	}
	return optional[string]{}, ErrInvalidUser
}

// hasLoneSurrogate reports whether the JSON string text s (valid JSON, as
// parseObject checked) has a \u escape of a UTF-16 surrogate that is not
// half of a high-low pair.
func hasLoneSurrogate(s []byte) bool {
	for {
		i := bytes.IndexByte(s, '\\')
		if i < 0 || i+1 >= len(s) {
			return false
		}
		if s[i+1] != 'u' {
			s = s[i+2:] // a one-character escape, \\ included
			continue
		}
		r, ok := hex4(s[i+2:])
		if !ok {
			return true
		}
		s = s[i+6:]
		switch {
		case isLowSurrogate(r):
			return true
		case isHighSurrogate(r):
			if len(s) < 2 || s[0] != '\\' || s[1] != 'u' {
				return true
			}
			if r, ok = hex4(s[2:]); !ok || !isLowSurrogate(r) {
				return true
			}
			s = s[6:]
		}
	}
}

func isHighSurrogate(r rune) bool { return 0xd800 <= r && r < 0xdc00 }
func isLowSurrogate(r rune) bool  { return 0xdc00 <= r && r < 0xe000 }

// hex4 reads the four hex digits of a \u escape at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// maxNumericDate bounds NumericDates to the integers a float64 holds
// exactly (about 285 million years either way), so that every value has one
// meaning on every platform.
const maxNumericDate = 1 << 53

// numericDateClaim reads a NumericDate: a JSON number (RFC 7519 §2), never
// a string as jwt.NumericDate would also take. null counts as absent, as
// for a missing (nil) claim.
func numericDateClaim(v *fastjson.Value) (optional[float64], error) {
	if v == nil {
		return optional[float64]{}, nil
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return optional[float64]{}, nil
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err == nil && !math.IsNaN(f) && math.Abs(f) <= maxNumericDate {
			return optional[float64]{f, true}, nil
		}
	}
	return optional[float64]{}, ErrInvalidClaims
}

// numericDate turns a NumericDate into a time, as jwt.NumericDate does.
func numericDate(f float64) time.Time {
	sec, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))).Time
}

func (v *Verifier) checkClaims(s *scratch, seg string, now time.Time) (Claims, error) {
	raw, err := s.decode(seg)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	p, err := readPayload(s, raw)
	if err != nil {
		return Claims{}, err
	}
	if !p.Exp.ok {
		return Claims{}, ErrNoExpiry
	}
	c := Claims{ExpiresAt: numericDate(p.Exp.v)}
	if p.Nbf.ok {
		c.NotBefore = numericDate(p.Nbf.v)
	}
	if p.Iat.ok {
		c.IssuedAt = numericDate(p.Iat.v)
	}
	// NumericDates name whole seconds and python-jose compares them with
	// the current whole second, so a token is valid through its exp second
	// (exp == now is valid) and valid from its nbf second on.
	sec := now.Truncate(time.Second)
	if sec.After(c.ExpiresAt.Add(v.leeway)) {
		return Claims{}, ErrExpired
	}
	if p.Nbf.ok && c.NotBefore.Add(-v.leeway).After(sec) {
		return Claims{}, ErrNotYetValid
	}
	if p.Iat.ok && c.IssuedAt.Add(-v.leeway).After(sec) {
		return Claims{}, ErrNotYetValid
	}
	if !p.User.ok || strings.TrimSpace(p.User.v) == "" || !utf8.ValidString(p.User.v) {
		return Claims{}, ErrInvalidUser
	}
	if v.users != nil {
		if _, ok := v.users[p.User.v]; !ok {
			return Claims{}, ErrUserNotAllowed
		}
	}
	c.User = p.User.v
	return c, nil
}
