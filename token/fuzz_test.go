package token_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/token"
)

// sentinels are every error Verify may return.
var sentinels = []error{
	token.ErrNoSecret, token.ErrMissing, token.ErrTooLarge, token.ErrMalformed,
	token.ErrAlgorithm, token.ErrSignatureInvalid, token.ErrInvalidClaims,
	token.ErrNoExpiry, token.ErrExpired, token.ErrNotYetValid,
	token.ErrInvalidUser, token.ErrUserNotAllowed,
}

// FuzzVerify: whatever the input, Verify does not panic, fails with one of
// the sentinels, answers the same the second time (from the cache or not),
// and accepts nothing that is not a compact JWS signed with one of its
// secrets, checked here with crypto/hmac independently of the package.
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

	f.Fuzz(func(t *testing.T, tok string) {
		v, err := token.NewVerifier(secrets[0], token.WithPreviousSecrets(secrets[1]), fixedClock(now))
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(tok)
		again, errAgain := v.Verify(tok)
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
		if strings.TrimSpace(c.User) == "" || c.ExpiresAt.IsZero() || c.ExpiresAt.Before(now) {
			t.Fatalf("accepted %q with claims %+v", tok, c)
		}
		header, _, _ := strings.Cut(tok, ".")
		if alg := headerAlg(t, header); alg != "HS256" {
			t.Fatalf("accepted %q whose header names alg %q", tok, alg)
		}
	})
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
