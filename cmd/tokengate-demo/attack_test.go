package main

// The attack suite (issue "Security and reliability"): hostile tokens and
// hostile metadata against both faces of one running demo, each case
// checked for its exact answer and followed by a valid call that must still
// succeed. Tokens are forged by hand (base64url segments and crypto/hmac) so
// that each case is exactly what its name says.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tokengate/tokengate/interceptors"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// attackPreviousSecret is the secret before the last rotation: the main
// attack demo still accepts it.
const attackPreviousSecret = "previous-secret-of-the-attack-test-0123456789"

// attackAuth is the main attack demo: any user, a previous secret, a status
// token.
var attackAuth = interceptors.Config{
	Secret:         testSecret,
	PreviousSecret: attackPreviousSecret,
	StatusToken:    testStatusToken,
}

// The messages of the denials (interceptors/errors.go), as the gRPC status
// message and as the message of the REST JSON error body.
const (
	mMissing    = "missing bearer token"
	mTwo        = "malformed authorization metadata: more than one value"
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

// ---- forging tokens ----

const hdrHS256 = `{"alg":"HS256","typ":"JWT"}`

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func macSeg(h func() hash.Hash, key, msg string) string {
	m := hmac.New(h, []byte(key))
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// jwsWith signs header.payload (both JSON text, base64url-encoded here)
// with HMAC h under key.
func jwsWith(h func() hash.Hash, header, payload, key string) string {
	si := seg(header) + "." + seg(payload)
	return si + "." + macSeg(h, key, si)
}

// jws is a token signed the one accepted way: HMAC-SHA256.
func jws(header, payload, key string) string { return jwsWith(sha256.New, header, payload, key) }

// signRaw signs an already encoded signing string with HMAC-SHA256.
func signRaw(signingString, key string) string {
	return signingString + "." + macSeg(sha256.New, key, signingString)
}

func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// pl is the payload {"user":user,"exp":exp}, user JSON-encoded.
func pl(user string, exp int64) string {
	return fmt.Sprintf(`{"user":%s,"exp":%d}`, jsonString(user), exp)
}

func segments(tok string) []string { return strings.Split(tok, ".") }

// ---- cases and answers ----

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
// side (hdr, query), and the outcome on each.
type attack struct {
	name   string
	target target
	md     []string    // gRPC metadata pairs
	hdr    [][2]string // REST headers; nil: md's pairs as headers
	query  string      // REST query, without '?'
	only   string      // "grpc" or "rest": the case makes sense on one face only
	want   outcome
	rest   *outcome // the REST outcome when it differs from want
}

func (a attack) restHeaders() [][2]string {
	if a.hdr != nil {
		return a.hdr
	}
	var h [][2]string
	for i := 0; i+1 < len(a.md); i += 2 {
		h = append(h, [2]string{a.md[i], a.md[i+1]})
	}
	return h
}

func (a attack) wantOn(grpcFace bool) outcome {
	if !grpcFace && a.rest != nil {
		return *a.rest
	}
	return a.want
}

// tokCase sends tok as the one bearer token on every face.
func tokCase(name, tok string, want outcome) attack {
	return attack{name: name, md: bearer(tok), want: want}
}

// answer is what a call got, in a form that compares with ==.
type answer struct {
	grpc bool
	code codes.Code // gRPC faces
	http int        // REST faces
	msg  string     // the denial's message
	user string     // on success: the user the handler saw
	note string     // anything else wrong (bad body, missing challenge)
}

func (a answer) String() string {
	var s string
	if a.grpc {
		s = a.code.String()
	} else {
		s = fmt.Sprint(a.http)
	}
	if a.msg != "" {
		s += " " + jsonString(a.msg)
	}
	if u := a.user; len(u) > 40 {
		s += fmt.Sprintf(" user=%s… (%d bytes)", jsonString(u[:20]), len(u))
	} else if u != "" {
		s += " user=" + jsonString(u)
	}
	if a.note != "" {
		s += " [" + a.note + "]"
	}
	return s
}

func httpFor(c codes.Code) int { return runtime.HTTPStatusFromCode(c) }

func expected(o outcome, grpcFace bool) answer {
	a := answer{grpc: grpcFace, code: o.code, msg: o.msg, user: o.user}
	if !grpcFace {
		a.code, a.http = 0, httpFor(o.code)
	}
	return a
}

// face is one way in: a gRPC method or a REST route.
type face struct {
	name   string
	grpc   bool
	target target
	call   func(t *testing.T, r *running, a attack) answer
}

func grpcAnswer(err error) answer {
	a := answer{grpc: true, code: status.Code(err)}
	if err != nil {
		a.msg = status.Convert(err).Message()
	}
	return a
}

// restAnswer reads a REST answer: the message of a JSON error body
// (grpc-gateway's google.rpc.Status, or {"error": …} on a streaming route),
// or on success the user of the echo (every line of a stream).
func restAnswer(res httpResult, stream bool) answer {
	a := answer{http: res.code}
	if res.code != http.StatusOK {
		var body struct {
			Message string `json:"message"`
			Error   *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(bytes.TrimSpace(res.body), &body); err != nil {
			a.note = fmt.Sprintf("body %q", res.body)
			return a
		}
		a.msg = body.Message
		if body.Error != nil {
			a.msg = body.Error.Message
		}
		if res.code == http.StatusUnauthorized && !strings.HasPrefix(res.header.Get("WWW-Authenticate"), challenge) {
			a.note = fmt.Sprintf("WWW-Authenticate %q", res.header.Get("WWW-Authenticate"))
		}
		return a
	}
	lines := []string{string(res.body)}
	if stream {
		lines = strings.Split(strings.TrimSuffix(string(res.body), "\n"), "\n")
	}
	for i, line := range lines {
		var r struct {
			Message, User string
			Result        *struct{ Message, User string }
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			a.note = fmt.Sprintf("body %q", res.body)
			return a
		}
		if stream {
			if r.Result == nil {
				a.note = fmt.Sprintf("line %q", line)
				return a
			}
			r.Message, r.User = r.Result.Message, r.Result.User
		}
		if i > 0 && r.User != a.user {
			a.note = fmt.Sprintf("users differ along the stream: %q", res.body)
		}
		a.user = r.User
	}
	return a
}

func withQuery(path, q string) string {
	if q == "" {
		return path
	}
	if strings.Contains(path, "?") {
		return path + "&" + q
	}
	return path + "?" + q
}

var faces = []face{
	{"gRPC UnaryEcho", true, echoTarget, func(t *testing.T, r *running, a attack) answer {
		resp, err := tokengatev1.NewEchoServiceClient(r.conn).UnaryEcho(withMD(testCtx(t), a.md...), &tokengatev1.EchoRequest{Message: "hi"})
		ans := grpcAnswer(err)
		if err == nil {
			ans.user = resp.GetUser()
			if resp.GetMessage() != "hi" {
				ans.note = fmt.Sprintf("message %q", resp.GetMessage())
			}
		}
		return ans
	}},
	{"gRPC ServerStreamingEcho", true, echoTarget, func(t *testing.T, r *running, a attack) answer {
		user, err := echoKinds[1].Do(withMD(testCtx(t), a.md...), tokengatev1.NewEchoServiceClient(r.conn))
		ans := grpcAnswer(err)
		if err == nil {
			ans.user = user
		}
		return ans
	}},
	{"REST POST /v1/echo", false, echoTarget, func(t *testing.T, r *running, a attack) answer {
		return restAnswer(r.do(t, "POST", withQuery("/v1/echo", a.query), a.restHeaders()...), false)
	}},
	{"REST GET /v1/echo/stream", false, echoTarget, func(t *testing.T, r *running, a attack) answer {
		return restAnswer(r.do(t, "GET", withQuery("/v1/echo/stream?message=a+b", a.query), a.restHeaders()...), true)
	}},
	{"gRPC Status", true, statusTarget, func(t *testing.T, r *running, a attack) answer {
		resp, err := tokengatev1.NewStatusServiceClient(r.conn).Status(withMD(testCtx(t), a.md...), &tokengatev1.StatusRequest{})
		ans := grpcAnswer(err)
		if err == nil && resp.GetStatus() != "OK" {
			ans.note = fmt.Sprintf("status %q", resp.GetStatus())
		}
		return ans
	}},
	{"gRPC Health.Check", true, statusTarget, func(t *testing.T, r *running, a attack) answer {
		resp, err := healthpb.NewHealthClient(r.conn).Check(withMD(testCtx(t), a.md...), &healthpb.HealthCheckRequest{})
		ans := grpcAnswer(err)
		if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			ans.note = fmt.Sprintf("health %v", resp.GetStatus())
		}
		return ans
	}},
	{"REST GET /status", false, statusTarget, func(t *testing.T, r *running, a attack) answer {
		res := r.do(t, "GET", withQuery("/status", a.query), a.restHeaders()...)
		ans := restAnswer(res, false)
		if res.code == http.StatusOK && !bytes.Contains(res.body, []byte(`"status":"OK"`)) {
			ans.note = fmt.Sprintf("body %q", res.body)
		}
		ans.user = "" // a status answer names no user
		return ans
	}},
	{"REST GET /metrics", false, metricsTarget, func(t *testing.T, r *running, a attack) answer {
		res := r.do(t, "GET", withQuery("/metrics", a.query), a.restHeaders()...)
		if res.code == http.StatusOK {
			ans := answer{http: res.code}
			if !bytes.Contains(res.body, []byte("go_goroutines")) {
				ans.note = "not the metrics page"
			}
			return ans
		}
		return restAnswer(res, false)
	}},
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

// ---- the record of answers, printed at the end ----

type record struct {
	mu   sync.Mutex
	rows map[string][]string
}

func (r *record) add(kase, face, got string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rows == nil {
		r.rows = map[string][]string{}
	}
	r.rows[kase] = append(r.rows[kase], face+": "+got)
}

func (r *record) log(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.rows))
	for n := range r.rows {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		rows := r.rows[n]
		sort.Strings(rows)
		fmt.Fprintf(&b, "%s\n", n)
		for _, row := range rows {
			fmt.Fprintf(&b, "    %s\n", row)
		}
	}
	t.Logf("answers:\n%s", b.String())
}

// runCases runs every case on every face it applies to, in parallel, each
// followed by the call followUp gives for the same target, which must pass.
func runCases(t *testing.T, r *running, cases []attack, followUp func(target) attack, rec *record) {
	t.Helper()
	for _, c := range cases {
		for _, f := range faces {
			if f.target != c.target || (c.only == "grpc" && !f.grpc) || (c.only == "rest" && f.grpc) {
				continue
			}
			t.Run(c.name+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				got := f.call(t, r, c)
				rec.add(c.name, f.name, got.String())
				if want := expected(c.wantOn(f.grpc), f.grpc); got != want {
					t.Errorf("got %v, want %v", got, want)
				}
				v := followUp(f.target)
				if got, want := f.call(t, r, v), expected(v.want, f.grpc); got != want {
					t.Errorf("the valid call right after: got %v, want %v", got, want)
				}
			})
		}
	}
}

// ---- secrets that must never reach the log ----

type secretSet struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *secretSet) add(name, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	if len(v) >= 16 { // shorter strings could turn up by chance
		s.m[v] = name
	}
}

// addValue adds an authorization (or status token) value: the whole value,
// the token in it and its signature segment.
func (s *secretSet) addValue(name, v string) {
	s.add(name, v)
	if _, tok, ok := strings.Cut(v, " "); ok {
		s.add(name+": token", tok)
		v = tok
	}
	if i := strings.LastIndexByte(v, '.'); i >= 0 {
		s.add(name+": signature", v[i+1:])
	}
}

func (s *secretSet) addCases(cases []attack) {
	for _, c := range cases {
		for i := 1; i < len(c.md); i += 2 {
			s.addValue(c.name, c.md[i])
		}
		for _, h := range c.hdr {
			s.addValue(c.name, h[1])
		}
		if c.query != "" {
			if q, err := url.ParseQuery(c.query); err == nil {
				for _, v := range q["token"] {
					s.add(c.name+": ?token=", v)
				}
			}
		}
	}
}

// checkLog fails if the log shows any of the secrets.
func (s *secretSet) checkLog(t *testing.T, out string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	leaks := 0
	for v, name := range s.m {
		if strings.Contains(out, v) {
			leaks++
			if leaks <= 20 {
				line := out[strings.LastIndexByte(out[:strings.Index(out, v)], '\n')+1:]
				line, _, _ = strings.Cut(line, "\n")
				t.Errorf("the log shows a secret of case %q: %.60q in line %.300q", name, v, strings.ReplaceAll(line, v, "<SECRET>"))
			}
		}
	}
	if leaks > 0 {
		t.Errorf("%d secrets in the log", leaks)
	}
	if !strings.Contains(out, "tokengate: call ") {
		t.Errorf("the log holds no decisions: the check saw nothing")
	}
}

func debugLogger() (*syncBuffer, *slog.Logger) {
	var logs syncBuffer
	return &logs, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// ---- a trap for URLs in token headers ----

// urlTrap listens on loopback and counts connections: URLs in kid, jku and
// x5u point at it, and nothing may ever come.
type urlTrap struct {
	l    net.Listener
	hits atomic.Int32
	done chan struct{}
}

func newURLTrap(t *testing.T) *urlTrap {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &urlTrap{l: l, done: make(chan struct{})}
	go func() {
		defer close(u.done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u.hits.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(u.close)
	return u
}

func (u *urlTrap) url(path string) string { return "http://" + u.l.Addr().String() + path }

func (u *urlTrap) close() { u.l.Close(); <-u.done }

// ---- the cases ----

// attackCases are the token and metadata cases of the main attack demo.
func attackCases(trap *urlTrap) []attack {
	now := time.Now()
	future := now.Add(time.Hour).Unix()
	past := now.Add(-time.Hour).Unix()
	valid := jws(hdrHS256, pl("ana", future), testSecret)
	st := testStatusToken
	sig := segments(valid)[2]
	h, p := segments(valid)[0], segments(valid)[1]

	var cs []attack
	add := func(c ...attack) { cs = append(cs, c...) }

	// Controls: the forging helpers make what the server accepts.
	add(tokCase("control: valid HS256 token", valid, ok("ana")),
		tokCase("control: header members in another order", jws(`{"typ":"JWT","alg":"HS256"}`, pl("ana", future), testSecret), ok("ana")),
		attack{name: "control: scheme in upper case", md: []string{"authorization", "BEARER " + valid}, want: ok("ana")})

	// Algorithms.
	noneHdr := `{"alg":"none","typ":"JWT"}`
	noneSI := seg(noneHdr) + "." + seg(pl("ana", future))
	add(tokCase("alg none, no signature", noneSI+".", denied(mMalformed)),
		tokCase("alg none, HS256 signature with the secret", signRaw(noneSI, testSecret), denied(mAlg)),
		tokCase("alg none, random signature", noneSI+"."+seg("not a signature at all, 32 byte"), denied(mSig)),
		tokCase("alg NONE, HS256 signature with the secret", jws(`{"alg":"NONE","typ":"JWT"}`, pl("ana", future), testSecret), denied(mAlg)),
		tokCase("alg HS384 signed with HMAC-SHA384", jwsWith(sha512.New384, `{"alg":"HS384","typ":"JWT"}`, pl("ana", future), testSecret), denied(mSig)),
		tokCase("alg HS512 signed with HMAC-SHA512", jwsWith(sha512.New, `{"alg":"HS512","typ":"JWT"}`, pl("ana", future), testSecret), denied(mSig)),
		tokCase("alg HS384 header, HMAC-SHA256 signature", jws(`{"alg":"HS384","typ":"JWT"}`, pl("ana", future), testSecret), denied(mAlg)),
		tokCase("alg RS256 header, HMAC-SHA256 signature with the secret (confusion)", jws(`{"alg":"RS256","typ":"JWT"}`, pl("ana", future), testSecret), denied(mAlg)),
		tokCase("alg ES256 header, HMAC-SHA256 signature with the secret", jws(`{"alg":"ES256","typ":"JWT"}`, pl("ana", future), testSecret), denied(mAlg)),
		tokCase("alg hs256 (lower case), valid signature", jws(`{"alg":"hs256","typ":"JWT"}`, pl("ana", future), testSecret), denied(mAlg)),
		tokCase("alg \"HS256 \" (trailing space), valid signature", jws(`{"alg":"HS256 ","typ":"JWT"}`, pl("ana", future), testSecret), denied(mAlg)),
		tokCase("alg missing, valid signature", jws(`{"typ":"JWT"}`, pl("ana", future), testSecret), denied(mAlg)),
		tokCase("alg null, valid signature", jws(`{"alg":null,"typ":"JWT"}`, pl("ana", future), testSecret), denied(mAlg)),
		tokCase("alg [\"HS256\"], valid signature", jws(`{"alg":["HS256"],"typ":"JWT"}`, pl("ana", future), testSecret), denied(mMalformed)),
		tokCase("header not JSON, valid signature", jws(`{alg:HS256}`, pl("ana", future), testSecret), denied(mMalformed)),
		tokCase("header a JSON array, valid signature", jws(`["alg","HS256"]`, pl("ana", future), testSecret), denied(mMalformed)),
		// Duplicate members: the last one counts, as in Python's json.
		tokCase("alg twice, none then HS256", jws(`{"alg":"none","alg":"HS256"}`, pl("ana", future), testSecret), ok("ana")),
		tokCase("alg twice, HS256 then none", jws(`{"alg":"HS256","alg":"none"}`, pl("ana", future), testSecret), denied(mAlg)),
		// Header parameter names are case-sensitive (RFC 7515 §4): ALG is
		// not alg, and alg is required (§4.1.1); python-jose reads
		// header["alg"] exactly.
		tokCase("header ALG=HS256 and no alg", jws(`{"ALG":"HS256","typ":"JWT"}`, pl("ana", future), testSecret), denied(mAlg)),
		tokCase("header alg=HS256 then Alg=none", jws(`{"alg":"HS256","Alg":"none","typ":"JWT"}`, pl("ana", future), testSecret), ok("ana")),
	)

	// Key-locating headers are ignored, never fetched; embedded keys and
	// kid tricks change nothing: the key is the secret.
	kidHdr := func(extra string) string { return `{"alg":"HS256","typ":"JWT",` + extra + `}` }
	add(tokCase("kid URL", jws(kidHdr(`"kid":`+jsonString(trap.url("/kid"))), pl("ana", future), testSecret), ok("ana")),
		tokCase("jku URL", jws(kidHdr(`"jku":`+jsonString(trap.url("/jwks.json"))), pl("ana", future), testSecret), ok("ana")),
		tokCase("x5u URL", jws(kidHdr(`"x5u":`+jsonString(trap.url("/cert.pem"))), pl("ana", future), testSecret), ok("ana")),
		tokCase("kid, jku and x5u URLs", jws(kidHdr(`"kid":`+jsonString(trap.url("/k"))+`,"jku":`+jsonString(trap.url("/j"))+`,"x5u":`+jsonString(trap.url("/x"))), pl("ana", future), testSecret), ok("ana")),
		tokCase("jku URL, signed with another key", jws(kidHdr(`"jku":`+jsonString(trap.url("/evil.json"))), pl("ana", future), "attacker-key-attacker-key-attacker-key"), denied(mSig)),
		tokCase("embedded jwk, signed with that key", jws(kidHdr(`"jwk":{"kty":"oct","k":"`+seg("attacker-key")+`"}`), pl("ana", future), "attacker-key"), denied(mSig)),
		tokCase("kid path traversal to /dev/null, signed with an empty key", jws(kidHdr(`"kid":"../../../../../../dev/null"`), pl("ana", future), ""), denied(mSig)),
		tokCase("kid SQL injection, signed with the injected key", jws(kidHdr(`"kid":"x' UNION SELECT 'k'--"`), pl("ana", future), "k"), denied(mSig)),
		// RFC 7515 §4.1.11 says a recipient must reject a crit extension it
		// does not understand; like python-jose, tokengate ignores crit.
		tokCase("crit with an unknown extension, valid signature", jws(kidHdr(`"crit":["x-unknown"],"x-unknown":true`), pl("ana", future), testSecret), ok("ana")),
	)

	// Shape.
	std := func(s string) string { return strings.NewReplacer("-", "+", "_", "/").Replace(s) }
	plusTok, slashTok := valid, valid
	for i := int64(1); !strings.Contains(segments(plusTok)[2], "-") || !strings.Contains(segments(slashTok)[2], "_"); i++ {
		tk := jws(hdrHS256, pl("ana", future+i), testSecret)
		if !strings.Contains(segments(plusTok)[2], "-") {
			plusTok = tk
		}
		if !strings.Contains(segments(slashTok)[2], "_") {
			slashTok = tk
		}
	}
	plusSegs, slashSegs := segments(plusTok), segments(slashTok)
	paddedPayload := base64.URLEncoding.EncodeToString([]byte(pl("ana", future) + " ")) // length not a multiple of 3
	if !strings.HasSuffix(paddedPayload, "=") {
		paddedPayload = base64.URLEncoding.EncodeToString([]byte(pl("ana", future) + "  "))
	}
	rawSig, _ := base64.RawURLEncoding.DecodeString(sig)
	flipped := append([]byte(nil), rawSig...)
	flipped[0] ^= 1
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[len(sig)-1])
	nonCanonical := sig[:len(sig)-1] + string(alphabet[last|1]) // same bytes, spare bits set
	add(tokCase("two segments", h+"."+p, denied(mMalformed)),
		tokCase("two segments, header and signature", h+"."+sig, denied(mMalformed)),
		tokCase("four segments", valid+"."+sig, denied(mMalformed)),
		tokCase("five segments (JWE shape)", h+"."+p+"."+p+"."+p+"."+sig, denied(mMalformed)),
		tokCase("one segment", sig, denied(mMalformed)),
		tokCase("only dots", "..", denied(mMalformed)),
		tokCase("empty header segment, signed", signRaw("."+p, testSecret), denied(mMalformed)),
		tokCase("empty payload segment, signed", signRaw(h+".", testSecret), denied(mMalformed)),
		tokCase("empty signature segment", h+"."+p+".", denied(mMalformed)),
		tokCase("padded payload segment, signed", signRaw(h+"."+paddedPayload, testSecret), denied(mMalformed)),
		tokCase("padded signature segment", valid+"=", denied(mMalformed)),
		tokCase("padded header segment", h+"=."+p+"."+sig, denied(mMalformed)),
		tokCase("signature with + for -", plusSegs[0]+"."+plusSegs[1]+"."+std(plusSegs[2]), denied(mMalformed)),
		tokCase("signature with / for _", slashSegs[0]+"."+slashSegs[1]+"."+std(slashSegs[2]), denied(mMalformed)),
		tokCase("signature with non-canonical last character", h+"."+p+"."+nonCanonical, denied(mMalformed)),
		tokCase("space inside the token", valid[:20]+" "+valid[20:], denied(mMalformed)),
		tokCase("two spaces after Bearer", " "+valid, denied(mMalformed)),
		tokCase("Bearer twice", "Bearer "+valid, denied(mMalformed)),
		// 40 characters: 30 bytes, no spare bits, so it decodes.
		tokCase("signature cut by 3 characters", valid[:len(valid)-3], denied(mSig)),
		// 41 characters cannot be base64.
		tokCase("signature cut by 2 characters", valid[:len(valid)-2], denied(mMalformed)),
		// Go's HTTP client and server trim spaces around a header value
		// (RFC 9110 §5.5: OWS is not part of the value); gRPC metadata is
		// not trimmed.
		attack{name: "space after the token", md: []string{"authorization", "Bearer " + valid + " "},
			want: denied(mMalformed), rest: &outcome{code: codes.OK, user: "ana"}},
		attack{name: "no scheme", md: []string{"authorization", valid}, want: denied(mNotBearer)},
		attack{name: "scheme Token", md: []string{"authorization", "Token " + valid}, want: denied(mNotBearer)},
		attack{name: "scheme Basic", md: []string{"authorization", "Basic " + seg("ana:"+valid)}, want: denied(mNotBearer)},
		attack{name: "Bearer alone", md: []string{"authorization", "Bearer"}, want: denied(mMissing)},
		attack{name: "Bearer and a space", md: []string{"authorization", "Bearer "}, want: denied(mMissing)},
		attack{name: "empty authorization", md: []string{"authorization", ""}, want: denied(mMissing)},
	)

	// Size.
	long := func(n int) string {
		u := strings.Repeat("a", n)
		return jws(hdrHS256, pl(u, future), testSecret)
	}
	exact8K := ""
	for n := 6000; n < 6200; n++ {
		if tk := long(n); len(tk) == 8<<10 {
			exact8K = tk
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
	add(tokCase("token of exactly 8 KiB, valid", exact8K, ok(user8K)),
		tokCase("token of 8 KiB + 1, valid signature", over8K(future), denied(mTooLarge)),
		tokCase("token of 9 KiB, valid signature", long(7000), denied(mTooLarge)),
		tokCase("60 KiB of garbage", strings.Repeat("A", 60<<10), denied(mTooLarge)),
	)

	// Two values, spoofed keys.
	add(attack{name: "two authorization values, both valid", md: append(bearer(valid), bearer(valid)...), want: denied(mTwo)},
		attack{name: "two authorization values, valid and garbage", md: append(bearer(valid), bearer("garbage")...), want: denied(mTwo)},
		attack{name: "two authorization values, garbage and valid", md: append(bearer("garbage"), bearer(valid)...), want: denied(mTwo)},
		attack{name: "two authorization values, valid and empty", md: append(bearer(valid), "authorization", ""), want: denied(mTwo)},
		// grpc-gateway drops an Authorization value that is not printable
		// ASCII; gateway.Handler refuses the request instead, so the other
		// one never passes as the only one.
		attack{name: "two Authorization headers, valid and one with a tab", only: "rest",
			hdr: [][2]string{auth(valid), {"Authorization", "Bearer\t" + valid}}, want: denied(mNotASCII)},
		attack{name: "two Authorization headers, valid and one with byte 0xff", only: "rest",
			hdr: [][2]string{auth(valid), {"Authorization", "Bearer " + valid + "\xff"}}, want: denied(mNotASCII)},
		attack{name: "Grpc-Metadata-Authorization spoofing", only: "rest",
			hdr: [][2]string{{"Grpc-Metadata-Authorization", "Bearer " + valid}}, want: denied(mMissing)},
		attack{name: "Grpc-Metadata-Authorization spoofing next to a bad token", only: "rest",
			hdr: [][2]string{{"Grpc-Metadata-Authorization", "Bearer " + valid}, auth("garbage")}, want: denied(mMalformed)},
		attack{name: "grpcgateway-authorization metadata spoofing", only: "grpc",
			md: []string{"grpcgateway-authorization", "Bearer " + valid}, want: denied(mMissing)},
		attack{name: "X-Status-Token header on echo", only: "rest",
			hdr: [][2]string{{"X-Status-Token", st}}, want: denied(mMissing)},
		attack{name: "Grpc-Metadata-X-Status-Token header on echo", only: "rest",
			hdr: [][2]string{{"Grpc-Metadata-X-Status-Token", st}}, want: denied(mMissing)},
		attack{name: "status token as x-status-token metadata on echo", md: []string{"x-status-token", st}, want: denied(mMissing)},
		attack{name: "status token as a bearer token on echo", md: bearer(st), want: denied(mMalformed)},
		attack{name: "?token=STATUS_TOKEN on echo", only: "rest", query: "token=" + st, want: denied(mMissing)},
		attack{name: "?token=STATUS_TOKEN and X-Status-Token on echo", only: "rest", query: "token=" + st,
			hdr: [][2]string{{"X-Status-Token", st}, {"Grpc-Metadata-X-Status-Token", st}}, want: denied(mMissing)},
	)

	// Status and metrics routes.
	add(attack{name: "status: status token (control)", target: statusTarget, md: []string{"x-status-token", st},
		query: "token=" + st, want: ok("")},
		attack{name: "status: valid bearer token (control)", target: statusTarget, md: bearer(valid), want: ok("")},
		attack{name: "status: status token as a bearer token", target: statusTarget, md: bearer(st), want: denied(mMalformed)},
		attack{name: "status: status token as the whole authorization value", target: statusTarget,
			md: []string{"authorization", st}, want: denied(mNotBearer)},
		attack{name: "status: X-Status-Token header", target: statusTarget, only: "rest",
			hdr: [][2]string{{"X-Status-Token", st}}, want: denied(mMissing)},
		attack{name: "status: Grpc-Metadata-X-Status-Token header", target: statusTarget, only: "rest",
			hdr: [][2]string{{"Grpc-Metadata-X-Status-Token", st}}, want: denied(mMissing)},
		attack{name: "status: status token with a trailing space", target: statusTarget,
			md: []string{"x-status-token", st + " "}, query: "token=" + url.QueryEscape(st+" "), want: denied(mMissing)},
		attack{name: "status: status token without its last character", target: statusTarget,
			md: []string{"x-status-token", st[:len(st)-1]}, query: "token=" + st[:len(st)-1], want: denied(mMissing)},
		attack{name: "status: status token in upper case", target: statusTarget,
			md: []string{"x-status-token", strings.ToUpper(st)}, query: "token=" + strings.ToUpper(st), want: denied(mMissing)},
		attack{name: "status: ?TOKEN= (parameter name in upper case)", target: statusTarget, only: "rest",
			query: "TOKEN=" + st, want: denied(mMissing)},
		attack{name: "status: status token twice", target: statusTarget,
			md: []string{"x-status-token", st, "x-status-token", st}, query: "token=" + st + "&token=" + st, want: denied(mMissing)},
		attack{name: "metrics: valid bearer token (control)", target: metricsTarget, md: bearer(valid), want: ok("")},
		attack{name: "metrics: ?token=STATUS_TOKEN", target: metricsTarget, query: "token=" + st, want: denied(mMissing)},
		attack{name: "metrics: X-Status-Token header", target: metricsTarget, hdr: [][2]string{{"X-Status-Token", st}}, want: denied(mMissing)},
		attack{name: "metrics: status token as a bearer token", target: metricsTarget, md: bearer(st), want: denied(mMalformed)},
		attack{name: "metrics: Grpc-Metadata-Authorization spoofing", target: metricsTarget,
			hdr: [][2]string{{"Grpc-Metadata-Authorization", "Bearer " + valid}}, want: denied(mMissing)},
		attack{name: "metrics: two Authorization headers", target: metricsTarget, md: append(bearer(valid), bearer(valid)...), want: denied(mTwo)},
		attack{name: "metrics: alg none", target: metricsTarget, md: bearer(noneSI + "."), want: denied(mMalformed)},
	)

	// exp, nbf, iat.
	claim := func(body string) string { return jws(hdrHS256, body, testSecret) }
	add(tokCase("exp missing", claim(`{"user":"ana"}`), denied(mNoExp)),
		tokCase("exp null", claim(`{"user":"ana","exp":null}`), denied(mNoExp)),
		tokCase("exp a string of digits", claim(fmt.Sprintf(`{"user":"ana","exp":"%d"}`, future)), denied(mClaims)),
		tokCase("exp true", claim(`{"user":"ana","exp":true}`), denied(mClaims)),
		tokCase("exp an object", claim(`{"user":"ana","exp":{"t":1}}`), denied(mClaims)),
		tokCase("exp a float in the future", claim(fmt.Sprintf(`{"user":"ana","exp":%d.75}`, future)), ok("ana")),
		tokCase("exp in exponent notation in the future", claim(fmt.Sprintf(`{"user":"ana","exp":%de0}`, future)), ok("ana")),
		tokCase("exp negative", claim(`{"user":"ana","exp":-1}`), denied(mExpired)),
		tokCase("exp 0", claim(`{"user":"ana","exp":0}`), denied(mExpired)),
		tokCase("exp far past", claim(`{"user":"ana","exp":1000000000}`), denied(mExpired)),
		tokCase("exp an hour ago", claim(pl("ana", past)), denied(mExpired)),
		tokCase("exp in the year 9999", claim(`{"user":"ana","exp":253402300799}`), ok("ana")),
		// Beyond what a time.Time holds; refused rather than taken for
		// "never expires".
		// Beyond 2^53 seconds a NumericDate has no exact meaning (and
		// converts differently per platform): refused as a bad claim.
		tokCase("exp 1e300", claim(`{"user":"ana","exp":1e300}`), denied(mClaims)),
		tokCase("exp -1e300", claim(`{"user":"ana","exp":-1e300}`), denied(mClaims)),
		tokCase("exp 2^53, the largest accepted", claim(`{"user":"ana","exp":9007199254740992}`), ok("ana")),
		tokCase("nbf in the future", claim(fmt.Sprintf(`{"user":"ana","exp":%d,"nbf":%d}`, future, now.Add(10*time.Minute).Unix())), denied(mNotYet)),
		tokCase("nbf in the past", claim(fmt.Sprintf(`{"user":"ana","exp":%d,"nbf":%d}`, future, past)), ok("ana")),
		tokCase("nbf a string", claim(fmt.Sprintf(`{"user":"ana","exp":%d,"nbf":"0"}`, future)), denied(mClaims)),
		tokCase("iat in the future", claim(fmt.Sprintf(`{"user":"ana","exp":%d,"iat":%d}`, future, now.Add(10*time.Minute).Unix())), denied(mNotYet)),
		tokCase("iat in the past", claim(fmt.Sprintf(`{"user":"ana","exp":%d,"iat":%d}`, future, past)), ok("ana")),
	)

	// user.
	add(tokCase("user missing", claim(fmt.Sprintf(`{"exp":%d}`, future)), denied(mUser)),
		tokCase("user null", claim(fmt.Sprintf(`{"user":null,"exp":%d}`, future)), denied(mUser)),
		tokCase("user a number", claim(fmt.Sprintf(`{"user":42,"exp":%d}`, future)), denied(mUser)),
		tokCase("user an array", claim(fmt.Sprintf(`{"user":["ana"],"exp":%d}`, future)), denied(mUser)),
		tokCase("user an object", claim(fmt.Sprintf(`{"user":{"name":"ana"},"exp":%d}`, future)), denied(mUser)),
		tokCase("user true", claim(fmt.Sprintf(`{"user":true,"exp":%d}`, future)), denied(mUser)),
		tokCase("user blank", claim(pl("", future)), denied(mUser)),
		tokCase("user whitespace", claim(pl(" \t\n\u00a0\u3000", future)), denied(mUser)),
		tokCase("user unicode (UTF-8)", claim(pl("Zoë 日本 🚀", future)), ok("Zoë 日本 🚀")),
		tokCase("user unicode (\\u escapes, as Python writes)", claim(fmt.Sprintf(`{"user":"Zo\u00eb \ud83d\ude80","exp":%d}`, future)), ok("Zoë 🚀")),
		tokCase("user with a NUL escape", claim(fmt.Sprintf(`{"user":"ana\u0000","exp":%d}`, future)), ok("ana\x00")),
		tokCase("user with a newline", claim(pl("ana\nlevel=ERROR msg=forged", future)), ok("ana\nlevel=ERROR msg=forged")),
		tokCase("user with spaces around", claim(pl(" ana ", future)), ok(" ana ")),
	)

	// Payload and signature.
	tampered := h + "." + seg(pl("admin", future)) + "." + sig
	add(tokCase("payload a JSON array", claim(`["user","ana","exp",9999999999]`), denied(mClaims)),
		tokCase("payload a JSON string", claim(`"ana"`), denied(mClaims)),
		tokCase("payload a JSON number", claim(`12345`), denied(mClaims)),
		tokCase("payload null", claim(`null`), denied(mClaims)),
		tokCase("payload {}", claim(`{}`), denied(mNoExp)),
		tokCase("payload not JSON", claim(`user=ana&exp=9999999999`), denied(mClaims)),
		tokCase("payload with trailing garbage", claim(pl("ana", future)+"x"), denied(mClaims)),
		tokCase("payload two JSON objects", claim(pl("ana", future)+pl("admin", future)), denied(mClaims)),
		tokCase("payload whitespace only", claim("  "), denied(mClaims)),
		tokCase("tampered payload (user changed, signature kept)", tampered, denied(mSig)),
		tokCase("tampered signature (one bit flipped)", h+"."+p+"."+base64.RawURLEncoding.EncodeToString(flipped), denied(mSig)),
		tokCase("signature of another token", h+"."+p+"."+segments(jws(hdrHS256, pl("bob", future), testSecret))[2], denied(mSig)),
		tokCase("signed with the previous secret (PreviousSecret set)", jws(hdrHS256, pl("ana", future), attackPreviousSecret), ok("ana")),
		tokCase("signed with another secret", jws(hdrHS256, pl("ana", future), otherSecret), denied(mSig)),
		tokCase("signed with the status token", jws(hdrHS256, pl("ana", future), st), denied(mSig)),
		tokCase("signed with an empty key", jws(hdrHS256, pl("ana", future), ""), denied(mSig)),
		tokCase("signed with the secret and a newline", jws(hdrHS256, pl("ana", future), testSecret+"\n"), denied(mSig)),
	)

	// Claim names are case-sensitive (token/verify.go readPayload): only
	// "user", "exp", "nbf", "iat" exactly; a duplicate member: the last.
	add(tokCase("USER and user", claim(fmt.Sprintf(`{"USER":"admin","user":"ana","exp":%d}`, future)), ok("ana")),
		tokCase("user and USER", claim(fmt.Sprintf(`{"user":"ana","USER":"admin","exp":%d}`, future)), ok("ana")),
		tokCase("User without user", claim(fmt.Sprintf(`{"User":"admin","exp":%d}`, future)), denied(mUser)),
		tokCase("uſer (long s) without user", claim(fmt.Sprintf(`{"uſer":"admin","exp":%d}`, future)), denied(mUser)),
		tokCase("EXP without exp", claim(fmt.Sprintf(`{"user":"ana","EXP":%d}`, future)), denied(mNoExp)),
		tokCase("exp past and Exp future", claim(fmt.Sprintf(`{"user":"ana","exp":%d,"Exp":%d}`, past, future)), denied(mExpired)),
		tokCase("NBF in the future is not nbf", claim(fmt.Sprintf(`{"user":"ana","exp":%d,"NBF":%d}`, future, future)), ok("ana")),
		tokCase("user escaped as \\u0075ser", claim(fmt.Sprintf(`{"\u0075ser":"ana","exp":%d}`, future)), ok("ana")),
		tokCase("user twice, admin then ana", claim(fmt.Sprintf(`{"user":"admin","user":"ana","exp":%d}`, future)), ok("ana")),
	)
	return cs
}

// over8K is a validly signed token one byte over 8 KiB.
func over8K(exp int64) string {
	for n := 6000; n < 6200; n++ {
		if tk := jws(hdrHS256, pl(strings.Repeat("b", n), exp), testSecret); len(tk) == 8<<10+1 {
			return tk
		}
	}
	return jws(hdrHS256, pl(strings.Repeat("b", 6100), exp), testSecret)
}

// ---- raw connections ----

// dialRaw opens a TCP connection to addr that gives up after 10 s; the
// caller closes it.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}

// rawHTTP sends req as bytes on a new TCP connection and reads the answer.
func rawHTTP(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	conn := dialRaw(t, addr)
	defer conn.Close()
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func rawEchoRequest(authValue string) string {
	const body = `{"message":"hi"}`
	return "POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\nConnection: close\r\n", len(body)) +
		"Authorization: " + authValue + "\r\n\r\n" + body
}

// h2Answer is what came back on a raw HTTP/2 gRPC request.
type h2Answer struct {
	grpcStatus, grpcMessage string
	rst, goAway             *http2.ErrCode
}

func (a h2Answer) String() string {
	switch {
	case a.rst != nil:
		return "RST_STREAM " + a.rst.String()
	case a.goAway != nil:
		return "GOAWAY " + a.goAway.String()
	}
	return fmt.Sprintf("grpc-status %s %q", a.grpcStatus, a.grpcMessage)
}

// rawGRPC makes one UnaryEcho call on a new HTTP/2 connection, writing the
// header fields as given: no client-side validation.
func rawGRPC(t *testing.T, addr string, fields ...hpack.HeaderField) h2Answer {
	t.Helper()
	conn := dialRaw(t, addr)
	defer conn.Close()
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range append([]hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/tokengate.v1.EchoService/UnaryEcho"},
		{Name: ":authority", Value: addr},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	}, fields...) {
		if err := enc.WriteField(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	msg, err := proto.Marshal(&tokengatev1.EchoRequest{Message: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	if err := fr.WriteData(1, true, append(frame, msg...)); err != nil {
		t.Fatal(err)
	}
	var a h2Answer
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("raw HTTP/2: %v (so far %v)", err, a)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = fr.WritePing(true, f.Data)
			}
		case *http2.MetaHeadersFrame:
			for _, hf := range f.Fields {
				switch hf.Name {
				case "grpc-status":
					a.grpcStatus = hf.Value
				case "grpc-message":
					a.grpcMessage, _ = url.PathUnescape(hf.Value)
				}
			}
			if f.StreamEnded() {
				return a
			}
		case *http2.RSTStreamFrame:
			code := f.ErrCode
			a.rst = &code
			return a
		case *http2.GoAwayFrame:
			code := f.ErrCode
			a.goAway = &code
			return a
		}
	}
}

// ctlValue is an authorization value with bytes that grpc-go refuses to
// send and Go's HTTP client refuses to write.
type ctlValue struct {
	name  string
	value string
	h2    string // the raw HTTP/2 answer of the gRPC server
	http1 int    // the raw HTTP/1.1 answer of the REST side
	msg1  string // and the message of its JSON error body, if any
}

func ctlValues(valid string) []ctlValue {
	in := func(s string) string { return "Bearer " + valid[:20] + s + valid[20:] }
	protoErr := "RST_STREAM PROTOCOL_ERROR"
	return []ctlValue{
		{"NUL inside the token", in("\x00"), protoErr, 400, ""},
		{"NUL after the token", "Bearer " + valid + "\x00", protoErr, 400, ""},
		{"CR inside the token", in("\r"), protoErr, 400, ""},
		{"LF inside the token", in("\n"), protoErr, 400, ""},
		{"CRLF inside the token", in("\r\n"), protoErr, 400, ""},
		// Go's HTTP/1.1 server unfolds obs-fold into a space (RFC 9112
		// §5.2 allows it): the token then holds a space.
		{"CRLF and a space inside the token (obs-fold)", in("\r\n "), protoErr, 401, mMalformed},
		{"SOH inside the token", in("\x01"), protoErr, 400, ""},
		{"ESC inside the token", in("\x1b"), protoErr, 400, ""},
		{"DEL inside the token", in("\x7f"), protoErr, 400, ""},
		// HTAB and bytes >= 0x80 are legal in HTTP field values, so they
		// reach the server: a tab is not a space to the bearer parser, and
		// the gateway refuses a value that is not printable ASCII.
		{"tab between scheme and token", "Bearer\t" + valid, `grpc-status 16 "` + mNotBearer + `"`, 401, mNotASCII},
		{"tab inside the token", in("\t"), `grpc-status 16 "` + mMalformed + `"`, 401, mNotASCII},
		{"byte 0xff after the token", "Bearer " + valid + "\xff", `grpc-status 16 "` + mMalformed + `"`, 401, mNotASCII},
		{"é after the token", "Bearer " + valid + "é", `grpc-status 16 "` + mMalformed + `"`, 401, mNotASCII},
	}
}

// tracedConn is a gRPC connection that remembers the local addresses of
// the TCP connections it opens: the server's decision log names them as the
// peer, so the log tells which calls of this connection reached the
// server's authentication.
type tracedConn struct {
	*grpc.ClientConn
	mu    sync.Mutex
	addrs []string
}

func newTracedConn(t *testing.T, addr string) *tracedConn {
	t.Helper()
	tc := &tracedConn{}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", a)
			if err == nil {
				tc.mu.Lock()
				tc.addrs = append(tc.addrs, c.LocalAddr().String())
				tc.mu.Unlock()
			}
			return c, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	tc.ClientConn = conn
	t.Cleanup(func() { conn.Close() })
	return tc
}

// decisions counts the decision log records of calls made on tc.
func (tc *tracedConn) decisions(log string) int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "tokengate: call ") {
			continue
		}
		for _, a := range tc.addrs {
			if strings.Contains(line, " peer="+a) {
				n++
			}
		}
	}
	return n
}

// TestAttack runs the attack suite against one demo, then checks that its
// debug log shows no token, signature, secret or status token.
func TestAttack(t *testing.T) {
	t.Parallel()
	logs, logger := debugLogger()
	r := startDemo(t, attackAuth, logger)
	trap := newURLTrap(t)
	valid := jws(hdrHS256, pl("ana", time.Now().Add(time.Hour).Unix()), testSecret)
	cases := attackCases(trap)
	rec := &record{}
	secrets := &secretSet{}
	secrets.add("secret", testSecret)
	secrets.add("previous secret", attackPreviousSecret)
	secrets.add("status token", testStatusToken)
	secrets.addValue("valid", "Bearer "+valid)
	secrets.addCases(cases)
	ctls := ctlValues(valid)
	for _, c := range ctls {
		secrets.addValue(c.name, c.value)
	}
	big := "Bearer " + strings.Repeat("x", 20<<20)
	type refusedCall struct {
		name string
		conn *tracedConn
	}
	var (
		mu      sync.Mutex
		refused []refusedCall // calls grpc-go refused to send
	)

	t.Run("cases", func(t *testing.T) {
		runCases(t, r, cases, validFor(valid), rec)

		for _, c := range ctls {
			t.Run(c.name+"/gRPC client", func(t *testing.T) {
				t.Parallel()
				conn := newTracedConn(t, r.d.grpcAddr)
				echo := tokengatev1.NewEchoServiceClient(conn)
				_, err := echo.UnaryEcho(withMD(testCtx(t), "authorization", c.value), &tokengatev1.EchoRequest{Message: "hi"})
				got := grpcAnswer(err)
				rec.add(c.name, "gRPC client (grpc-go)", got.String())
				want := answer{grpc: true, code: codes.Internal, msg: `header key "authorization" contains value with non-printable ASCII characters`}
				if got != want {
					t.Errorf("got %v, want %v", got, want)
				}
				if _, err := echo.UnaryEcho(withMD(testCtx(t), bearer(valid)...), &tokengatev1.EchoRequest{Message: "hi"}); err != nil {
					t.Errorf("valid call on the same connection: %v", err)
				}
				// Checked once the demo has stopped: exactly one decision
				// (the valid call's) on this connection.
				mu.Lock()
				refused = append(refused, refusedCall{c.name, conn})
				mu.Unlock()
			})
			t.Run(c.name+"/raw HTTP/2", func(t *testing.T) {
				t.Parallel()
				got := rawGRPC(t, r.d.grpcAddr, hpack.HeaderField{Name: "authorization", Value: c.value})
				rec.add(c.name, "gRPC port, raw HTTP/2", got.String())
				if got.String() != c.h2 {
					t.Errorf("got %v, want %s", got, c.h2)
				}
				if _, err := tokengatev1.NewEchoServiceClient(r.conn).UnaryEcho(withMD(testCtx(t), bearer(valid)...), &tokengatev1.EchoRequest{Message: "hi"}); err != nil {
					t.Errorf("valid call right after: %v", err)
				}
			})
			t.Run(c.name+"/raw HTTP/1.1", func(t *testing.T) {
				t.Parallel()
				code, body := rawHTTP(t, r.d.httpAddr, rawEchoRequest(c.value))
				rec.add(c.name, "REST port, raw HTTP/1.1", fmt.Sprintf("%d %.80q", code, body))
				var e struct{ Message string }
				_ = json.Unmarshal([]byte(body), &e)
				if code != c.http1 || e.Message != c.msg1 || code == 200 || code >= 500 {
					t.Errorf("got %d %q, want %d %q", code, body, c.http1, c.msg1)
				}
				if res := r.do(t, "POST", "/v1/echo", auth(valid)); res.code != 200 {
					t.Errorf("valid call right after: %d %s", res.code, res.body)
				}
			})
		}

		t.Run("raw HTTP/2 controls", func(t *testing.T) {
			t.Parallel()
			for _, c := range []struct {
				name   string
				fields []hpack.HeaderField
				want   string
			}{
				{"valid token", []hpack.HeaderField{{Name: "authorization", Value: "Bearer " + valid}}, `grpc-status 0 ""`},
				{"no token", nil, `grpc-status 16 "` + mMissing + `"`},
				{"two authorization fields", []hpack.HeaderField{{Name: "authorization", Value: "Bearer " + valid}, {Name: "authorization", Value: "Bearer " + valid}},
					`grpc-status 16 "` + mTwo + `"`},
				{"Authorization in upper case", []hpack.HeaderField{{Name: "Authorization", Value: "Bearer " + valid}}, "RST_STREAM PROTOCOL_ERROR"},
			} {
				got := rawGRPC(t, r.d.grpcAddr, c.fields...)
				rec.add("raw HTTP/2: "+c.name, "gRPC port, raw HTTP/2", got.String())
				if got.String() != c.want {
					t.Errorf("%s: got %v, want %s", c.name, got, c.want)
				}
			}
		})

		t.Run("raw HTTP/1.1 control: valid token", func(t *testing.T) {
			t.Parallel()
			code, body := rawHTTP(t, r.d.httpAddr, rawEchoRequest("Bearer "+valid))
			rec.add("raw HTTP/1.1: valid token", "REST port, raw HTTP/1.1", fmt.Sprintf("%d %.80q", code, body))
			if code != 200 || !strings.Contains(body, `"user":"ana"`) {
				t.Errorf("got %d %q", code, body)
			}
		})

		t.Run("gRPC metadata of 20 MiB", func(t *testing.T) {
			t.Parallel()
			// Its own connection: the server may close the connection
			// over it, which would fail the other cases' calls.
			conn := newTracedConn(t, r.d.grpcAddr)
			echo := tokengatev1.NewEchoServiceClient(conn)
			_, err := echo.UnaryEcho(withMD(testCtx(t), "authorization", big), &tokengatev1.EchoRequest{Message: "hi"})
			got := grpcAnswer(err)
			rec.add("gRPC metadata of 20 MiB", "gRPC UnaryEcho", got.String())
			if got.code == codes.OK || got.code == codes.Unknown || got.code == codes.Unauthenticated {
				t.Errorf("got %v, want a transport error", got)
			}
			for _, c := range []*grpc.ClientConn{conn.ClientConn, r.conn} {
				if _, err := tokengatev1.NewEchoServiceClient(c).UnaryEcho(withMD(testCtx(t), bearer(valid)...), &tokengatev1.EchoRequest{Message: "hi"}); err != nil {
					t.Errorf("valid call right after: %v", err)
				}
			}
		})

		t.Run("REST header over 64 KiB", func(t *testing.T) {
			t.Parallel()
			for _, name := range []string{"Authorization", "X-Padding"} {
				v := "Bearer " + strings.Repeat("x", 100<<10)
				req := "POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n" + name + ": " + v + "\r\n\r\n"
				code, body := rawHTTP(t, r.d.httpAddr, req)
				rec.add("REST header of 100 KiB ("+name+")", "REST port, raw HTTP/1.1", fmt.Sprintf("%d %.80q", code, body))
				if code != http.StatusRequestHeaderFieldsTooLarge {
					t.Errorf("%s of 100 KiB: %d %q, want 431", name, code, body)
				}
			}
			if res := r.do(t, "POST", "/v1/echo", auth(valid)); res.code != 200 {
				t.Errorf("valid call right after: %d %s", res.code, res.body)
			}
		})
	})

	if n := trap.hits.Load(); n != 0 {
		t.Errorf("the server fetched a URL from a token header %d times", n)
	}
	r.stop()
	out := logs.String()
	for _, c := range refused {
		if n := c.conn.decisions(out); n != 1 {
			t.Errorf("%s: %d decisions on the connection, want 1 (the valid call's): the refused call reached the server", c.name, n)
		}
	}
	secrets.checkLog(t, out)
	// A user name cannot forge a log record: slog quotes it.
	if strings.Contains(out, "\nlevel=ERROR msg=forged") {
		t.Errorf("a user name with a newline forged a log line")
	}
	if testing.Verbose() || t.Failed() {
		rec.log(t)
	}
}

// TestAttackUserList runs user cases against a demo configured from the
// environment with TOKENS_USERS=" ana , ,bob," and no previous secret.
func TestAttackUserList(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"TOKENS_SECRET": testSecret,
		"TOKENS_USERS":  " ana , ,bob,",
		"STATUS_TOKEN":  testStatusToken,
	}
	cfg, err := interceptors.ConfigFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	logs, logger := debugLogger()
	r := startDemo(t, cfg, logger)
	future := time.Now().Add(time.Hour).Unix()
	user := func(u string) string { return jws(hdrHS256, pl(u, future), testSecret) }
	valid := user("ana")
	cases := []attack{
		tokCase("users: ana", valid, ok("ana")),
		tokCase("users: bob", user("bob"), ok("bob")),
		tokCase("users: \" ana\"", user(" ana"), denied(mNotAllowed)),
		tokCase("users: \"ana \"", user("ana "), denied(mNotAllowed)),
		tokCase("users: \" ana \" (as written in TOKENS_USERS)", user(" ana "), denied(mNotAllowed)),
		tokCase("users: Ana", user("Ana"), denied(mNotAllowed)),
		tokCase("users: ANA", user("ANA"), denied(mNotAllowed)),
		tokCase("users: bob,", user("bob,"), denied(mNotAllowed)),
		tokCase("users: \"ana,bob\"", user("ana,bob"), denied(mNotAllowed)),
		tokCase("users: carol", user("carol"), denied(mNotAllowed)),
		tokCase("users: empty user", user(""), denied(mUser)),
		tokCase("users: a blank user (the empty entry)", user(" "), denied(mUser)),
		tokCase("users: ana signed with the previous secret (PreviousSecret not set)", jws(hdrHS256, pl("ana", future), attackPreviousSecret), denied(mSig)),
	}
	rec := &record{}
	t.Run("cases", func(t *testing.T) { runCases(t, r, cases, validFor(valid), rec) })
	r.stop()
	secrets := &secretSet{}
	secrets.add("secret", testSecret)
	secrets.add("previous secret", attackPreviousSecret)
	secrets.add("status token", testStatusToken)
	secrets.addCases(cases)
	secrets.checkLog(t, logs.String())
	if testing.Verbose() || t.Failed() {
		rec.log(t)
	}
}

// TestAttackNoStatusToken: with STATUS_TOKEN empty, an empty status token
// opens nothing.
func TestAttackNoStatusToken(t *testing.T) {
	t.Parallel()
	logs, logger := debugLogger()
	r := startDemo(t, interceptors.Config{Secret: testSecret}, logger)
	valid := jws(hdrHS256, pl("ana", time.Now().Add(time.Hour).Unix()), testSecret)
	cases := []attack{
		{name: "no STATUS_TOKEN: empty status token", target: statusTarget, md: []string{"x-status-token", ""}, query: "token=", want: denied(mMissing)},
		{name: "no STATUS_TOKEN: ?token without =", target: statusTarget, only: "rest", query: "token", want: denied(mMissing)},
		{name: "no STATUS_TOKEN: the demo tests' status token", target: statusTarget, md: []string{"x-status-token", testStatusToken},
			query: "token=" + testStatusToken, want: denied(mMissing)},
		{name: "no STATUS_TOKEN: bearer token (control)", target: statusTarget, md: bearer(valid), want: ok("")},
	}
	rec := &record{}
	t.Run("cases", func(t *testing.T) {
		// No status token here: the call that must pass after each case
		// is a bearer one.
		runCases(t, r, cases, func(tg target) attack {
			return attack{target: tg, md: bearer(valid), want: ok("")}
		}, rec)
		t.Run("HEAD /status?token=", func(t *testing.T) {
			t.Parallel()
			res := r.do(t, "HEAD", "/status?token=")
			rec.add("no STATUS_TOKEN: HEAD /status?token=", "REST HEAD /status", fmt.Sprint(res.code))
			if res.code != 401 {
				t.Errorf("HEAD /status?token=: %d", res.code)
			}
		})
	})
	r.stop()
	secrets := &secretSet{}
	secrets.add("secret", testSecret)
	secrets.addValue("valid", "Bearer "+valid)
	secrets.checkLog(t, logs.String())
	if testing.Verbose() || t.Failed() {
		rec.log(t)
	}
}
