package gateway

import (
	"net/http"
	"strings"
)

// challenges holds the two WWW-Authenticate values of a realm, made once by
// New. error="invalid_token" is added only when the request presented a
// bearer token (RFC 6750 §3.1: a request with no credentials gets no error
// code). The reason stays in the JSON body; it is not repeated here.
type challenges struct{ plain, invalidToken string }

func newChallenges(realm string) challenges {
	plain := `Bearer realm="` + quoteSafe(realm) + `"`
	return challenges{plain: plain, invalidToken: plain + `, error="invalid_token"`}
}

// forRequest returns the challenge for r.
func (c challenges) forRequest(r *http.Request) string {
	if presentedBearer(r) {
		return c.invalidToken
	}
	return c.plain
}

func presentedBearer(r *http.Request) bool {
	for _, v := range r.Header.Values("Authorization") {
		scheme, tok, _ := strings.Cut(v, " ")
		if strings.EqualFold(scheme, "bearer") && strings.TrimSpace(tok) != "" {
			return true
		}
	}
	return false
}

// quoteSafe keeps only the characters RFC 6750 allows in a quoted value
// (%x20-21 / %x23-5B / %x5D-7E): no quote, no backslash, nothing outside
// printable ASCII.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// challengeWriter sets WWW-Authenticate when a 401 status line is written,
// after whatever grpc-gateway set before it. The challenge depends on the
// request's credentials, so it is made then, for a 401 only.
type challengeWriter struct {
	http.ResponseWriter
	challenges challenges
	r          *http.Request
	wrote      bool
}

func (w *challengeWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", w.challenges.forRequest(w.r))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *challengeWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *challengeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
