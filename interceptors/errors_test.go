package interceptors_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"

	"github.com/tokengate/tokengate/interceptors"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// Registered claims python-jose refuses (called as Brevia calls it) are
// refused over gRPC too, each with a message that names the claim.
func TestRegisteredClaimDenials(t *testing.T) {
	t.Parallel()
	echo := tokengatev1.NewEchoServiceClient(testServer(t, interceptors.Config{Secret: secret}))
	exp := time.Now().Add(time.Hour).Unix()
	for _, tc := range []struct {
		claims jwt.MapClaims
		code   codes.Code
		want   string
	}{
		{jwt.MapClaims{"user": "ana", "exp": exp, "aud": "other-service"}, codes.Unauthenticated, "invalid token: aud claim not accepted"},
		{jwt.MapClaims{"user": "ana", "exp": exp, "sub": 42}, codes.Unauthenticated, "invalid token: sub claim must be a string"},
		{jwt.MapClaims{"user": "ana", "exp": exp, "jti": 7}, codes.Unauthenticated, "invalid token: jti claim must be a string"},
		{jwt.MapClaims{"user": "ana", "exp": exp, "at_hash": "x"}, codes.Unauthenticated, "invalid token: at_hash claim not accepted"},
		{jwt.MapClaims{"user": "ana", "exp": exp, "sub": "ana", "jti": "1", "iss": 5}, codes.OK, ""},
	} {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, tc.claims).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		_, err = echo.UnaryEcho(withMD("authorization", "Bearer "+tok), &tokengatev1.EchoRequest{})
		assertCode(t, err, tc.code, tc.want, tok)
	}
}
