package main

// The cases of the attack suite: what a case sends on each face and the
// answer it must get, and the table of hostile tokens and metadata tried on
// the main attack demo.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// The messages of the denials (interceptors/errors.go), as the gRPC status
// message and as the message of the REST JSON error body.
const (
	mMissing    = "missing bearer token"
	mStatusNot  = "status token not accepted, and no bearer token"
	mTwoValues  = "malformed authorization metadata: more than one value"
	mNotASCII   = "malformed authorization header: not printable ASCII"
	mNotBearer  = "authorization metadata is not a bearer token"
	mTooLarge   = "invalid token: larger than 8 KiB"
	mMalformed  = "invalid token: malformed"
	mAlg        = "invalid token: algorithm must be HS256"
	mSig        = "invalid token: signature does not match"
	mClaims     = "invalid token: bad claims"
	mNoExp      = "invalid token: exp claim required"
	mUser       = "invalid token: user claim must be a non-blank string"
	mExpired    = "token expired"
	mNotYet     = "token not valid yet"
	mNotAllowed = "user not allowed"
)

// target is what a case calls.
type target int

const (
	echoTarget    target = iota // EchoService: UnaryEcho, ServerStreamingEcho, POST /v1/echo, GET /v1/echo/stream
	statusTarget                // StatusService.Status, Health.Check, GET /status
	metricsTarget               // GET /metrics (REST only)
)

// outcome is what a call must get: a gRPC code (and on REST its HTTP
// status), the denial's message, and on success the user the handler saw.
type outcome struct {
	code codes.Code
	msg  string
	user string
}

func ok(user string) outcome { return outcome{code: codes.OK, user: user} }
func denied(msg string) outcome {
	return outcome{code: codes.Unauthenticated, msg: msg}
}

// attack is one case: credentials on the gRPC side (md) and on the REST
// side (headers, query), and the outcome on each.
type attack struct {
	name     string
	target   target
	md       []string    // gRPC metadata pairs
	headers  [][2]string // REST headers; nil: md's pairs as headers
	query    string      // REST query, without '?'
	only     string      // "grpc" or "rest": the case makes sense on one face only
	want     outcome
	restWant *outcome // the REST outcome when it differs from want
}

// restHeaders are the headers a sends on the REST faces.
func (a attack) restHeaders() [][2]string {
	if a.headers != nil {
		return a.headers
	}
	var h [][2]string
	for i := 0; i+1 < len(a.md); i += 2 {
		h = append(h, [2]string{a.md[i], a.md[i+1]})
	}
	return h
}

// wantOn is the outcome a must get on a gRPC or a REST face.
func (a attack) wantOn(grpcFace bool) outcome {
	if !grpcFace && a.restWant != nil {
		return *a.restWant
	}
	return a.want
}

// bearerCase sends tok as the one bearer token on every face.
func bearerCase(name, tok string, want outcome) attack {
	return attack{name: name, md: bearer(tok), want: want}
}

// validCase is the call that must succeed after every attack on target.
func validCase(tok string, tg target) attack {
	switch tg {
	case statusTarget:
		return attack{name: "valid", target: tg, md: []string{"x-status-token", testStatusToken},
			query: "token=" + testStatusToken, want: ok("")}
	case metricsTarget:
		return attack{name: "valid", target: tg, md: bearer(tok), want: ok("")}
	default:
		return attack{name: "valid", target: tg, md: bearer(tok), want: ok("ana")}
	}
}

// validFor returns validCase for tok, as runCases' follow-up.
func validFor(tok string) func(target) attack {
	return func(tg target) attack { return validCase(tok, tg) }
}

// attackCases are the token and metadata cases of the main attack demo.
//
// A token the verifier alone judges needs no server: those shapes are
// token's tests (token/attack_shapes_test.go holds the ones that came from
// here). What stays is every case the servers take part in (the
// authorization value and its scheme, headers and metadata, sizes, URLs in
// headers, the configured secrets and status token, users echoed back and
// logged), and for each denial a client can get for a token, at least one
// token that earns it, so that every face is seen giving each answer.
func attackCases(trap *urlTrap) []attack {
	now := time.Now()
	future := now.Add(time.Hour).Unix()
	past := now.Add(-time.Hour).Unix()
	valid := jws(standardHeader, payloadJSON("ana", future), testSecret)
	statusToken := testStatusToken
	validHeaderSeg, validSignatureSeg := segments(valid)[0], segments(valid)[2]
	// withPayload is a token for a hand-written payload, signed with the
	// secret.
	withPayload := func(payload string) string { return jws(standardHeader, payload, testSecret) }

	var cases []attack
	add := func(c ...attack) { cases = append(cases, c...) }

	// Controls: the forging helpers make what the server accepts.
	add(bearerCase("control: valid HS256 token", valid, ok("ana")),
		bearerCase("control: header members in another order", jws(`{"typ":"JWT","alg":"HS256"}`, payloadJSON("ana", future), testSecret), ok("ana")),
		attack{name: "control: scheme in upper case", md: []string{"authorization", "BEARER " + valid}, want: ok("ana")})

	// Algorithms: the classic confusions, one for each answer a header can
	// earn (token's TestVerifyHeader and TestVerifyAttackHeaders have the
	// rest).
	noneHeader := `{"alg":"none","typ":"JWT"}`
	noneSigningInput := b64Segment(noneHeader) + "." + b64Segment(payloadJSON("ana", future))
	add(bearerCase("alg none, no signature", noneSigningInput+".", denied(mMalformed)),
		bearerCase("alg none, HS256 signature with the secret", signRaw(noneSigningInput, testSecret), denied(mAlg)),
		bearerCase("alg none, random signature", noneSigningInput+"."+b64Segment("not a signature at all, 32 byte"), denied(mSig)),
		bearerCase("alg RS256 header, HMAC-SHA256 signature with the secret (confusion)", jws(`{"alg":"RS256","typ":"JWT"}`, payloadJSON("ana", future), testSecret), denied(mAlg)),
	)

	// Key-locating headers are ignored, never fetched: the trap counts any
	// connection to the URLs they name. (Embedded keys and kid tricks,
	// which change nothing either, are token's TestVerifyAttackHeaders.)
	headerWith := func(extra string) string { return `{"alg":"HS256","typ":"JWT",` + extra + `}` }
	add(bearerCase("kid URL", jws(headerWith(`"kid":`+jsonString(trap.url("/kid"))), payloadJSON("ana", future), testSecret), ok("ana")),
		bearerCase("jku URL", jws(headerWith(`"jku":`+jsonString(trap.url("/jwks.json"))), payloadJSON("ana", future), testSecret), ok("ana")),
		bearerCase("x5u URL", jws(headerWith(`"x5u":`+jsonString(trap.url("/cert.pem"))), payloadJSON("ana", future), testSecret), ok("ana")),
		bearerCase("kid, jku and x5u URLs", jws(headerWith(`"kid":`+jsonString(trap.url("/k"))+`,"jku":`+jsonString(trap.url("/j"))+`,"x5u":`+jsonString(trap.url("/x"))), payloadJSON("ana", future), testSecret), ok("ana")),
		bearerCase("jku URL, signed with another key", jws(headerWith(`"jku":`+jsonString(trap.url("/evil.json"))), payloadJSON("ana", future), "attacker-key-attacker-key-attacker-key"), denied(mSig)),
	)

	// The authorization value around the token (the token's own segments
	// are token's TestVerifyShape and TestVerifyAttackSegments).
	add(bearerCase("space inside the token", valid[:20]+" "+valid[20:], denied(mMalformed)),
		bearerCase("two spaces after Bearer", " "+valid, denied(mMalformed)),
		bearerCase("Bearer twice", "Bearer "+valid, denied(mMalformed)),
		// Go's HTTP client and server trim spaces around a header value
		// (RFC 9110 §5.5: OWS is not part of the value); gRPC metadata is
		// not trimmed.
		attack{name: "space after the token", md: []string{"authorization", "Bearer " + valid + " "},
			want: denied(mMalformed), restWant: &outcome{code: codes.OK, user: "ana"}},
		attack{name: "no scheme", md: []string{"authorization", valid}, want: denied(mNotBearer)},
		attack{name: "scheme Token", md: []string{"authorization", "Token " + valid}, want: denied(mNotBearer)},
		attack{name: "scheme Basic", md: []string{"authorization", "Basic " + b64Segment("ana:"+valid)}, want: denied(mNotBearer)},
		attack{name: "Bearer alone", md: []string{"authorization", "Bearer"}, want: denied(mMissing)},
		attack{name: "Bearer and a space", md: []string{"authorization", "Bearer "}, want: denied(mMissing)},
		attack{name: "empty authorization", md: []string{"authorization", ""}, want: denied(mMissing)},
	)

	// Size.
	longUserToken := func(n int) string {
		u := strings.Repeat("a", n)
		return jws(standardHeader, payloadJSON(u, future), testSecret)
	}
	exact8K := ""
	for n := 6000; n < 6200; n++ {
		if candidate := longUserToken(n); len(candidate) == 8<<10 {
			exact8K = candidate
			break
		}
	}
	var user8K string
	if exact8K != "" {
		raw, _ := base64.RawURLEncoding.DecodeString(segments(exact8K)[1])
		var c struct{ User string }
		_ = json.Unmarshal(raw, &c)
		user8K = c.User
	}
	add(bearerCase("token of exactly 8 KiB, valid", exact8K, ok(user8K)),
		bearerCase("token of 8 KiB + 1, valid signature", over8K(future), denied(mTooLarge)),
		bearerCase("token of 9 KiB, valid signature", longUserToken(7000), denied(mTooLarge)),
		bearerCase("60 KiB of garbage", strings.Repeat("A", 60<<10), denied(mTooLarge)),
	)

	// Two values, spoofed keys.
	add(attack{name: "two authorization values, both valid", md: append(bearer(valid), bearer(valid)...), want: denied(mTwoValues)},
		attack{name: "two authorization values, valid and garbage", md: append(bearer(valid), bearer("garbage")...), want: denied(mTwoValues)},
		attack{name: "two authorization values, garbage and valid", md: append(bearer("garbage"), bearer(valid)...), want: denied(mTwoValues)},
		attack{name: "two authorization values, valid and empty", md: append(bearer(valid), "authorization", ""), want: denied(mTwoValues)},
		// grpc-gateway drops an Authorization value that is not printable
		// ASCII; the gateway refuses the request instead, so the other
		// one never passes as the only one.
		attack{name: "two Authorization headers, valid and one with a tab", only: "rest",
			headers: [][2]string{auth(valid), {"Authorization", "Bearer\t" + valid}}, want: denied(mNotASCII)},
		attack{name: "two Authorization headers, valid and one with byte 0xff", only: "rest",
			headers: [][2]string{auth(valid), {"Authorization", "Bearer " + valid + "\xff"}}, want: denied(mNotASCII)},
		attack{name: "Grpc-Metadata-Authorization spoofing", only: "rest",
			headers: [][2]string{{"Grpc-Metadata-Authorization", "Bearer " + valid}}, want: denied(mMissing)},
		attack{name: "Grpc-Metadata-Authorization spoofing next to a bad token", only: "rest",
			headers: [][2]string{{"Grpc-Metadata-Authorization", "Bearer " + valid}, auth("garbage")}, want: denied(mMalformed)},
		attack{name: "grpcgateway-authorization metadata spoofing", only: "grpc",
			md: []string{"grpcgateway-authorization", "Bearer " + valid}, want: denied(mMissing)},
		attack{name: "X-Status-Token header on echo", only: "rest",
			headers: [][2]string{{"X-Status-Token", statusToken}}, want: denied(mMissing)},
		attack{name: "Grpc-Metadata-X-Status-Token header on echo", only: "rest",
			headers: [][2]string{{"Grpc-Metadata-X-Status-Token", statusToken}}, want: denied(mMissing)},
		// As an X-Status-Token header on REST, which the gateway never
		// passes on: nothing reaches the server.
		attack{name: "status token as x-status-token metadata on echo", md: []string{"x-status-token", statusToken}, want: denied(mStatusNot),
			restWant: &outcome{code: codes.Unauthenticated, msg: mMissing}},
		attack{name: "status token as a bearer token on echo", md: bearer(statusToken), want: denied(mMalformed)},
		attack{name: "?token=STATUS_TOKEN on echo", only: "rest", query: "token=" + statusToken, want: denied(mMissing)},
		attack{name: "?token=STATUS_TOKEN and X-Status-Token on echo", only: "rest", query: "token=" + statusToken,
			headers: [][2]string{{"X-Status-Token", statusToken}, {"Grpc-Metadata-X-Status-Token", statusToken}}, want: denied(mMissing)},
	)

	// Status and metrics routes.
	add(attack{name: "status: status token (control)", target: statusTarget, md: []string{"x-status-token", statusToken},
		query: "token=" + statusToken, want: ok("")},
		attack{name: "status: valid bearer token (control)", target: statusTarget, md: bearer(valid), want: ok("")},
		attack{name: "status: status token as a bearer token", target: statusTarget, md: bearer(statusToken), want: denied(mMalformed)},
		attack{name: "status: status token as the whole authorization value", target: statusTarget,
			md: []string{"authorization", statusToken}, want: denied(mNotBearer)},
		attack{name: "status: X-Status-Token header", target: statusTarget, only: "rest",
			headers: [][2]string{{"X-Status-Token", statusToken}}, want: denied(mMissing)},
		attack{name: "status: Grpc-Metadata-X-Status-Token header", target: statusTarget, only: "rest",
			headers: [][2]string{{"Grpc-Metadata-X-Status-Token", statusToken}}, want: denied(mMissing)},
		attack{name: "status: status token with a trailing space", target: statusTarget,
			md: []string{"x-status-token", statusToken + " "}, query: "token=" + url.QueryEscape(statusToken+" "), want: denied(mStatusNot)},
		attack{name: "status: status token without its last character", target: statusTarget,
			md: []string{"x-status-token", statusToken[:len(statusToken)-1]}, query: "token=" + statusToken[:len(statusToken)-1], want: denied(mStatusNot)},
		attack{name: "status: status token in upper case", target: statusTarget,
			md: []string{"x-status-token", strings.ToUpper(statusToken)}, query: "token=" + strings.ToUpper(statusToken), want: denied(mStatusNot)},
		attack{name: "status: ?TOKEN= (parameter name in upper case)", target: statusTarget, only: "rest",
			query: "TOKEN=" + statusToken, want: denied(mMissing)},
		attack{name: "status: status token twice", target: statusTarget,
			md: []string{"x-status-token", statusToken, "x-status-token", statusToken}, query: "token=" + statusToken + "&token=" + statusToken, want: denied(mStatusNot)},
		attack{name: "metrics: valid bearer token (control)", target: metricsTarget, md: bearer(valid), want: ok("")},
		attack{name: "metrics: ?token=STATUS_TOKEN", target: metricsTarget, query: "token=" + statusToken, want: denied(mMissing)},
		attack{name: "metrics: X-Status-Token header", target: metricsTarget, headers: [][2]string{{"X-Status-Token", statusToken}}, want: denied(mMissing)},
		attack{name: "metrics: status token as a bearer token", target: metricsTarget, md: bearer(statusToken), want: denied(mMalformed)},
		attack{name: "metrics: Grpc-Metadata-Authorization spoofing", target: metricsTarget,
			headers: [][2]string{{"Grpc-Metadata-Authorization", "Bearer " + valid}}, want: denied(mMissing)},
		attack{name: "metrics: two Authorization headers", target: metricsTarget, md: append(bearer(valid), bearer(valid)...), want: denied(mTwoValues)},
		attack{name: "metrics: alg none", target: metricsTarget, md: bearer(noneSigningInput + "."), want: denied(mMalformed)},
	)

	// exp, nbf: one token for each answer (token's TestVerifyTimeClaims,
	// TestVerifyClaimTypes and TestVerifyAttackClaims have the rest).
	add(bearerCase("exp missing", withPayload(`{"user":"ana"}`), denied(mNoExp)),
		bearerCase("exp a string of digits", withPayload(fmt.Sprintf(`{"user":"ana","exp":"%d"}`, future)), denied(mClaims)),
		bearerCase("exp an hour ago", withPayload(payloadJSON("ana", past)), denied(mExpired)),
		bearerCase("nbf in the future", withPayload(fmt.Sprintf(`{"user":"ana","exp":%d,"nbf":%d}`, future, now.Add(10*time.Minute).Unix())), denied(mNotYet)),
	)

	// user: the answer for a bad one, and users the faces must echo back
	// and the log must quote as they are.
	add(bearerCase("user missing", withPayload(fmt.Sprintf(`{"exp":%d}`, future)), denied(mUser)),
		bearerCase("user unicode (UTF-8)", withPayload(payloadJSON("Zoë 日本 🚀", future)), ok("Zoë 日本 🚀")),
		bearerCase("user unicode (\\u escapes, as Python writes)", withPayload(fmt.Sprintf(`{"user":"Zo\u00eb \ud83d\ude80","exp":%d}`, future)), ok("Zoë 🚀")),
		bearerCase("user with a NUL escape", withPayload(fmt.Sprintf(`{"user":"ana\u0000","exp":%d}`, future)), ok("ana\x00")),
		bearerCase("user with a newline", withPayload(payloadJSON("ana\nlevel=ERROR msg=forged", future)), ok("ana\nlevel=ERROR msg=forged")),
		bearerCase("user with spaces around", withPayload(payloadJSON(" ana ", future)), ok(" ana ")),
	)

	// Signatures: a tampered token, and the keys the demo holds besides
	// the secret.
	tampered := validHeaderSeg + "." + b64Segment(payloadJSON("admin", future)) + "." + validSignatureSeg
	add(bearerCase("tampered payload (user changed, signature kept)", tampered, denied(mSig)),
		bearerCase("signed with the previous secret (PreviousSecret set)", jws(standardHeader, payloadJSON("ana", future), attackPreviousSecret), ok("ana")),
		bearerCase("signed with the status token", jws(standardHeader, payloadJSON("ana", future), statusToken), denied(mSig)),
	)
	return cases
}
