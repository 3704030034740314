package interceptors_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/token"
)

// FuzzAuthorizationMetadata feeds arbitrary authorization and x-status-token
// values to the Authenticator. Whatever comes in, the answer is OK or
// Unauthenticated, never a panic; a call is let in only with the status
// token on a status method or with a token that verifies on its own; and no
// denial message repeats the input.
func FuzzAuthorizationMetadata(f *testing.F) {
	valid := mustSign(f, secret, "ana", time.Now().Add(24*time.Hour))
	for _, seed := range [][3]string{
		{"Bearer " + valid, "", "/tokengate.v1.EchoService/UnaryEcho"},
		{"bearer " + valid, statusToken, "/tokengate.v1.StatusService/Status"},
		{"Basic abc", statusToken, "/tokengate.v1.EchoService/UnaryEcho"},
		{"Bearer", "", "/grpc.health.v1.Health/Check"},
		{"Bearer  " + valid, "x", "/tokengate.v1.StatusService/Status"},
		{"", "", ""},
		{"Bearer a.b.c", "\x00", "/x/y"},
	} {
		f.Add(seed[0], seed[1], seed[2], false)
		f.Add(seed[0], seed[1], seed[2], true)
	}
	a, err := interceptors.New(interceptors.Config{Secret: secret, StatusToken: statusToken})
	if err != nil {
		f.Fatal(err)
	}
	verifier, err := token.NewVerifier([]byte(secret), token.WithCacheSize(-1))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, authz, statusTok, method string, twice bool) {
		md := metadata.MD{}
		if authz != "" {
			md.Append("authorization", authz)
			if twice {
				md.Append("authorization", authz)
			}
		}
		if statusTok != "" {
			md.Append("x-status-token", statusTok)
		}
		ctx, err := a.Authenticate(metadata.NewIncomingContext(context.Background(), md), method)
		switch status.Code(err) {
		case codes.OK:
		case codes.Unauthenticated:
			msg := status.Convert(err).Message()
			if len(authz) > 8 && strings.Contains(msg, authz) || len(statusTok) > 8 && strings.Contains(msg, statusTok) {
				t.Fatalf("denial %q repeats the input", msg)
			}
			return
		default:
			t.Fatalf("code %v for bad input: %v", status.Code(err), err)
		}
		if interceptors.StatusTokenFromContext(ctx) {
			if statusTok != statusToken || !strings.HasPrefix(method, "/tokengate.v1.StatusService/Status") && !strings.HasPrefix(method, "/grpc.health.v1.Health/") {
				t.Fatalf("status token %q let in %q", statusTok, method)
			}
			return
		}
		scheme, tok, _ := strings.Cut(authz, " ")
		if twice || !strings.EqualFold(scheme, "bearer") {
			t.Fatalf("let in with authorization %q (twice: %v)", authz, twice)
		}
		verified, err := verifier.Verify(tok)
		claims := verified.Claims()
		if err != nil {
			t.Fatalf("let in a token the verifier refuses: %v", err)
		}
		if user, _ := interceptors.UserFromContext(ctx); user != claims.User {
			t.Fatalf("handler would see user %q, token says %q", user, claims.User)
		}
	})
}
