package token_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tokengate/tokengate/token"
)

// sentinels are every error Verify may return.
var sentinels = []error{
	token.ErrNoSecret, token.ErrMissing, token.ErrTooLarge, token.ErrMalformed,
	token.ErrAlgorithm, token.ErrSignatureInvalid, token.ErrInvalidClaims,
	token.ErrNoExpiry, token.ErrExpired, token.ErrNotYetValid,
	token.ErrInvalidUser, token.ErrUserNotAllowed,
	token.ErrAudience, token.ErrInvalidSubject, token.ErrInvalidJTI, token.ErrAtHash,
}

// FuzzVerify: whatever the input, Verify does not panic, fails with one of
// the sentinels, answers the same the second time (from the cache or not),
// and accepts nothing that is not a compact JWS signed with one of its
// secrets, checked here with crypto/hmac independently of the package, nor
// anything python-jose would refuse for its aud, at_hash, sub or jti, nor
// for another user than encoding/json reads, checked with encoding/json.
func FuzzVerify(f *testing.F) {
	vs := loadJoseVectors(f)
	for _, vec := range vs.Vectors {
		f.Add(vec.Token)
	}
	f.Add(goldenToken)
	// Other spellings of the golden signature, which a lax base64 decoder
	// accepts: they must not be.
	f.Add(nonCanonical(goldenToken))
	f.Add(insertAt(goldenToken, 10, "\n"))
	f.Add(insertAt(goldenToken, 10, "\r\n"))
	secrets := [][]byte{[]byte(vs.Secret), []byte(goldenSecret)}
	// At this second the golden vector is valid, and so are the vectors
	// that are valid in the file.
	now := time.Unix(goldenExp, 0)
	nbf, err := token.Sign(secrets[0], token.Claims{User: "gustavo", ExpiresAt: now.Add(time.Hour), NotBefore: now, IssuedAt: now})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(nbf)
	// The payloads python-jose judged, signed with the secret: valid tokens
	// with registered claims, and ones refused for them.
	for _, vec := range loadJoseRegisteredClaims(f).Vectors {
		f.Add(hs256(secrets[0], b64(standardHeader), b64(vec.Payload)))
	}

	f.Fuzz(func(t *testing.T, tok string) {
		v, err := token.NewVerifier(secrets[0], token.WithPreviousSecrets(secrets[1]), fixedClock(now))
		if err != nil {
			t.Fatal(err)
		}
		c, err := claimsOf(v.Verify(tok))
		again, errAgain := claimsOf(v.Verify(tok))
		if again != c || !errors.Is(errAgain, err) || (err == nil) != (errAgain == nil) {
			t.Fatalf("second Verify = %+v, %v; first was %+v, %v", again, errAgain, c, err)
		}
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Verify error %v is not one of the sentinels", err)
			}
			return
		}

		if !isCompactJWS(tok) {
			t.Fatalf("accepted %q, which is not three segments of base64url", tok)
		}
		dot := strings.LastIndexByte(tok, '.')
		if !signedWithOneOf(tok[:dot], tok[dot+1:], secrets) {
			t.Fatalf("accepted %q, which is not HS256-signed with any of the secrets", tok)
		}
		if pythonBlank(c.User) || c.ExpiresAt.IsZero() || c.ExpiresAt.Before(now) {
			t.Fatalf("accepted %q with claims %+v", tok, c)
		}
		header, payload, _ := strings.Cut(tok[:dot], ".")
		if alg := headerAlg(t, header); alg != "HS256" {
			t.Fatalf("accepted %q whose header names alg %q", tok, alg)
		}
		claims := payloadClaims(t, payload)
		if user, _ := claims["user"].(string); user != c.User {
			t.Fatalf("accepted %q for user %q, which encoding/json reads as %q", tok, c.User, user)
		}
		for _, name := range []string{"aud", "at_hash"} {
			if _, ok := claims[name]; ok {
				t.Fatalf("accepted %q, which carries %s", tok, name)
			}
		}
		for _, name := range []string{"sub", "jti"} {
			if v, ok := claims[name]; ok {
				if _, isString := v.(string); !isString {
					t.Fatalf("accepted %q, whose %s is %v", tok, name, v)
				}
			}
		}
	})
}

// FuzzCacheAgreesWithVerify: a token verified once, and so cached, gets
// at any later call exactly the verdict a Verifier without a cache gives it,
// whatever its exp, nbf and iat (whole or fractional seconds, each present
// or not), the leeway, and the times of the two calls (the second may be
// earlier than the first: a clock that went back).
func FuzzCacheAgreesWithVerify(f *testing.F) {
	f.Add(int32(3600_000), int32(0), int32(0), uint8(0b011), uint32(0), int32(0), int32(-600_000))
	f.Add(int32(3600_000), int32(1_500), int32(-500), uint8(0b111), uint32(1_500), int32(10_000), int32(1_250))
	f.Add(int32(1_000), int32(0), int32(0), uint8(0), uint32(5_000), int32(0), int32(5_999))
	f.Fuzz(func(t *testing.T, expMs, nbfMs, iatMs int32, flags uint8, leewayMs uint32, firstMs, thenMs int32) {
		const base = 1_700_000_000
		date := func(ms int32) string {
			if flags&0b100 != 0 { // fractional seconds
				return strconv.FormatFloat(base+float64(ms)/1000, 'f', -1, 64)
			}
			return strconv.FormatInt(base+int64(ms)/1000, 10)
		}
		payload := `{"user":"ana","exp":` + date(expMs)
		if flags&0b001 != 0 {
			payload += `,"nbf":` + date(nbfMs)
		}
		if flags&0b010 != 0 {
			payload += `,"iat":` + date(iatMs)
		}
		tok := hs256(testSecret, b64(standardHeader), b64(payload+`}`))
		leeway := time.Duration(leewayMs%uint32(token.MaxLeeway/time.Millisecond+1)) * time.Millisecond
		at := func(ms int32) time.Time { return time.Unix(base, 0).Add(time.Duration(ms) * time.Millisecond) }
		cached, err := token.NewVerifier(testSecret, token.WithLeeway(leeway))
		if err != nil {
			t.Fatal(err)
		}
		uncached, err := token.NewVerifier(testSecret, token.WithLeeway(leeway), token.WithCacheSize(-1))
		if err != nil {
			t.Fatal(err)
		}
		cached.VerifyAt(tok, at(firstMs)) // cached when valid then
		got, gotErr := claimsOf(cached.VerifyAt(tok, at(thenMs)))
		want, wantErr := claimsOf(uncached.VerifyAt(tok, at(thenMs)))
		if got != want || (gotErr == nil) != (wantErr == nil) || !errors.Is(gotErr, wantErr) {
			t.Fatalf("%s, leeway %v, verified at %v then at %v: with the cache %+v, %v; without %+v, %v",
				payload, leeway, at(firstMs), at(thenMs), got, gotErr, want, wantErr)
		}
	})
}

// FuzzVerifyUser: a user is accepted as exactly the string Python's
// json.loads reads from its JSON text, and refused only when that text
// escapes half of a UTF-16 surrogate pair (which Python would keep, and
// which fastjson alone would read as another user's name) or the string is
// blank. The fuzzer writes the text between the quotes.
func FuzzVerifyUser(f *testing.F) {
	for _, s := range []string{
		"alice", "g\\u00f9<&>", "gù", " ", "", "a\\\"b\\/",
		"\\ud83d\\ude00", "\\uD83D\\uDE00", "\\ufffd", "\\\\ud800",
		"\\ud800", "\\udc00", "\\ud800\\u0041", "\\ud800\\n", "\\ude00\\ud83d", "\\\\\\ud800", "\\ud83d😀",
	} {
		f.Add(s)
	}
	exp := strconv.FormatInt(testExp.Unix(), 10)
	v, err := token.NewVerifier(testSecret, fixedClock(testNow), token.WithCacheSize(-1))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		want, loneSurrogate, ok := pythonJSONString(text)
		if !ok || len(text) > token.MaxSize/2 {
			return // not the text of one JSON string, or too long for a token
		}
		c, err := claimsOf(v.Verify(withPayload(`{"user":"` + text + `","exp":` + exp + `}`)))
		switch {
		case loneSurrogate || pythonBlank(want):
			if !errors.Is(err, token.ErrInvalidUser) {
				t.Fatalf("user %q: Verify = %+v, %v; want ErrInvalidUser", text, c, err)
			}
		case err != nil || c.User != want:
			t.Fatalf("user %q: Verify = %q, %v; want %q", text, c.User, err, want)
		}
	})
}

// pythonJSONString reads text as the inside of a JSON string, as Python's
// json.loads does: \u escapes are UTF-16 code units, a high one followed
// by a low one makes one character and any other surrogate is kept alone
// (reported by loneSurrogate, and written as U+FFFD in s). ok is false if
// text is not such an inside: a bare quote or control character, an unknown
// escape, or invalid UTF-8.
func pythonJSONString(text string) (s string, loneSurrogate, ok bool) {
	if !utf8.ValidString(text) {
		return "", false, false
	}
	var units []uint16
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		switch {
		case r == '"' || r < 0x20:
			return "", false, false
		case r != '\\':
			units = utf16.AppendRune(units, r)
		case i < len(text) && jsonEscapes[text[i]] != 0:
			units = append(units, jsonEscapes[text[i]])
			i++
		case i+5 <= len(text) && text[i] == 'u':
			u, err := strconv.ParseUint(text[i+1:i+5], 16, 16)
			if err != nil {
				return "", false, false
			}
			units = append(units, uint16(u))
			i += 5
		default:
			return "", false, false
		}
	}
	runes := utf16.Decode(units)
	return string(runes), !slices.Equal(utf16.Encode(runes), units), true
}

// jsonEscapes maps the character after a backslash to what it stands for,
// \u escapes aside.
var jsonEscapes = map[byte]uint16{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// payloadClaims decodes an accepted token's payload with encoding/json,
// which, like Python, keeps the last value of a name given twice.
func payloadClaims(t *testing.T, segment string) map[string]any {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(segment)
	if err != nil {
		t.Fatalf("accepted a token whose payload %q is not base64url: %v", segment, err)
	}
	// Numbers as json.Number: an ignored claim may be too large for a float64.
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var claims map[string]any
	if err := d.Decode(&claims); err != nil {
		t.Fatalf("accepted a token whose payload %s is not a JSON object: %v", raw, err)
	}
	return claims
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// isCompactJWS reports whether tok is three non-empty segments of
// base64url characters, with no padding, spaces or anything else.
func isCompactJWS(tok string) bool {
	segments := strings.Split(tok, ".")
	if len(segments) != 3 {
		return false
	}
	for _, s := range segments {
		if s == "" || strings.TrimLeft(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return false
		}
	}
	return true
}

// signedWithOneOf reports whether signature is exactly the base64url of
// HMAC-SHA256(secret, signingString) for one of the secrets.
func signedWithOneOf(signingString, signature string, secrets [][]byte) bool {
	for _, secret := range secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(signingString))
		want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		if hmac.Equal([]byte(signature), []byte(want)) {
			return true
		}
	}
	return false
}

func headerAlg(t *testing.T, segment string) string {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(segment)
	if err != nil {
		t.Fatalf("accepted a token whose header %q is not base64url: %v", segment, err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("accepted a token whose header %s is not a JSON object: %v", raw, err)
	}
	alg, _ := h["alg"].(string)
	return alg
}

// pythonSpace is every character for which Python's str.isspace holds
// (bidirectional class WS, B or S, or category Zs), listed here rather
// than derived from Go's unicode.IsSpace, which lacks U+001C to U+001F.
const pythonSpace = "\t\n\v\f\r\x1c\x1d\x1e\x1f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

// pythonBlank reports whether Python's s.strip() is empty: Brevia's blank
// user.
func pythonBlank(s string) bool { return strings.Trim(s, pythonSpace) == "" }
