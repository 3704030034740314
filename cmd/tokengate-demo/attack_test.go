package main

// The attack suite (issue "Security and reliability"): hostile tokens and
// hostile metadata against both faces of one running demo, each case
// checked for its exact answer and followed by a valid call that must still
// succeed. Tokens are forged by hand (base64url segments and crypto/hmac) so
// that each case is exactly what its name says.
//
// This file holds the tests and runCases; the suite's parts are
// attack_cases_test.go (the case table and what each case must get),
// attack_faces_test.go (the gRPC methods and REST routes a case is tried
// on), attack_forge_test.go (forging tokens), attack_raw_test.go (raw
// HTTP/1.1 and HTTP/2 connections, control characters) and
// attack_log_test.go (the record of answers, the log check, the URL trap).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

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

// TestAttack runs the attack suite against one demo, then checks that its
// debug log shows no token, signature, secret or status token.
// TestAttack runs the suite against the demo with the tap installed and
// without it: every case must hold the same way both times.
func TestAttack(t *testing.T) {
	t.Parallel()
	for _, w := range []struct {
		name       string
		withoutTap bool
	}{{"tap", false}, {"interceptors only", true}} {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			attackSuite(t, options{auth: attackAuth, withoutTap: w.withoutTap})
		})
	}
}

func attackSuite(t *testing.T, o options) {
	logs, logger := debugLogger()
	r := startDemoWith(t, o, logger)
	trap := newURLTrap(t)
	valid := jws(standardHeader, payloadJSON("ana", time.Now().Add(time.Hour).Unix()), testSecret)
	cases := attackCases(trap)
	rec := &record{}
	secrets := &secretSet{}
	secrets.add("secret", testSecret)
	secrets.add("previous secret", attackPreviousSecret)
	secrets.add("status token", testStatusToken)
	secrets.addValue("valid", "Bearer "+valid)
	secrets.addCases(cases)
	controlChars := controlCharCases(valid)
	for _, c := range controlChars {
		secrets.addValue(c.name, c.value)
	}
	hugeAuthValue := "Bearer " + strings.Repeat("x", 20<<20)
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

		for _, c := range controlChars {
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
				if got.String() != c.wantH2 {
					t.Errorf("got %v, want %s", got, c.wantH2)
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
				if code != c.wantHTTP1 || e.Message != c.wantMsg1 || code == 200 || code >= 500 {
					t.Errorf("got %d %q, want %d %q", code, body, c.wantHTTP1, c.wantMsg1)
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
					`grpc-status 16 "` + mTwoValues + `"`},
				{"Authorization in upper case", []hpack.HeaderField{{Name: "Authorization", Value: "Bearer " + valid}}, "RST_STREAM PROTOCOL_ERROR"},
				// Non-canonical names (the CVE-2026-33186 class): refused
				// with Unimplemented by the tap, and by grpc-go or the
				// interceptors without it, so that authorization never
				// sees another name than routing does.
				{":path without its leading slash", []hpack.HeaderField{{Name: ":path", Value: "tokengate.v1.EchoService/UnaryEcho"},
					{Name: "authorization", Value: "Bearer " + valid}}, "grpc-status 12 *"},
				{":path with an extra segment", []hpack.HeaderField{{Name: ":path", Value: "/x/tokengate.v1.EchoService/UnaryEcho"},
					{Name: "authorization", Value: "Bearer " + valid}}, "grpc-status 12 *"},
			} {
				got := rawGRPC(t, r.d.grpcAddr, c.fields...)
				rec.add("raw HTTP/2: "+c.name, "gRPC port, raw HTTP/2", got.String())
				if prefix, any := strings.CutSuffix(c.want, "*"); any && strings.HasPrefix(got.String(), prefix) {
					continue // the code is what matters; grpc-go words some of these itself
				}
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
			_, err := echo.UnaryEcho(withMD(testCtx(t), "authorization", hugeAuthValue), &tokengatev1.EchoRequest{Message: "hi"})
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
	cfg, err := interceptors.ConfigFromEnviron([]string{
		"TOKENS_SECRET=" + testSecret,
		"TOKENS_USERS= ana , ,bob,",
		"STATUS_TOKEN=" + testStatusToken,
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	logs, logger := debugLogger()
	r := startDemo(t, cfg, logger)
	future := time.Now().Add(time.Hour).Unix()
	tokenOf := func(user string) string { return jws(standardHeader, payloadJSON(user, future), testSecret) }
	valid := tokenOf("ana")
	cases := []attack{
		bearerCase("users: ana", valid, ok("ana")),
		bearerCase("users: bob", tokenOf("bob"), ok("bob")),
		bearerCase("users: \" ana\"", tokenOf(" ana"), denied(mNotAllowed)),
		bearerCase("users: \"ana \"", tokenOf("ana "), denied(mNotAllowed)),
		bearerCase("users: \" ana \" (as written in TOKENS_USERS)", tokenOf(" ana "), denied(mNotAllowed)),
		bearerCase("users: Ana", tokenOf("Ana"), denied(mNotAllowed)),
		bearerCase("users: ANA", tokenOf("ANA"), denied(mNotAllowed)),
		bearerCase("users: bob,", tokenOf("bob,"), denied(mNotAllowed)),
		bearerCase("users: \"ana,bob\"", tokenOf("ana,bob"), denied(mNotAllowed)),
		bearerCase("users: carol", tokenOf("carol"), denied(mNotAllowed)),
		bearerCase("users: empty user", tokenOf(""), denied(mUser)),
		bearerCase("users: a blank user (the empty entry)", tokenOf(" "), denied(mUser)),
		bearerCase("users: ana signed with the previous secret (PreviousSecret not set)", jws(standardHeader, payloadJSON("ana", future), attackPreviousSecret), denied(mSig)),
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
	valid := jws(standardHeader, payloadJSON("ana", time.Now().Add(time.Hour).Unix()), testSecret)
	cases := []attack{
		{name: "no STATUS_TOKEN: empty status token", target: statusTarget, md: []string{"x-status-token", ""}, query: "token=", want: denied(mStatusNot)},
		{name: "no STATUS_TOKEN: ?token without =", target: statusTarget, only: "rest", query: "token", want: denied(mStatusNot)},
		{name: "no STATUS_TOKEN: the demo tests' status token", target: statusTarget, md: []string{"x-status-token", testStatusToken},
			query: "token=" + testStatusToken, want: denied(mStatusNot)},
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
