package main

// The faces of the demo a case is tried on, gRPC methods and REST routes,
// and the answers they give, reduced to one comparable form.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

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

// httpFor is the HTTP status grpc-gateway answers for gRPC code c.
func httpFor(c codes.Code) int { return runtime.HTTPStatusFromCode(c) }

// expected is the answer outcome o stands for on a gRPC or a REST face.
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
