package token

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fastjson"
)

// checkHeader refuses a header whose alg is not HS256. The signature has
// been checked by then, with HS256 whatever the header says.
func checkHeader(s *scratch, seg string) error {
	raw, err := s.decode(seg)
	if err != nil {
		return ErrMalformed
	}
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
// as Brevia ignores them, except those readPayload refuses.
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

// parseObject validates raw as strict JSON text in UTF-8 and returns the
// object it holds, or false if it holds anything else. The object is valid
// until s parses again.
//
// fastjson rather than encoding/json: it is several times faster on a
// verifier's hot path, and its keys match exactly, as Python's dict does
// (see the package doc).
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

// maxNumericDate bounds NumericDates, which must be below it in size: the
// integers a float64 holds exactly (about 285 million years either way), so
// that every value has one meaning on every platform.
const maxNumericDate = 1 << 53

// maxNumericDateText bounds how a NumericDate may be written: strconv
// rounds numbers of more than about 800 significant digits wrongly
// (golang/go#42436), and no date needs more than a few dozen characters.
const maxNumericDateText = 64

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
		// An integer as it is (the usual case, without allocating);
		// any other number from its own text, parsed by strconv, which
		// rounds correctly: fastjson's Float64 reads some exponent forms
		// a hair low (0.169999996e10 as 1699999959.9999998), and whole
		// seconds would then lose one.
		// Every date must be below 2^53 in size, however it is written.
		// An integer is bounded before it becomes a float64, which would
		// round 2^53+1 down to 2^53; another number is bounded once
		// parsed, so one that rounds to 2^53 is refused too.
		if i, err := v.Int64(); err == nil {
			if i > -maxNumericDate && i < maxNumericDate {
				return optional[float64]{float64(i), true}, nil
			}
		} else if raw := v.MarshalTo(nil); len(raw) <= maxNumericDateText {
			f, err := strconv.ParseFloat(string(raw), 64)
			if err == nil && !math.IsNaN(f) && math.Abs(f) < maxNumericDate {
				return optional[float64]{f, true}, nil
			}
		}
	}
	return optional[float64]{}, ErrInvalidClaims
}

// numericDate turns a NumericDate into a time, in whole seconds (rounded
// down), as jwt.NumericDate does at its default precision. It does not go
// through jwt.NewNumericDate, whose precision is a global
// (jwt.TimePrecision) that any package in the program may change: a
// verdict must not depend on it.
func numericDate(f float64) time.Time {
	return time.Unix(int64(math.Floor(f)), 0)
}

// checkClaims decodes and reads the payload segment and applies the rules
// of time and user at now.
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
	// Compared in whole seconds, so exp == now is valid (see the package
	// doc); the cache's cacheEntry.servable makes the same test.
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
	if !p.User.ok || ValidUser(p.User.v) != nil {
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
