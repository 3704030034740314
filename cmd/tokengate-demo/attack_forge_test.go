package main

// Forging tokens for the attack suite. Tokens are made by hand, base64url
// segments and crypto/hmac, not with the token package: each case must be
// exactly what its name says, including what token.Sign would never write.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"strings"
)

// standardHeader is the header Brevia (python-jose) writes.
const standardHeader = `{"alg":"HS256","typ":"JWT"}`

// b64Segment encodes s as a JWS segment: base64url without padding.
func b64Segment(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// hmacSegment is the signature segment of msg: HMAC newHash under key,
// base64url-encoded.
func hmacSegment(newHash func() hash.Hash, key, msg string) string {
	mac := hmac.New(newHash, []byte(key))
	mac.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// jwsWith signs header.payload (both JSON text, base64url-encoded here)
// with HMAC newHash under key.
func jwsWith(newHash func() hash.Hash, header, payload, key string) string {
	signingInput := b64Segment(header) + "." + b64Segment(payload)
	return signingInput + "." + hmacSegment(newHash, key, signingInput)
}

// jws is a token signed the one accepted way: HMAC-SHA256.
func jws(header, payload, key string) string { return jwsWith(sha256.New, header, payload, key) }

// signRaw signs an already encoded signing string with HMAC-SHA256.
func signRaw(signingString, key string) string {
	return signingString + "." + hmacSegment(sha256.New, key, signingString)
}

// jsonString is s as a JSON string, the way encoding/json writes it.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// payloadJSON is the payload {"user":user,"exp":exp}, user JSON-encoded.
func payloadJSON(user string, exp int64) string {
	return fmt.Sprintf(`{"user":%s,"exp":%d}`, jsonString(user), exp)
}

// segments splits a compact token at its dots.
func segments(tok string) []string { return strings.Split(tok, ".") }

// over8K is a validly signed token one byte over 8 KiB.
func over8K(exp int64) string {
	for n := 6000; n < 6200; n++ {
		if candidate := jws(standardHeader, payloadJSON(strings.Repeat("b", n), exp), testSecret); len(candidate) == 8<<10+1 {
			return candidate
		}
	}
	return jws(standardHeader, payloadJSON(strings.Repeat("b", 6100), exp), testSecret)
}
