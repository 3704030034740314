package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// MaxSize is the largest token, in bytes, that Verify looks at. Anything
// larger is rejected with ErrTooLarge before any decoding.
const MaxSize = 8 << 10

// MinSecretSize is the secret length below which callers should warn: HS256
// wants at least as many key bytes as its 32-byte output (RFC 7518 §3.2).
const MinSecretSize = 32

// Errors returned by Sign and Verify. They carry no token text, so they are
// safe to log and to return to a caller. Test them with errors.Is.
var (
	ErrNoSecret         = errors.New("token: no secret configured")
	ErrMissing          = errors.New("token: missing")
	ErrTooLarge         = errors.New("token: larger than 8 KiB")
	ErrMalformed        = errors.New("token: malformed, not a JWS compact token")
	ErrAlgorithm        = errors.New("token: algorithm must be HS256")
	ErrSignatureInvalid = errors.New("token: signature does not match")
	ErrInvalidClaims    = errors.New("token: claims are not valid JSON of the expected types")
	ErrNoExpiry         = errors.New("token: exp claim required")
	ErrExpired          = errors.New("token: expired")
	ErrNotYetValid      = errors.New("token: not valid yet")
	ErrInvalidUser      = errors.New("token: user claim must be a non-blank string")
	ErrUserNotAllowed   = errors.New("token: user not allowed")

	// The registered claims python-jose refuses when, as in Brevia, it is
	// given no audience and no access token to check them against.
	ErrAudience       = errors.New("token: aud claim not accepted (no audience is configured)")
	ErrInvalidSubject = errors.New("token: sub claim must be a string")
	ErrInvalidJTI     = errors.New("token: jti claim must be a string")
	ErrAtHash         = errors.New("token: at_hash claim not accepted (no access token to check it against)")
)

// Claims are what a token asserts: who the caller is and until when.
// IssuedAt and NotBefore are zero when the token does not carry them.
type Claims struct {
	User      string
	ExpiresAt time.Time
	IssuedAt  time.Time
	NotBefore time.Time
}

// headerSegment is base64url({"alg":"HS256","typ":"JWT"}), the header Brevia
// (python-jose) and golang-jwt both write. Tokens carrying it skip header
// decoding entirely.
const headerSegment = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// Sign makes an HS256 token for c.User that expires at c.ExpiresAt (and
// carries iat when c.IssuedAt is set, nbf when c.NotBefore is set).
//
// The payload is written byte for byte as Brevia's create_token writes it:
// {"user":"…","exp":…} with no spaces and non-ASCII escaped as \uXXXX, so a
// token made here with a given clock equals the one Brevia would make.
func Sign(secret []byte, c Claims) (string, error) {
	if len(secret) == 0 {
		return "", ErrNoSecret
	}
	if err := ValidUser(c.User); err != nil {
		return "", err
	}
	if c.ExpiresAt.IsZero() {
		return "", ErrNoExpiry
	}
	payload := make([]byte, 0, 64+len(c.User))
	payload = append(payload, `{"user":`...)
	payload = appendPythonJSONString(payload, c.User)
	payload = append(payload, `,"exp":`...)
	payload = strconv.AppendInt(payload, c.ExpiresAt.Unix(), 10)
	if !c.IssuedAt.IsZero() {
		payload = append(payload, `,"iat":`...)
		payload = strconv.AppendInt(payload, c.IssuedAt.Unix(), 10)
	}
	if !c.NotBefore.IsZero() {
		payload = append(payload, `,"nbf":`...)
		payload = strconv.AppendInt(payload, c.NotBefore.Unix(), 10)
	}
	payload = append(payload, '}')

	signingString := headerSegment + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodHS256.Sign(signingString, secret)
	if err != nil {
		return "", err
	}
	return signingString + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Issue makes a token for user valid for ttl from now, the way Brevia's
// create_token does (claims user and exp only).
func Issue(secret []byte, user string, ttl time.Duration, now time.Time) (string, Claims, error) {
	if ttl <= 0 {
		return "", Claims{}, errors.New("token: duration must be positive")
	}
	c := Claims{User: user, ExpiresAt: now.Add(ttl).Truncate(time.Second)}
	tok, err := Sign(secret, c)
	if err != nil {
		return "", Claims{}, err
	}
	return tok, c, nil
}

// appendPythonJSONString appends s as Python's json.dumps (ensure_ascii=True)
// writes it: only ", \ and control characters escaped besides non-ASCII,
// which becomes \uXXXX (UTF-16 surrogate pairs above U+FFFF). Go's
// encoding/json differs (it escapes <, >, & and keeps non-ASCII), which would
// change the signed bytes.
func appendPythonJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	appendU := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r < 0x20 || (r >= 0x7f && r <= 0xffff):
			b = appendU(b, r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			b = appendU(appendU(b, r1), r2)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// ValidUser returns ErrInvalidUser unless user can be a token's user as
// Brevia judges one: not blank once stripped of white space as Python's
// str.strip strips it (Go's unicode.IsSpace and U+001C to U+001F, which
// Python counts and Go does not), and valid UTF-8 (a token carries text;
// invalid bytes would be signed as U+FFFD, another user). Sign, the
// verifier, create_token and the minting credentials all ask it.
func ValidUser(user string) error {
	if !utf8.ValidString(user) || strings.TrimFunc(user, isPythonSpace) == "" {
		return ErrInvalidUser
	}
	return nil
}

// isPythonSpace reports whether Python's str.isspace holds for r.
func isPythonSpace(r rune) bool {
	return unicode.IsSpace(r) || 0x1c <= r && r <= 0x1f
}

// BreviaVerifiesWith reports whether python-jose, Brevia's JWT library,
// verifies with secret as it is. Before it verifies (not when it signs),
// python-jose reads its key as JSON when it can, keeping numbers as text: a
// secret that is a JSON string, object or array, true, false or null (NaN
// and Infinity included, which Python's JSON takes), or a number with
// blanks around it, becomes another key there, and Brevia refuses every
// token signed with the secret, its own included. It also refuses, even to
// sign with, a key that holds a PEM public key or certificate header or
// "ssh-rsa". tokengate always uses the secret's bytes. A hex secret
// (openssl rand -hex 32) is fine: its leading zeros or letters make it no
// JSON, or its digits one number read as the same text.
func BreviaVerifiesWith(secret []byte) bool {
	for _, s := range []string{"-----BEGIN PUBLIC KEY-----", "-----BEGIN RSA PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----", "ssh-rsa"} {
		if bytes.Contains(secret, []byte(s)) {
			return false
		}
	}
	// Python's JSON, for the question asked: NaN and Infinity are values
	// (a value of their own: " 0 ", so that "1NaN" stays two values and
	// "NaN.1" a value and more).
	if !json.Valid(pythonConstants.ReplaceAll(secret, []byte(" 0 "))) {
		return true // not JSON to Python either: used as it is
	}
	if !json.Valid(secret) {
		return false // JSON with NaN or Infinity: a float, or in a container
	}
	c := secret[0]
	number := c == '-' || '0' <= c && c <= '9'
	// A number read as the same text: no JSON white space around it.
	return number && len(bytes.Trim(secret, " \t\n\r")) == len(secret)
}

// pythonConstants are the words Python's json.loads reads as numbers.
var pythonConstants = regexp.MustCompile(`-?Infinity|NaN`)
