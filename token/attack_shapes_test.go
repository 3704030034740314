package token_test

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/token"
)

// The hostile token shapes of the demo's attack suite
// (cmd/tokengate-demo/attack_cases_test.go) that only the Verifier judges
// and that the other tables here did not already hold. They need no
// server, so they live here; the attack suite keeps, for each answer a
// client can get, a token that earns it, and every case where the servers
// take part (headers, metadata, sizes, URLs in headers, configured
// secrets, users echoed back or logged).

// TestVerifyAttackHeaders: every token is validly HMAC-SHA256-signed with
// the secret unless the case says otherwise, so the header alone decides.
func TestVerifyAttackHeaders(t *testing.T) {
	t.Parallel()
	payload := b64(aliceJSON)
	withKey := func(secret, headerJSON string) string { return hs256([]byte(secret), b64(headerJSON), payload) }
	runVerifyCases(t, []verifyCase{
		{name: "header members in another order", tok: withHeader(`{"typ":"JWT","alg":"HS256"}`), want: alice},

		{name: "alg NONE", tok: withHeader(`{"alg":"NONE","typ":"JWT"}`), wantErr: token.ErrAlgorithm},
		{name: "alg ES256 over an HMAC-SHA256", tok: withHeader(`{"alg":"ES256","typ":"JWT"}`), wantErr: token.ErrAlgorithm},
		{name: "alg with a trailing space", tok: withHeader(`{"alg":"HS256 ","typ":"JWT"}`), wantErr: token.ErrAlgorithm},
		{name: "alg a JSON array", tok: withHeader(`{"alg":["HS256"],"typ":"JWT"}`), wantErr: token.ErrMalformed},
		{name: "header JSON with unquoted names", tok: withHeader(`{alg:HS256}`), wantErr: token.ErrMalformed},
		{name: "alg none with a random 32-byte signature", tok: b64(`{"alg":"none","typ":"JWT"}`) + "." + payload + "." + b64("not a signature at all, 32 byte"), wantErr: token.ErrSignatureInvalid},

		// Duplicate members: the last one counts, as in Python's json.
		{name: "alg twice, none then HS256", tok: withHeader(`{"alg":"none","alg":"HS256"}`), want: alice},
		{name: "alg twice, HS256 then none", tok: withHeader(`{"alg":"HS256","alg":"none"}`), wantErr: token.ErrAlgorithm},
		// Header parameter names are case-sensitive (RFC 7515 §4): ALG is
		// not alg, and alg is required (§4.1.1); python-jose reads
		// header["alg"] exactly.
		{name: "ALG and no alg", tok: withHeader(`{"ALG":"HS256","typ":"JWT"}`), wantErr: token.ErrAlgorithm},
		{name: "alg HS256 then Alg none", tok: withHeader(`{"alg":"HS256","Alg":"none","typ":"JWT"}`), want: alice},

		// Embedded keys and kid tricks change nothing: the key is the secret.
		{name: "embedded jwk, signed with that key", tok: withKey("attacker-key", `{"alg":"HS256","typ":"JWT","jwk":{"kty":"oct","k":"`+b64("attacker-key")+`"}}`), wantErr: token.ErrSignatureInvalid},
		{name: "kid path traversal to /dev/null, signed with an empty key", tok: withKey("", `{"alg":"HS256","typ":"JWT","kid":"../../../../../../dev/null"}`), wantErr: token.ErrSignatureInvalid},
		{name: "kid SQL injection, signed with the injected key", tok: withKey("k", `{"alg":"HS256","typ":"JWT","kid":"x' UNION SELECT 'k'--"}`), wantErr: token.ErrSignatureInvalid},
		// RFC 7515 §4.1.11 says a recipient must reject a crit extension it
		// does not understand; like python-jose, tokengate ignores crit.
		{name: "crit with an unknown extension", tok: withHeader(`{"alg":"HS256","typ":"JWT","crit":["x-unknown"],"x-unknown":true}`), want: alice},
	})
}

// TestVerifyAttackSegments: segments taken from a valid token and put
// together wrongly, and signatures that are not the token's own.
func TestVerifyAttackSegments(t *testing.T) {
	t.Parallel()
	good := signed(t, testSecret, alice)
	parts := strings.Split(good, ".")
	header, payload, sig := parts[0], parts[1], parts[2]
	if len(sig) != 43 {
		t.Fatalf("signature %q is not 43 characters: the cut cases below assume it", sig)
	}
	rawSig, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), rawSig...)
	flipped[0] ^= 1
	bob := signed(t, testSecret, token.Claims{User: "bob", ExpiresAt: testExp})
	runVerifyCases(t, []verifyCase{
		{name: "two segments, header and signature", tok: header + "." + sig, wantErr: token.ErrMalformed},
		{name: "two segments, header and payload", tok: header + "." + payload, wantErr: token.ErrMalformed},
		{name: "five segments (JWE shape)", tok: header + "." + payload + "." + payload + "." + payload + "." + sig, wantErr: token.ErrMalformed},
		// The header segment needs no padding: "=" there is no padding at all.
		{name: "header segment with a needless =", tok: header + "=." + payload + "." + sig, wantErr: token.ErrMalformed},
		// 40 characters: 30 bytes, no spare bits, so it decodes.
		{name: "signature cut by 3 characters", tok: good[:len(good)-3], wantErr: token.ErrSignatureInvalid},
		// 41 characters cannot be base64.
		{name: "signature cut by 2 characters", tok: good[:len(good)-2], wantErr: token.ErrMalformed},
		{name: "one bit of the signature flipped", tok: header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(flipped), wantErr: token.ErrSignatureInvalid},
		{name: "signature of another token", tok: header + "." + payload + "." + strings.Split(bob, ".")[2], wantErr: token.ErrSignatureInvalid},
		{name: "signed with an empty key", tok: hs256(nil, header, payload), wantErr: token.ErrSignatureInvalid},
		{name: "signed with the secret and a newline", tok: hs256(append(append([]byte(nil), testSecret...), '\n'), header, payload), wantErr: token.ErrSignatureInvalid},
	})
}

// TestVerifyAttackClaims: payloads validly signed with the secret.
func TestVerifyAttackClaims(t *testing.T) {
	t.Parallel()
	exp := strconv.FormatInt(testExp.Unix(), 10)
	past := strconv.FormatInt(testNow.Add(-time.Hour).Unix(), 10)
	claimsOf := func(user string) token.Claims { return token.Claims{User: user, ExpiresAt: testExp} }
	runVerifyCases(t, []verifyCase{
		{name: "exp in the year 9999", tok: withPayload(`{"user":"alice","exp":253402300799}`), want: token.Claims{User: "alice", ExpiresAt: time.Unix(253402300799, 0)}},
		// Beyond 2^53 seconds a NumericDate has no exact meaning, in either
		// direction: refused as a bad claim rather than taken for "long ago".
		{name: "exp -1e300", tok: withPayload(`{"user":"alice","exp":-1e300}`), wantErr: token.ErrInvalidClaims},

		{name: "user of Unicode spaces only", tok: withPayload(`{"user":" \t\n` + "\u00a0\u3000" + `","exp":` + exp + `}`), wantErr: token.ErrInvalidUser},
		{name: "user with a NUL escape", tok: withPayload(`{"user":"alice\u0000","exp":` + exp + `}`), want: claimsOf("alice\x00")},

		{name: "payload two JSON objects", tok: withPayload(aliceJSON + `{"user":"admin","exp":` + exp + `}`), wantErr: token.ErrInvalidClaims},
		{name: "payload whitespace only", tok: withPayload(`  `), wantErr: token.ErrInvalidClaims},

		// Claim names are case-sensitive: only "user", "exp", "nbf", "iat"
		// exactly.
		{name: "USER then user", tok: withPayload(`{"USER":"admin","user":"alice","exp":` + exp + `}`), want: alice},
		{name: "uſer (long s) without user", tok: withPayload(`{"uſer":"admin","exp":` + exp + `}`), wantErr: token.ErrInvalidUser},
		{name: "EXP without exp", tok: withPayload(`{"user":"alice","EXP":` + exp + `}`), wantErr: token.ErrNoExpiry},
		{name: "exp past and Exp future", tok: withPayload(`{"user":"alice","exp":` + past + `,"Exp":` + exp + `}`), wantErr: token.ErrExpired},
		{name: "NBF in the future is not nbf", tok: withPayload(`{"user":"alice","exp":` + exp + `,"NBF":` + exp + `}`), want: alice},
	})
}
