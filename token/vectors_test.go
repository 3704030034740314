package token_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/token"
)

// The golden vector of Brevia's security page: what create_token prints for
// user gustavo, exp 1700000000 and secret secretsecretsecret.
const (
	goldenSecret = "secretsecretsecret"
	goldenUser   = "gustavo"
	goldenExp    = 1700000000
	goldenToken  = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiZ3VzdGF2byIsImV4cCI6MTcwMDAwMDAwMH0.DKh8eCLLt3pPhzMNwbvKrD-xjSGdjHNmYovPoR-xrnM"
)

// joseVectors is testdata/jose-hs256.json: tokens made with python-jose
// (Brevia's JWT library), all with one secret, and the verdict a correct
// verifier gives for each.
type joseVectors struct {
	MadeWith string `json:"made_with"`
	Secret   string `json:"secret"`
	User     string `json:"user"`
	Vectors  []struct {
		Name  string `json:"name"`
		Token string `json:"token"`
		Valid bool   `json:"valid"`
		Why   string `json:"why"`
	} `json:"vectors"`
}

func loadJoseVectors(tb testing.TB) joseVectors {
	tb.Helper()
	raw, err := os.ReadFile("testdata/jose-hs256.json")
	if err != nil {
		tb.Fatal(err)
	}
	var vs joseVectors
	if err := json.Unmarshal(raw, &vs); err != nil {
		tb.Fatalf("testdata/jose-hs256.json: %v", err)
	}
	if vs.Secret == "" || len(vs.Vectors) == 0 {
		tb.Fatal("testdata/jose-hs256.json: no secret or no vectors")
	}
	return vs
}

// joseClock is when the python-jose vectors are replayed: after their
// expired exp (2000-01-01), before their valid exp and their nbf (2100).
var joseClock = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func fixedClock(t time.Time) token.Option {
	return token.WithClock(func() time.Time { return t })
}

// TestJoseVectors replays every python-jose vector. Each one must be named
// in the table below, so a vector added to the file cannot be skipped.
func TestJoseVectors(t *testing.T) {
	t.Parallel()
	type verdict struct {
		err  error  // nil: the token is valid
		user string // the user a valid token yields
	}
	verdicts := map[string]verdict{
		"jose_valid":              {user: "gustavo"},
		"jose_valid_extra_claims": {user: "gustavo"},
		"jose_valid_unicode_user": {user: "gù<&>"},
		"raw_no_typ":              {user: "gustavo"},

		"jose_expired":      {err: token.ErrExpired},
		"jose_wrong_secret": {err: token.ErrSignatureInvalid},
		// A genuine HMAC-SHA384/512 is not the HMAC-SHA256 we compute: the
		// signature is checked before the header is even read.
		"jose_hs384":       {err: token.ErrSignatureInvalid},
		"jose_hs512":       {err: token.ErrSignatureInvalid},
		"tampered_payload": {err: token.ErrSignatureInvalid},
		// alg none comes with an empty signature, which is not a JWS.
		"raw_alg_none":     {err: token.ErrMalformed},
		"two_segments":     {err: token.ErrMalformed},
		"garbage":          {err: token.ErrMalformed},
		"padded_signature": {err: token.ErrMalformed},
		"empty":            {err: token.ErrMissing},

		"jose_no_exp":          {err: token.ErrNoExpiry},
		"raw_exp_null":         {err: token.ErrNoExpiry},
		"raw_exp_string":       {err: token.ErrInvalidClaims},
		"raw_payload_array":    {err: token.ErrInvalidClaims},
		"raw_payload_not_json": {err: token.ErrInvalidClaims},
		"jose_nbf_future":      {err: token.ErrNotYetValid},

		"jose_no_user":      {err: token.ErrInvalidUser},
		"jose_null_user":    {err: token.ErrInvalidUser},
		"jose_blank_user":   {err: token.ErrInvalidUser},
		"jose_numeric_user": {err: token.ErrInvalidUser},
	}

	vs := loadJoseVectors(t)
	v, err := token.NewVerifier([]byte(vs.Secret), fixedClock(joseClock))
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool, len(vs.Vectors))
	for _, vec := range vs.Vectors {
		seen[vec.Name] = true
		want, known := verdicts[vec.Name]
		if !known {
			t.Errorf("vector %q (%s) has no verdict in TestJoseVectors: add one", vec.Name, vec.Why)
			continue
		}
		if (want.err == nil) != vec.Valid {
			t.Errorf("vector %q: the file says valid=%v but the table expects error %v", vec.Name, vec.Valid, want.err)
			continue
		}
		t.Run(vec.Name, func(t *testing.T) {
			t.Parallel()
			c, err := claimsOf(v.Verify(vec.Token))
			if !errors.Is(err, want.err) {
				t.Fatalf("Verify = %v, want %v (%s)", err, want.err, vec.Why)
			}
			if err == nil && c.User != want.user {
				t.Errorf("user = %q, want %q", c.User, want.user)
			}
		})
	}
	for name := range verdicts {
		if !seen[name] {
			t.Errorf("the table names %q, which is not in testdata/jose-hs256.json", name)
		}
	}
}

func TestGoldenVectorSign(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		exp  time.Time
	}{
		{"whole second", time.Unix(goldenExp, 0)},
		// exp is a whole number of seconds, as Python's timegm makes it.
		{"fraction of a second is dropped", time.Unix(goldenExp, 999_999_999)},
		{"time zone does not matter", time.Unix(goldenExp, 0).In(time.FixedZone("UTC+5", 5*3600))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := token.Sign([]byte(goldenSecret), token.Claims{User: goldenUser, ExpiresAt: tc.exp})
			if err != nil {
				t.Fatal(err)
			}
			if got != goldenToken {
				t.Errorf("Sign =\n%s\nwant\n%s", got, goldenToken)
			}
		})
	}
}

// TestGoldenVectorVerify pins exp to whole seconds, inclusive, as python-jose
// does: a token is valid through the whole second named by exp, and leeway
// extends that.
func TestGoldenVectorVerify(t *testing.T) {
	t.Parallel()
	exp := time.Unix(goldenExp, 0)
	tests := []struct {
		name    string
		now     time.Time
		leeway  time.Duration
		wantErr error
	}{
		{"one second before exp", exp.Add(-time.Second), 0, nil},
		{"at exp", exp, 0, nil},
		{"at exp plus 999ms, same second", exp.Add(999 * time.Millisecond), 0, nil},
		{"one second after exp", exp.Add(time.Second), 0, token.ErrExpired},
		{"leeway 5s, 5s after exp", exp.Add(5 * time.Second), 5 * time.Second, nil},
		{"leeway 5s, 5.999s after exp", exp.Add(5*time.Second + 999*time.Millisecond), 5 * time.Second, nil},
		{"leeway 5s, 6s after exp", exp.Add(6 * time.Second), 5 * time.Second, token.ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := token.NewVerifier([]byte(goldenSecret), fixedClock(tc.now), token.WithLeeway(tc.leeway))
			if err != nil {
				t.Fatal(err)
			}
			c, err := claimsOf(v.Verify(goldenToken))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify at %v = %v, want %v", tc.now.UTC(), err, tc.wantErr)
			}
			if err != nil {
				return
			}
			want := token.Claims{User: goldenUser, ExpiresAt: exp}
			if c.User != want.User || !c.ExpiresAt.Equal(want.ExpiresAt) || !c.IssuedAt.IsZero() || !c.NotBefore.IsZero() {
				t.Errorf("claims = %+v, want %+v", c, want)
			}
		})
	}
}

// TestSignMatchesPython: decoding a python-jose token and signing its claims
// again gives back the very same token, byte for byte. The unicode vector
// proves non-ASCII is written \u00f9 and that <, > and & are left alone
// (Go's encoding/json would do the opposite on both counts).
func TestSignMatchesPython(t *testing.T) {
	t.Parallel()
	vs := loadJoseVectors(t)
	tests := []struct {
		vector      string
		wantPayload string
	}{
		{"jose_valid", `{"user":"gustavo","exp":4102444800}`},
		{"jose_valid_unicode_user", `{"user":"g\u00f9<&>","exp":4102444800}`},
	}
	for _, tc := range tests {
		t.Run(tc.vector, func(t *testing.T) {
			t.Parallel()
			var vector string
			for _, vec := range vs.Vectors {
				if vec.Name == tc.vector {
					vector = vec.Token
				}
			}
			if vector == "" {
				t.Fatalf("no vector %q in testdata/jose-hs256.json", tc.vector)
			}
			parts := strings.Split(vector, ".")
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			if string(payload) != tc.wantPayload {
				t.Fatalf("python-jose wrote %s, want %s", payload, tc.wantPayload)
			}
			var claims struct {
				User string `json:"user"`
				Exp  int64  `json:"exp"`
			}
			if err := json.Unmarshal(payload, &claims); err != nil {
				t.Fatal(err)
			}
			got, err := token.Sign([]byte(vs.Secret), token.Claims{User: claims.User, ExpiresAt: time.Unix(claims.Exp, 0)})
			if err != nil {
				t.Fatal(err)
			}
			if got != vector {
				t.Errorf("Sign(%q, %d) =\n%s\npython-jose made\n%s", claims.User, claims.Exp, got, vector)
			}
		})
	}
}

// joseRegisteredClaims is testdata/jose-registered-claims.json, written by
// testdata/gen_registered_claims.py with python-jose 3.3.0 (its checks of
// aud, iss, sub, jti and at_hash are the same in 3.4 and 3.5): raw payloads
// signed and then judged by python-jose's jwt.decode(token, secret,
// algorithms=["HS256"]), as Brevia calls it. Each token is valid but for
// the claims under test.
type joseRegisteredClaims struct {
	MadeWith string `json:"made_with"`
	Secret   string `json:"secret"`
	Vectors  []struct {
		Name    string `json:"name"`
		Payload string `json:"payload"`
		Token   string `json:"token"`
		Valid   bool   `json:"valid"`
		Error   string `json:"error"` // python-jose's message, when not valid
		User    string `json:"user"`  // the user, when valid
	} `json:"vectors"`
}

func loadJoseRegisteredClaims(tb testing.TB) joseRegisteredClaims {
	tb.Helper()
	const file = "testdata/jose-registered-claims.json"
	raw, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	var vs joseRegisteredClaims
	if err := json.Unmarshal(raw, &vs); err != nil {
		tb.Fatalf("%s: %v", file, err)
	}
	if !strings.HasPrefix(vs.MadeWith, "python-jose ") || vs.Secret == "" || len(vs.Vectors) == 0 {
		tb.Fatalf("%s: made_with %q, secret %q, %d vectors", file, vs.MadeWith, vs.Secret, len(vs.Vectors))
	}
	return vs
}

// TestJoseRegisteredClaims gives python-jose's verdict for every vector, and
// for each refusal the sentinel that stands for python-jose's message.
func TestJoseRegisteredClaims(t *testing.T) {
	t.Parallel()
	sentinelFor := map[string]error{
		"Invalid audience":                                           token.ErrAudience,
		"Invalid claim format in token":                              token.ErrAudience, // aud not a string or a list of strings
		"Subject must be a string.":                                  token.ErrInvalidSubject,
		"JWT ID must be a string.":                                   token.ErrInvalidJTI,
		"No access_token provided to compare against at_hash claim.": token.ErrAtHash,
	}

	vs := loadJoseRegisteredClaims(t)
	v, err := token.NewVerifier([]byte(vs.Secret), fixedClock(joseClock))
	if err != nil {
		t.Fatal(err)
	}
	for _, vec := range vs.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			t.Parallel()
			// The token carries the payload the file shows, byte for byte.
			parts := strings.Split(vec.Token, ".")
			if len(parts) != 3 {
				t.Fatalf("token %q is not three segments", vec.Token)
			}
			if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || string(payload) != vec.Payload {
				t.Fatalf("token payload = %s, %v; the file says %s", payload, err, vec.Payload)
			}
			want := error(nil)
			if !vec.Valid {
				var known bool
				if want, known = sentinelFor[vec.Error]; !known {
					t.Fatalf("python-jose refused %s with %q, which no sentinel stands for", vec.Payload, vec.Error)
				}
			}
			c, err := claimsOf(v.Verify(vec.Token))
			if !errors.Is(err, want) || (err == nil) != vec.Valid {
				t.Fatalf("Verify(%s) = %v; python-jose says valid=%v %q, want %v", vec.Payload, err, vec.Valid, vec.Error, want)
			}
			if err == nil && c.User != vec.User {
				t.Errorf("user = %q, python-jose says %q", c.User, vec.User)
			}
		})
	}
}
