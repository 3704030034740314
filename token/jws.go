package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"slices"
	"strings"
	"sync"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fastjson"
)

// jwsParts is a compact JWS cut at its dots, still encoded. signingString is
// what the signature covers: header.payload.
type jwsParts struct {
	signingString, header, payload, signature string
}

// splitJWS cuts tok into its segments, or reports false if it is not three
// segments of jwsText with a non-empty header and payload (verify refuses
// an empty signature once decoded).
func splitJWS(tok string) (jwsParts, bool) {
	if !isJWSText(tok) {
		return jwsParts{}, false
	}
	dot := strings.LastIndexByte(tok, '.')
	if dot < 0 {
		return jwsParts{}, false
	}
	signingString, signature := tok[:dot], tok[dot+1:]
	header, payload, ok := strings.Cut(signingString, ".")
	if !ok || header == "" || payload == "" || strings.Contains(payload, ".") {
		return jwsParts{}, false
	}
	return jwsParts{signingString, header, payload, signature}, true
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
// in the signature would leave it valid.
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
// with WithStrictDecoding: unpadded base64url whose spare low bits are zero
// (see the package doc). FuzzDecodeSegment holds the two together.
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
