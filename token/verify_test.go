package token_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/token"
)

// The secrets of these tests: the current one, the one it replaced, and one
// the Verifier has never heard of.
var (
	testSecret  = []byte("current-secret-7c1f0e9a2b4d6f8a0c2e4f6a8b")
	prevSecret  = []byte("previous-secret-3e5a7c9b1d3f5a7c9e1b3d5f")
	otherSecret = []byte("unknown-secret-9f8e7d6c5b4a39281706f5e4d3")
)

// testNow is the Verifier's clock unless a case says otherwise; tokens
// expire an hour later.
var (
	testNow = time.Unix(1_700_000_000, 0)
	testExp = testNow.Add(time.Hour)
	alice   = token.Claims{User: "alice", ExpiresAt: testExp}
)

// aliceJSON is alice's payload as Sign writes it.
var aliceJSON = `{"user":"alice","exp":` + strconv.FormatInt(testExp.Unix(), 10) + `}`

const standardHeader = `{"alg":"HS256","typ":"JWT"}`

// claimsOf is Verify's answer as claims, for tests that compare them.
func claimsOf(vt token.VerifiedToken, err error) (token.Claims, error) { return vt.Claims(), err }

// signed is token.Sign for tests.
func signed(tb testing.TB, secret []byte, c token.Claims) string {
	tb.Helper()
	tok, err := token.Sign(secret, c)
	if err != nil {
		tb.Fatalf("Sign(%+v): %v", c, err)
	}
	return tok
}

// b64 encodes a segment as JWS does: base64url without padding.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// hs256 joins the header and payload segments exactly as given and appends
// the HMAC-SHA256 of "header.payload" under secret, computed here without
// the package: a token whose signature is right, whatever else is wrong.
func hs256(secret []byte, headerSeg, payloadSeg string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(headerSeg + "." + payloadSeg))
	return headerSeg + "." + payloadSeg + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// withPayload is a correctly signed token with the standard header and a
// hand-written payload.
func withPayload(payloadJSON string) string {
	return hs256(testSecret, b64(standardHeader), b64(payloadJSON))
}

// withHeader is a correctly signed token for alice with a hand-written
// header.
func withHeader(headerJSON string) string {
	return hs256(testSecret, b64(headerJSON), b64(aliceJSON))
}

// golangJWT makes a token with golang-jwt, the way another Go service
// sharing the secret would.
func golangJWT(tb testing.TB, method jwt.SigningMethod, header map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		t.Header[k] = v
	}
	tok, err := t.SignedString(testSecret)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// verifyCase is one row of a decision table: tok, checked by a Verifier
// for testSecret with clock now (testNow if zero) and opts, gives want or
// wantErr.
type verifyCase struct {
	name    string
	tok     string
	now     time.Time
	opts    []token.Option
	want    token.Claims
	wantErr error
}

func runVerifyCases(t *testing.T, cases []verifyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := tc.now
			if now.IsZero() {
				now = testNow
			}
			v, err := token.NewVerifier(testSecret, append([]token.Option{fixedClock(now)}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := claimsOf(v.Verify(tc.tok))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify = %+v, %v; want error %v", got, err, tc.wantErr)
			}
			if err != nil {
				if got != (token.Claims{}) {
					t.Errorf("Verify returned claims %+v with error %v", got, err)
				}
				assertLeaksNothing(t, err, tc.tok)
				return
			}
			assertClaims(t, got, tc.want)
		})
	}
}

func assertClaims(t *testing.T, got, want token.Claims) {
	t.Helper()
	if got.User != want.User || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		!got.IssuedAt.Equal(want.IssuedAt) || !got.NotBefore.Equal(want.NotBefore) {
		t.Errorf("claims = %+v, want %+v", got, want)
	}
}

// assertLeaksNothing checks that err, which may be logged or returned to a
// caller, says nothing of the token or of any secret.
func assertLeaksNothing(t *testing.T, err error, tok string) {
	t.Helper()
	msg := err.Error()
	secrets := []string{string(testSecret), string(prevSecret), string(otherSecret), goldenSecret}
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains a secret", msg)
		}
	}
	if tok != "" && strings.Contains(msg, tok) {
		t.Errorf("error %q contains the token", msg)
	}
	for _, part := range strings.Split(tok, ".") {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Errorf("error %q contains the token segment %q", msg, part)
		}
	}
}

func opts(o ...token.Option) []token.Option { return o }

func TestVerifySecretRotation(t *testing.T) {
	t.Parallel()
	emptyKeyToken := hs256(nil, b64(standardHeader), b64(aliceJSON))
	runVerifyCases(t, []verifyCase{
		{
			name: "current secret",
			tok:  signed(t, testSecret, alice),
			want: alice,
		},
		{
			name: "current secret, with a previous one configured",
			tok:  signed(t, testSecret, alice),
			opts: opts(token.WithPreviousSecrets(prevSecret)),
			want: alice,
		},
		{
			name: "previous secret, accepted during rotation",
			tok:  signed(t, prevSecret, alice),
			opts: opts(token.WithPreviousSecrets(prevSecret)),
			want: alice,
		},
		{
			name:    "previous secret, once rotation is over",
			tok:     signed(t, prevSecret, alice),
			wantErr: token.ErrSignatureInvalid,
		},
		{
			name:    "unknown secret",
			tok:     signed(t, otherSecret, alice),
			opts:    opts(token.WithPreviousSecrets(prevSecret)),
			wantErr: token.ErrSignatureInvalid,
		},
		{
			name: "second of two previous secrets",
			tok:  signed(t, otherSecret, alice),
			opts: opts(token.WithPreviousSecrets(prevSecret, otherSecret)),
			want: alice,
		},
		{
			name: "empty previous secrets are ignored",
			tok:  signed(t, prevSecret, alice),
			opts: opts(token.WithPreviousSecrets(nil, []byte{}, prevSecret)),
			want: alice,
		},
		{
			name:    "an empty previous secret does not admit tokens MACed with an empty key",
			tok:     emptyKeyToken,
			opts:    opts(token.WithPreviousSecrets(nil, []byte{})),
			wantErr: token.ErrSignatureInvalid,
		},
	})
}

func TestVerifyAllowList(t *testing.T) {
	t.Parallel()
	claimsOf := func(user string) token.Claims { return token.Claims{User: user, ExpiresAt: testExp} }
	tokenOf := func(user string) string { return signed(t, testSecret, claimsOf(user)) }
	runVerifyCases(t, []verifyCase{
		{
			name: "listed user",
			tok:  tokenOf("alice"),
			opts: opts(token.WithUsers("alice", "bob")),
			want: alice,
		},
		{
			name:    "unlisted user",
			tok:     tokenOf("carol"),
			opts:    opts(token.WithUsers("alice", "bob")),
			wantErr: token.ErrUserNotAllowed,
		},
		{
			name:    "match is case-sensitive",
			tok:     tokenOf("Alice"),
			opts:    opts(token.WithUsers("alice", "bob")),
			wantErr: token.ErrUserNotAllowed,
		},
		{
			name:    "match is exact: no trimming of the token's user",
			tok:     tokenOf("alice "),
			opts:    opts(token.WithUsers("alice", "bob")),
			wantErr: token.ErrUserNotAllowed,
		},
		{
			name:    "match is exact: no prefix match",
			tok:     tokenOf("ali"),
			opts:    opts(token.WithUsers("alice", "bob")),
			wantErr: token.ErrUserNotAllowed,
		},
		{
			name:    "empty names are ignored, the others still apply",
			tok:     tokenOf("carol"),
			opts:    opts(token.WithUsers("", "alice", "")),
			wantErr: token.ErrUserNotAllowed,
		},
		{
			name: "only empty names: any user",
			tok:  tokenOf("carol"),
			opts: opts(token.WithUsers("", "")),
			want: claimsOf("carol"),
		},
		{
			name: "no names: any user",
			tok:  tokenOf("carol"),
			opts: opts(token.WithUsers()),
			want: claimsOf("carol"),
		},
		{
			name: "several WithUsers add up",
			tok:  tokenOf("bob"),
			opts: opts(token.WithUsers("alice"), token.WithUsers("bob")),
			want: claimsOf("bob"),
		},
		{
			name:    "the allow-list is checked after the signature",
			tok:     signed(t, otherSecret, claimsOf("carol")),
			opts:    opts(token.WithUsers("alice")),
			wantErr: token.ErrSignatureInvalid,
		},
	})
}

// TestVerifyTimeClaims: NumericDates name whole seconds and the Verifier
// compares them with the current whole second, as python-jose does. exp is
// valid through its second, nbf and iat from theirs; leeway widens both.
// A future iat is refused (python-jose would accept it; Brevia never sets iat).
func TestVerifyTimeClaims(t *testing.T) {
	t.Parallel()
	sec := time.Second
	at := func(d time.Duration) time.Time { return testNow.Add(d) }
	withExp := func(exp time.Time) token.Claims { return token.Claims{User: "alice", ExpiresAt: exp} }
	withNbf := func(nbf time.Time) token.Claims {
		return token.Claims{User: "alice", ExpiresAt: testExp, NotBefore: nbf}
	}
	withIat := func(iat time.Time) token.Claims {
		return token.Claims{User: "alice", ExpiresAt: testExp, IssuedAt: iat}
	}
	leeway5s := opts(token.WithLeeway(5 * sec))
	runVerifyCases(t, []verifyCase{
		{name: "exp is now", tok: signed(t, testSecret, withExp(at(0))), want: withExp(at(0))},
		{name: "exp one second ago", tok: signed(t, testSecret, withExp(at(-sec))), wantErr: token.ErrExpired},
		{name: "exp one second ago, leeway 1s", tok: signed(t, testSecret, withExp(at(-sec))), opts: opts(token.WithLeeway(sec)), want: withExp(at(-sec))},
		{name: "exp long ago", tok: signed(t, testSecret, withExp(time.Unix(1, 0))), wantErr: token.ErrExpired},

		{name: "nbf in the past", tok: signed(t, testSecret, withNbf(at(-time.Hour))), want: withNbf(at(-time.Hour))},
		{name: "nbf is now", tok: signed(t, testSecret, withNbf(at(0))), want: withNbf(at(0))},
		{name: "nbf one second ahead", tok: signed(t, testSecret, withNbf(at(sec))), wantErr: token.ErrNotYetValid},
		{name: "nbf one second ahead, clock 999ms short of it", tok: signed(t, testSecret, withNbf(at(sec))), now: at(999 * time.Millisecond), wantErr: token.ErrNotYetValid},
		{name: "nbf 5s ahead, leeway 5s", tok: signed(t, testSecret, withNbf(at(5*sec))), opts: leeway5s, want: withNbf(at(5 * sec))},
		{name: "nbf 6s ahead, leeway 5s", tok: signed(t, testSecret, withNbf(at(6*sec))), opts: leeway5s, wantErr: token.ErrNotYetValid},

		{name: "iat in the past", tok: signed(t, testSecret, withIat(at(-time.Hour))), want: withIat(at(-time.Hour))},
		{name: "iat is now", tok: signed(t, testSecret, withIat(at(0))), want: withIat(at(0))},
		{name: "iat one second ahead", tok: signed(t, testSecret, withIat(at(sec))), wantErr: token.ErrNotYetValid},
		{name: "iat 5s ahead, leeway 5s", tok: signed(t, testSecret, withIat(at(5*sec))), opts: leeway5s, want: withIat(at(5 * sec))},
		{name: "iat 6s ahead, leeway 5s", tok: signed(t, testSecret, withIat(at(6*sec))), opts: leeway5s, wantErr: token.ErrNotYetValid},

		{name: "expired wins over not yet valid", tok: signed(t, testSecret, token.Claims{User: "alice", ExpiresAt: at(-sec), NotBefore: at(sec)}), wantErr: token.ErrExpired},
	})
}

// TestVerifyIgnoresJWTTimePrecision: dates are whole seconds, rounded
// down, whatever golang-jwt's global jwt.TimePrecision says, which any
// package of a program may change. Not parallel: it sets that global, and
// puts it back before the parallel tests resume.
func TestVerifyIgnoresJWTTimePrecision(t *testing.T) {
	old := jwt.TimePrecision
	t.Cleanup(func() { jwt.TimePrecision = old })
	now := testNow
	exp := strconv.FormatInt(testExp.Unix(), 10)
	nbf := strconv.FormatInt(now.Unix(), 10) + ".5" // valid in its whole second
	tok := withPayload(`{"user":"alice","exp":` + exp + `.75,"nbf":` + nbf + `,"iat":` + nbf + `}`)
	want := token.Claims{User: "alice", ExpiresAt: testExp, NotBefore: now, IssuedAt: now}
	for _, p := range []time.Duration{time.Second, time.Millisecond, time.Nanosecond} {
		jwt.TimePrecision = p
		v, err := token.NewVerifier(testSecret, token.WithCacheSize(-1))
		if err != nil {
			t.Fatal(err)
		}
		got, err := claimsOf(v.VerifyAt(tok, now))
		if err != nil || got != want {
			t.Errorf("jwt.TimePrecision %v: %+v, %v; want %+v", p, got, err, want)
		}
	}
}

// tokenOfLength is a valid token, and its claims, exactly n bytes long:
// the user is as many "u" as it takes.
func tokenOfLength(tb testing.TB, n int) (string, token.Claims) {
	tb.Helper()
	// The header takes 36 bytes, the signature 43, the dots 2 and the
	// payload {"user":"…","exp":1700003600} 4/3 of 29 bytes plus the user.
	start := (n-81)*3/4 - 29 - 4
	for u := max(start, 1); u < start+8; u++ {
		c := token.Claims{User: strings.Repeat("u", u), ExpiresAt: testExp}
		if tok := signed(tb, testSecret, c); len(tok) == n {
			return tok, c
		}
	}
	tb.Fatalf("no token of exactly %d bytes", n)
	return "", token.Claims{}
}

func TestVerifySize(t *testing.T) {
	t.Parallel()
	if token.MaxSize != 8<<10 {
		t.Fatalf("MaxSize = %d, want 8 KiB", token.MaxSize)
	}
	largest, largestClaims := tokenOfLength(t, token.MaxSize)
	tooLarge, _ := tokenOfLength(t, token.MaxSize+1)
	runVerifyCases(t, []verifyCase{
		{name: "exactly 8192 bytes is verified", tok: largest, want: largestClaims},
		{name: "8193 bytes, validly signed, is too large", tok: tooLarge, wantErr: token.ErrTooLarge},
		{name: "8193 bytes of garbage is too large, not malformed", tok: strings.Repeat("x", token.MaxSize+1), wantErr: token.ErrTooLarge},
	})
}

// TestVerifyHeader: the signature is checked first, with HS256 whatever the
// header says; then a header other than the standard one must name HS256.
// Every token here is validly HMAC-SHA256-signed with the secret, so it is
// the header alone that decides.
func TestVerifyHeader(t *testing.T) {
	t.Parallel()
	claims := jwt.MapClaims{"user": "alice", "exp": testExp.Unix()}
	runVerifyCases(t, []verifyCase{
		{name: "standard header", tok: withHeader(standardHeader), want: alice},
		{name: "no typ", tok: withHeader(`{"alg":"HS256"}`), want: alice},
		{name: "spaces in the header JSON", tok: withHeader(`{ "alg": "HS256", "typ": "JWT" }`), want: alice},
		{
			name: "kid, jku and x5u are ignored",
			tok: golangJWT(t, jwt.SigningMethodHS256, map[string]any{
				"kid": "other-key",
				"jku": "https://attacker.example/jwks.json",
				"x5u": "https://attacker.example/cert.pem",
			}, claims),
			want: alice,
		},

		{name: "no alg", tok: withHeader(`{"typ":"JWT"}`), wantErr: token.ErrAlgorithm},
		{name: "alg null", tok: withHeader(`{"alg":null,"typ":"JWT"}`), wantErr: token.ErrAlgorithm},
		{name: "alg none", tok: withHeader(`{"alg":"none","typ":"JWT"}`), wantErr: token.ErrAlgorithm},
		{name: "alg HS384 over an HMAC-SHA256", tok: withHeader(`{"alg":"HS384","typ":"JWT"}`), wantErr: token.ErrAlgorithm},
		{name: "alg RS256 over an HMAC-SHA256", tok: withHeader(`{"alg":"RS256","typ":"JWT"}`), wantErr: token.ErrAlgorithm},
		{name: "alg is case-sensitive", tok: withHeader(`{"alg":"hs256","typ":"JWT"}`), wantErr: token.ErrAlgorithm},
		{name: "header not JSON", tok: withHeader(`not json`), wantErr: token.ErrMalformed},
		{name: "header a JSON array", tok: withHeader(`["HS256"]`), wantErr: token.ErrMalformed},

		// Without the secret, no header gets that far.
		{name: "real HS384 signature", tok: golangJWT(t, jwt.SigningMethodHS384, nil, claims), wantErr: token.ErrSignatureInvalid},
		{name: "alg none with an arbitrary signature", tok: b64(`{"alg":"none"}`) + "." + b64(aliceJSON) + ".c2ln", wantErr: token.ErrSignatureInvalid},
		{name: "alg none with no signature", tok: b64(`{"alg":"none"}`) + "." + b64(aliceJSON) + ".", wantErr: token.ErrMalformed},
	})
}

// nonCanonical spells the signature of tok differently without changing
// the bytes it decodes to: its last character carries 4 bits of the
// signature and 2 spare bits, which canonical base64url leaves at zero.
func nonCanonical(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + alphabet[last|1:last|1+1]
}

// insertAt puts s into tok at n bytes from its end.
func insertAt(tok string, n int, s string) string {
	return tok[:len(tok)-n] + s + tok[len(tok)-n:]
}

// TestVerifyShape: a token is three non-empty segments of unpadded
// base64url (RFC 7515 §7.1), with nothing else in it. Where it makes a
// difference, the token is correctly signed with the secret, so that only
// its shape is wrong.
func TestVerifyShape(t *testing.T) {
	t.Parallel()
	good := signed(t, testSecret, alice)
	header, payload := b64(standardHeader), b64(aliceJSON)

	paddedPayloadJSON := `{"user":"alice","exp":1700003600,"x":12}`
	paddedHeaderJSON := `{"alg":"HS256","kid":"a"}`
	stdPayloadJSON := `{"user":"al~ce","exp":1700003600}`
	for _, s := range []string{
		base64.URLEncoding.EncodeToString([]byte(paddedPayloadJSON)),
		base64.URLEncoding.EncodeToString([]byte(paddedHeaderJSON)),
	} {
		if !strings.HasSuffix(s, "=") {
			t.Fatalf("%s has no padding: pick another JSON", s)
		}
	}
	if s := base64.RawStdEncoding.EncodeToString([]byte(stdPayloadJSON)); !strings.ContainsAny(s, "+/") {
		t.Fatalf("%s has no + or /: pick another JSON", s)
	}

	runVerifyCases(t, []verifyCase{
		{name: "well-formed", tok: good, want: alice},

		{name: "no dot", tok: "eyJhbGciOiJIUzI1NiJ9", wantErr: token.ErrMalformed},
		{name: "one dot", tok: ".", wantErr: token.ErrMalformed},
		{name: "two dots only", tok: "..", wantErr: token.ErrMalformed},
		{name: "four segments", tok: hs256(testSecret, header, payload+"."+b64("{}")), wantErr: token.ErrMalformed},
		{name: "four segments, empty one", tok: hs256(testSecret, header, payload+"."), wantErr: token.ErrMalformed},
		{name: "empty header", tok: hs256(testSecret, "", payload), wantErr: token.ErrMalformed},
		{name: "empty payload", tok: hs256(testSecret, header, ""), wantErr: token.ErrMalformed},
		{name: "empty signature", tok: header + "." + payload + ".", wantErr: token.ErrMalformed},

		{name: "padded signature", tok: good + "=", wantErr: token.ErrMalformed},
		{name: "padded payload", tok: hs256(testSecret, header, base64.URLEncoding.EncodeToString([]byte(paddedPayloadJSON))), wantErr: token.ErrMalformed},
		{name: "padded header", tok: hs256(testSecret, base64.URLEncoding.EncodeToString([]byte(paddedHeaderJSON)), payload), wantErr: token.ErrMalformed},

		{name: "standard base64 + in the signature", tok: insertAt(good, 43, "+")[:len(good)], wantErr: token.ErrMalformed},
		{name: "standard base64 / in the signature", tok: insertAt(good, 43, "/")[:len(good)], wantErr: token.ErrMalformed},
		{name: "standard base64 in the payload", tok: hs256(testSecret, header, base64.RawStdEncoding.EncodeToString([]byte(stdPayloadJSON))), wantErr: token.ErrMalformed},
		{name: "space in the signature", tok: insertAt(good, 10, " "), wantErr: token.ErrMalformed},
		{name: "trailing space", tok: good + " ", wantErr: token.ErrMalformed},
		{name: "line feed in the signature", tok: insertAt(good, 10, "\n"), wantErr: token.ErrMalformed},
		{name: "CR LF in the signature", tok: insertAt(good, 10, "\r\n"), wantErr: token.ErrMalformed},
		{name: "trailing line feed", tok: good + "\n", wantErr: token.ErrMalformed},
		{name: "line feed in the signed payload", tok: hs256(testSecret, header, insertAt(payload, 5, "\n")), wantErr: token.ErrMalformed},
		{name: "line feed in the signed header", tok: hs256(testSecret, insertAt(b64(`{"alg":"HS256"}`), 5, "\n"), payload), wantErr: token.ErrMalformed},
		{name: "signature with non-zero spare bits", tok: nonCanonical(good), wantErr: token.ErrMalformed},
	})
}

// TestVerifyClaimTypes: exp, nbf and iat are JSON numbers (RFC 7519
// NumericDate), user a non-blank JSON string; claim names are
// case-sensitive, a name given twice takes its last value, and unknown
// claims are ignored, as in Brevia (TestVerifyRegisteredClaims has the
// registered claims it does not ignore).
func TestVerifyClaimTypes(t *testing.T) {
	t.Parallel()
	exp := strconv.FormatInt(testExp.Unix(), 10)
	withUser := func(user string) string { return withPayload(`{"user":` + user + `,"exp":` + exp + `}`) }
	withExp := func(exp string) string { return withPayload(`{"user":"alice","exp":` + exp + `}`) }
	claimsOf := func(user string) token.Claims { return token.Claims{User: user, ExpiresAt: testExp} }
	runVerifyCases(t, []verifyCase{
		{name: "exp integer", tok: withExp(exp), want: alice},
		{name: "exp float: the fraction is dropped", tok: golangJWT(t, jwt.SigningMethodHS256, nil, jwt.MapClaims{"user": "alice", "exp": float64(testExp.Unix()) + 0.5}), want: alice},
		{name: "exp float within the current second", tok: withExp("1700000000.9"), want: token.Claims{User: "alice", ExpiresAt: testNow}},
		{name: "exp float within the previous second", tok: withExp("1699999999.9"), wantErr: token.ErrExpired},
		{name: "exp in exponent notation", tok: withExp("1.7000036e9"), want: alice},
		// Read as Python reads them: exactly. fastjson's own number parser
		// read these a hair low, and so a second early once truncated.
		{name: "exp in exponent notation, at now", tok: withExp("0.169999995e10"), now: time.Unix(1_699_999_950, 0),
			want: token.Claims{User: "alice", ExpiresAt: time.Unix(1_699_999_950, 0)}},
		// strconv misreads numbers of 800 digits and more; Python reads
		// this as 4102444800 (2100), not 410244480.
		{name: "nbf written in more than 64 characters", tok: withPayload(`{"user":"alice","exp":` + exp + `,"nbf":4102444800` + strings.Repeat("0", 791) + `e-791}`),
			wantErr: token.ErrInvalidClaims},
		{name: "nbf in exponent notation, a second ahead", tok: withPayload(`{"user":"alice","exp":` + exp + `,"nbf":0.169999996e10}`),
			now: time.Unix(1_699_999_959, 0), wantErr: token.ErrNotYetValid},
		{name: "exp zero", tok: withExp("0"), wantErr: token.ErrExpired},
		{name: "exp negative", tok: withExp("-1"), wantErr: token.ErrExpired},
		{name: "exp negative float", tok: withExp("-4102444800.5"), wantErr: token.ErrExpired},
		{name: "exp a numeric string (python-jose would accept it)", tok: withExp(`"4102444800"`), wantErr: token.ErrInvalidClaims},
		{name: "exp a string", tok: withExp(`"abc"`), wantErr: token.ErrInvalidClaims},
		{name: "exp true", tok: withExp(`true`), wantErr: token.ErrInvalidClaims},
		{name: "exp an object", tok: withExp(`{"seconds":4102444800}`), wantErr: token.ErrInvalidClaims},
		{name: "exp an array", tok: withExp(`[4102444800]`), wantErr: token.ErrInvalidClaims},
		{name: "exp null", tok: withExp(`null`), wantErr: token.ErrNoExpiry},
		{name: "exp missing", tok: withPayload(`{"user":"alice"}`), wantErr: token.ErrNoExpiry},
		{name: "nbf a string", tok: withPayload(`{"user":"alice","exp":` + exp + `,"nbf":"0"}`), wantErr: token.ErrInvalidClaims},
		{name: "iat a string", tok: withPayload(`{"user":"alice","exp":` + exp + `,"iat":"0"}`), wantErr: token.ErrInvalidClaims},
		{name: "nbf and iat null are absent", tok: withPayload(`{"user":"alice","exp":` + exp + `,"nbf":null,"iat":null}`), want: alice},

		{name: "user ASCII", tok: withUser(`"alice"`), want: alice},
		{name: "user escaped non-ASCII and HTML characters", tok: withUser(`"g\u00f9<&>"`), want: claimsOf("gù<&>")},
		{name: "user raw UTF-8", tok: withUser(`"gù 😀"`), want: claimsOf("gù 😀")},
		{name: "user with inner spaces", tok: withUser(`" a b "`), want: claimsOf(" a b ")},
		{name: "user blank", tok: withUser(`"   "`), wantErr: token.ErrInvalidUser},
		{name: "user tabs and newlines", tok: withUser(`"\t\n\r"`), wantErr: token.ErrInvalidUser},
		// Python's str.strip strips U+001C to U+001F too (Go's TrimSpace
		// does not): Brevia refuses these users.
		{name: "user only separators U+001C to U+001F", tok: withUser(`"\u001c\u001f\u001e\u001d"`), wantErr: token.ErrInvalidUser},
		{name: "user with a separator inside", tok: withUser(`"a\u001cb"`), want: claimsOf("a\x1cb")},
		{name: "user empty", tok: withUser(`""`), wantErr: token.ErrInvalidUser},
		{name: "user a number", tok: withUser(`42`), wantErr: token.ErrInvalidUser},
		{name: "user an array", tok: withUser(`["alice"]`), wantErr: token.ErrInvalidUser},
		{name: "user an object", tok: withUser(`{"name":"alice"}`), wantErr: token.ErrInvalidUser},
		{name: "user true", tok: withUser(`true`), wantErr: token.ErrInvalidUser},
		{name: "user null", tok: withUser(`null`), wantErr: token.ErrInvalidUser},
		{name: "user missing", tok: withPayload(`{"exp":` + exp + `}`), wantErr: token.ErrInvalidUser},

		{name: "unknown claims are ignored", tok: withPayload(`{"user":"alice","exp":` + exp + `,"admin":true,"roles":["x"],"iss":1}`), want: alice},
		{name: "duplicate user: the last one counts, as in Python", tok: withPayload(`{"user":"mallory","user":"alice","exp":` + exp + `}`), want: alice},
		{name: "duplicate user: an earlier non-string is forgotten, as in Python", tok: withPayload(`{"user":42,"user":"alice","exp":` + exp + `}`), want: alice},
		{name: "duplicate user: a later non-string counts", tok: withPayload(`{"user":"alice","user":42,"exp":` + exp + `}`), wantErr: token.ErrInvalidUser},
		{name: "duplicate user: a later null counts", tok: withPayload(`{"user":"alice","user":null,"exp":` + exp + `}`), wantErr: token.ErrInvalidUser},
		{name: "duplicate exp: an earlier string is forgotten, as in Python", tok: withPayload(`{"user":"alice","exp":"abc","exp":` + exp + `}`), want: alice},
		{name: "duplicate nbf: an earlier string is forgotten, as in Python", tok: withPayload(`{"user":"alice","exp":` + exp + `,"nbf":"abc","nbf":null}`), want: alice},
		{name: "duplicate exp: a later string counts", tok: withPayload(`{"user":"alice","exp":` + exp + `,"exp":"abc"}`), wantErr: token.ErrInvalidClaims},
		{name: "claim names are case-sensitive: User is not user", tok: withPayload(`{"User":"alice","exp":` + exp + `}`), wantErr: token.ErrInvalidUser},
		{name: "claim names are case-sensitive: USER does not override user", tok: withPayload(`{"user":"alice","USER":"admin","exp":` + exp + `}`), want: alice},
		{name: "claim names are case-sensitive: EXP does not override exp", tok: withPayload(`{"user":"alice","exp":` + exp + `,"EXP":1}`), want: alice},

		{name: "payload an array", tok: withPayload(`["alice"]`), wantErr: token.ErrInvalidClaims},
		{name: "payload null", tok: withPayload(`null`), wantErr: token.ErrInvalidClaims},
		{name: "payload an empty object", tok: withPayload(`{}`), wantErr: token.ErrNoExpiry},
		{name: "payload a string", tok: withPayload(`"alice"`), wantErr: token.ErrInvalidClaims},
		{name: "payload a number", tok: withPayload(`42`), wantErr: token.ErrInvalidClaims},
		{name: "payload not JSON", tok: withPayload(`user=alice`), wantErr: token.ErrInvalidClaims},
		{name: "payload with trailing data", tok: withPayload(aliceJSON + `x`), wantErr: token.ErrInvalidClaims},

		{name: "escaped claim name is the same name", tok: withPayload(`{"\u0075ser":"alice","exp":` + exp + `}`), want: alice},
		{name: "user with a surrogate pair", tok: withUser(`"\ud83d\ude00"`), want: claimsOf("😀")},
		{name: "user with an upper-case surrogate pair", tok: withUser(`"a\uD83D\uDE00b"`), want: claimsOf("a😀b")},
		{name: "user with an escaped backslash before u", tok: withUser(`"\\ud800"`), want: claimsOf(`\ud800`)},
		{name: "user with an escaped U+FFFD", tok: withUser(`"\ufffd"`), want: claimsOf("\ufffd")},
		{name: "user with escapes around a pair", tok: withUser(`"\"\u00e9\ud83d\ude00\/\n"`), want: claimsOf("\"é😀/\n")},
		{name: "payload not UTF-8", tok: withPayload("{\"user\":\"al\xffice\",\"exp\":" + exp + "}"), wantErr: token.ErrInvalidClaims},
		{name: "invalid escape in a string", tok: withPayload(`{"user":"al\xice","exp":` + exp + `}`), wantErr: token.ErrInvalidClaims},
		{name: "exp at 2^53-1 seconds, the largest NumericDate", tok: withExp("9007199254740991"), want: token.Claims{User: "alice", ExpiresAt: time.Unix(1<<53-1, 0)}},
		{name: "exp at -(2^53-1) seconds, the smallest NumericDate", tok: withExp("-9007199254740991"), wantErr: token.ErrExpired},
		// 2^53 is refused however it is written: its verdict does not
		// depend on the spelling.
		{name: "exp at 2^53 seconds", tok: withExp("9007199254740992"), wantErr: token.ErrInvalidClaims},
		{name: "exp at 2^53 seconds written as a fraction", tok: withExp("9007199254740992.0"), wantErr: token.ErrInvalidClaims},
		{name: "exp at 2^53 seconds written with an exponent", tok: withExp("9.007199254740992e15"), wantErr: token.ErrInvalidClaims},
		{name: "exp at -2^53 seconds", tok: withExp("-9007199254740992"), wantErr: token.ErrInvalidClaims},
		{name: "exp beyond 2^53 seconds", tok: withExp("1e300"), wantErr: token.ErrInvalidClaims},
		// An integer is bounded before it becomes a float64, which would
		// round 2^53+1 to 2^53.
		{name: "exp at 2^53+1 seconds", tok: withExp("9007199254740993"), wantErr: token.ErrInvalidClaims},
		{name: "exp at -(2^53+1) seconds", tok: withExp("-9007199254740993"), wantErr: token.ErrInvalidClaims},
		{name: "exp 2^53+1 written as a fraction", tok: withExp("9007199254740993.0"), wantErr: token.ErrInvalidClaims},
		{name: "exp beyond float64", tok: withExp("1e400"), wantErr: token.ErrInvalidClaims},
	})
}

// TestVerifyUserSurrogates: a user whose JSON text escapes half of a UTF-16
// surrogate pair is refused, although Python would take it: fastjson would
// read it as the same user as another spelling ("\ud800" as "\\ud800",
// "\ud800\u0041" as "\ufffd"), which Python reads as another name.
func TestVerifyUserSurrogates(t *testing.T) {
	t.Parallel()
	exp := strconv.FormatInt(testExp.Unix(), 10)
	withUser := func(user string) string { return withPayload(`{"user":` + user + `,"exp":` + exp + `}`) }
	runVerifyCases(t, []verifyCase{
		{name: "lone high surrogate", tok: withUser(`"\ud800"`), wantErr: token.ErrInvalidUser},
		{name: "lone high surrogate, upper case", tok: withUser(`"\uD800"`), wantErr: token.ErrInvalidUser},
		{name: "lone high surrogate between letters", tok: withUser(`"al\udbffice"`), wantErr: token.ErrInvalidUser},
		{name: "lone low surrogate", tok: withUser(`"\udc00"`), wantErr: token.ErrInvalidUser},
		{name: "lone low surrogate after a letter", tok: withUser(`"a\udfff"`), wantErr: token.ErrInvalidUser},
		{name: "high surrogate then a letter escape", tok: withUser(`"\ud800\u0041"`), wantErr: token.ErrInvalidUser},
		{name: "high surrogate then another escape", tok: withUser(`"\ud800\n"`), wantErr: token.ErrInvalidUser},
		{name: "two high surrogates", tok: withUser(`"\ud83d\ud83d"`), wantErr: token.ErrInvalidUser},
		{name: "a pair the wrong way round", tok: withUser(`"\ude00\ud83d"`), wantErr: token.ErrInvalidUser},
		{name: "a pair then a lone low surrogate", tok: withUser(`"\ud83d\ude00\ude00"`), wantErr: token.ErrInvalidUser},
		{name: "a lone high surrogate then a pair", tok: withUser(`"\ud83d\ud83d\ude00"`), wantErr: token.ErrInvalidUser},
		{name: "an escaped backslash then a lone surrogate", tok: withUser(`"\\\ud800"`), wantErr: token.ErrInvalidUser},
		{name: "high surrogate then raw UTF-8 of a pair", tok: withUser(`"\ud83d😀"`), wantErr: token.ErrInvalidUser},
		{name: "the last user counts: an earlier lone surrogate is forgotten", tok: withPayload(`{"user":"\ud800","user":"alice","exp":` + exp + `}`), want: alice},
		{name: "the last user counts: a later lone surrogate is refused", tok: withPayload(`{"user":"alice","user":"\ud800","exp":` + exp + `}`), wantErr: token.ErrInvalidUser},
		{name: "lone surrogates elsewhere are not the user's", tok: withPayload(`{"user":"alice","exp":` + exp + `,"sub":"\ud800","x":["\udc00"],"\ud800":1}`), want: alice},
		{name: "lone surrogate in the allow-list check", tok: withUser(`"\ud800"`), opts: opts(token.WithUsers(`\ud800`, "\ufffd")), wantErr: token.ErrInvalidUser},
	})
}

// TestVerifyRegisteredClaims: python-jose, called as Brevia calls it (no
// audience, issuer, subject or access token), refuses any aud and any
// at_hash, and a sub or jti that is not a string; it takes any iss.
// TestJoseRegisteredClaims replays python-jose's own verdicts.
func TestVerifyRegisteredClaims(t *testing.T) {
	t.Parallel()
	exp := strconv.FormatInt(testExp.Unix(), 10)
	with := func(claims string) string { return withPayload(`{"user":"alice","exp":` + exp + `,` + claims + `}`) }
	runVerifyCases(t, []verifyCase{
		{name: "aud a string", tok: with(`"aud":"tokengate"`), wantErr: token.ErrAudience},
		{name: "aud a list", tok: with(`"aud":["x"]`), wantErr: token.ErrAudience},
		{name: "aud an empty list", tok: with(`"aud":[]`), wantErr: token.ErrAudience},
		{name: "aud null", tok: with(`"aud":null`), wantErr: token.ErrAudience},
		{name: "aud a number", tok: with(`"aud":1`), wantErr: token.ErrAudience},
		{name: "aud with an escaped name", tok: with(`"\u0061ud":"x"`), wantErr: token.ErrAudience},
		{name: "aud refused with an allow-list naming the user", tok: with(`"aud":"x"`), opts: opts(token.WithUsers("alice")), wantErr: token.ErrAudience},
		{name: "Aud is not aud", tok: with(`"Aud":"x","AUD":"x","audience":"x"`), want: alice},

		{name: "sub a string", tok: with(`"sub":"root"`), want: alice},
		{name: "sub empty", tok: with(`"sub":""`), want: alice},
		{name: "sub a number", tok: with(`"sub":1`), wantErr: token.ErrInvalidSubject},
		{name: "sub null", tok: with(`"sub":null`), wantErr: token.ErrInvalidSubject},
		{name: "sub a list", tok: with(`"sub":["root"]`), wantErr: token.ErrInvalidSubject},
		{name: "sub twice, the last a string", tok: with(`"sub":1,"sub":"root"`), want: alice},
		{name: "sub twice, the last a number", tok: with(`"sub":"root","sub":1`), wantErr: token.ErrInvalidSubject},

		{name: "jti a string", tok: with(`"jti":"4f1e"`), want: alice},
		{name: "jti a number", tok: with(`"jti":42`), wantErr: token.ErrInvalidJTI},
		{name: "jti null", tok: with(`"jti":null`), wantErr: token.ErrInvalidJTI},
		{name: "jti an object", tok: with(`"jti":{}`), wantErr: token.ErrInvalidJTI},
		{name: "jti twice, the last null", tok: with(`"jti":"4f1e","jti":null`), wantErr: token.ErrInvalidJTI},

		{name: "at_hash a string", tok: with(`"at_hash":"mVe6kEa0Q1nGWK9D9jbKHQ"`), wantErr: token.ErrAtHash},
		{name: "at_hash empty", tok: with(`"at_hash":""`), wantErr: token.ErrAtHash},
		{name: "at_hash null", tok: with(`"at_hash":null`), wantErr: token.ErrAtHash},

		{name: "iss anything", tok: with(`"iss":{"x":[1,null]}`), want: alice},

		// One error for several faults, in python-jose's order.
		{name: "aud before sub, jti and at_hash", tok: with(`"at_hash":"h","jti":1,"sub":1,"aud":"x"`), wantErr: token.ErrAudience},
		{name: "sub before jti and at_hash", tok: with(`"at_hash":"h","jti":1,"sub":1`), wantErr: token.ErrInvalidSubject},
		{name: "jti before at_hash", tok: with(`"at_hash":"h","jti":1`), wantErr: token.ErrInvalidJTI},
		// A token that can never be valid says why rather than that it expired.
		{name: "aud on an expired token", tok: withPayload(`{"user":"alice","exp":1,"aud":"x"}`), wantErr: token.ErrAudience},
		{name: "a claim of the wrong type comes first", tok: with(`"aud":"x","nbf":"0"`), wantErr: token.ErrInvalidClaims},
		{name: "a user of the wrong type comes first", tok: withPayload(`{"user":1,"exp":` + exp + `,"aud":"x"}`), wantErr: token.ErrInvalidUser},
	})
}

func TestNewVerifierNeedsSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret []byte
		opts   []token.Option
	}{
		{"nil", nil, nil},
		{"empty", []byte{}, nil},
		{"empty, with previous secrets", []byte{}, opts(token.WithPreviousSecrets(prevSecret))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := token.NewVerifier(tc.secret, tc.opts...)
			if !errors.Is(err, token.ErrNoSecret) || v != nil {
				t.Errorf("NewVerifier = %v, %v; want nil, ErrNoSecret", v, err)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secret  []byte
		claims  token.Claims
		wantErr error
	}{
		{"nil secret", nil, alice, token.ErrNoSecret},
		{"empty secret", []byte{}, alice, token.ErrNoSecret},
		{"empty user", testSecret, token.Claims{ExpiresAt: testExp}, token.ErrInvalidUser},
		{"blank user", testSecret, token.Claims{User: " \t\n", ExpiresAt: testExp}, token.ErrInvalidUser},
		{"user of separators, blank to Python", testSecret, token.Claims{User: "\x1c\x1f", ExpiresAt: testExp}, token.ErrInvalidUser},
		// It would be signed as U+FFFD: another user than asked for.
		{"user not UTF-8", testSecret, token.Claims{User: "\xff", ExpiresAt: testExp}, token.ErrInvalidUser},
		{"no exp", testSecret, token.Claims{User: "alice"}, token.ErrNoExpiry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := token.Sign(tc.secret, tc.claims)
			if !errors.Is(err, tc.wantErr) || tok != "" {
				t.Fatalf("Sign = %q, %v; want \"\", %v", tok, err, tc.wantErr)
			}
			assertLeaksNothing(t, err, "")
		})
	}
}

// TestSignVerifyRoundTrip: whatever Sign accepts, Verify gives back.
func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []token.Claims{
		alice,
		{User: "gù<&>\"\\/\x01\x7f😀", ExpiresAt: testExp},
		{User: "alice", ExpiresAt: testExp, IssuedAt: testNow.Add(-time.Minute)},
		{User: "alice", ExpiresAt: testExp, NotBefore: testNow.Add(-time.Minute)},
		{User: "alice", ExpiresAt: testExp, IssuedAt: testNow, NotBefore: testNow},
	}
	v, err := token.NewVerifier(testSecret, fixedClock(testNow))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range tests {
		t.Run(strconv.Quote(c.User), func(t *testing.T) {
			t.Parallel()
			got, err := claimsOf(v.Verify(signed(t, testSecret, c)))
			if err != nil {
				t.Fatal(err)
			}
			assertClaims(t, got, c)
		})
	}
}

func TestIssue(t *testing.T) {
	t.Parallel()
	now := testNow.Add(700 * time.Millisecond)
	tests := []struct {
		name    string
		secret  []byte
		user    string
		ttl     time.Duration
		wantExp time.Time // zero when an error is expected
		wantErr error     // nil with a zero wantExp: some error
	}{
		{name: "one hour, Brevia's default", secret: testSecret, user: "alice", ttl: time.Hour, wantExp: testNow.Add(time.Hour)},
		{name: "exp is truncated to the second", secret: testSecret, user: "alice", ttl: 1500 * time.Millisecond, wantExp: testNow.Add(2 * time.Second)},
		{name: "under a second", secret: testSecret, user: "alice", ttl: 200 * time.Millisecond, wantExp: testNow},
		{name: "zero duration", secret: testSecret, user: "alice", ttl: 0},
		{name: "negative duration", secret: testSecret, user: "alice", ttl: -time.Minute},
		{name: "no secret", secret: nil, user: "alice", ttl: time.Hour, wantErr: token.ErrNoSecret},
		{name: "blank user", secret: testSecret, user: " ", ttl: time.Hour, wantErr: token.ErrInvalidUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, c, err := token.Issue(tc.secret, tc.user, tc.ttl, now)
			if tc.wantExp.IsZero() {
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("Issue = %v, want error %v", err, tc.wantErr)
				}
				if tok != "" || c != (token.Claims{}) {
					t.Errorf("Issue returned %q, %+v with an error", tok, c)
				}
				assertLeaksNothing(t, err, "")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := token.Claims{User: tc.user, ExpiresAt: tc.wantExp}
			assertClaims(t, c, want)
			// The token is exactly what Sign makes of those claims, so it
			// carries exp as whole seconds and nothing but user and exp.
			if same := signed(t, tc.secret, want); tok != same {
				t.Errorf("Issue token = %s, want %s", tok, same)
			}
		})
	}
}

// BreviaVerifiesWith gives python-jose's answer: whether Brevia verifies
// its own token signed with the secret. The table was checked with
// python-jose 3.3.0 (Debian's python3-jose): jwt.encode with the secret,
// then jwt.decode with it.
func TestBreviaVerifiesWith(t *testing.T) {
	t.Parallel()
	for secret, want := range map[string]bool{
		`"abc"`: false, ` 12345 `: false, "12345\n": false, `{"k":"inner"}`: false, `[1]`: false,
		`true`: false, `null`: false, `NaN`: false, `-Infinity`: false, ` "abc"`: false,
		"0123456789abcdef0123456789abcdef": true, "12345678901234567890123456789012": true,
		`1e5`: true, `-3`: true, `abc`: true, `{abc`: true, `a"b"`: true,
		`[NaN]`: false, `{"a":NaN}`: false, "\vNaN": true, "NaN\u00a0": true, `Infinity`: false,
		"ssh-rsa AAAA": false, "x-----BEGIN CERTIFICATE-----": false, `1.5`: true, `-0`: true, "1e5 ": false, `0x10`: true,
		`00`: true, `-`: true, `"`: true, `{}`: false, "\t12": false, `NaNx`: true,
		`1NaN`: true, `[1,-Infinity]`: false, `"NaN"`: false, `x NaN`: true,
		`NaN.1`: true, `NaNe1`: true, `InfinityE1`: true, `-NaN`: true, `[Infinity]`: false,
	} {
		if got := token.BreviaVerifiesWith([]byte(secret)); got != want {
			t.Errorf("BreviaVerifiesWith(%q) = %v, python-jose: %v", secret, got, want)
		}
	}
}
