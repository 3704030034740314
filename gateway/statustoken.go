package gateway

import (
	"context"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/metadata"

	"github.com/tokengate/tokengate/wire"
)

// StatusTokenParam is the query parameter monitors put the status token in:
// GET /status?token=…
const StatusTokenParam = "token"

// statusTokenMetadata turns ?token= into x-status-token metadata when the
// route maps to a status RPC. Every value is passed on, so a request with
// two tokens is refused by the server instead of one being chosen here.
// gRPC metadata values must be printable ASCII (grpc-go refuses to send
// anything else, and the call would fail with Internal, HTTP 500): if any
// value is not, none is passed and the call is decided on its bearer token
// alone (with none, "missing bearer token", where a wrong status token gets
// "status token not accepted").
func (g *Gateway) statusTokenMetadata(ctx context.Context, r *http.Request) metadata.MD {
	method, ok := runtime.RPCMethod(ctx)
	if !ok {
		return nil
	}
	if vals := g.statusTokens(r, method); vals != nil {
		return metadata.MD{wire.StatusTokenKey: vals}
	}
	return nil
}

// statusTokens returns the status tokens statusTokenMetadata passes on for
// a call of r to method, or nil.
func (g *Gateway) statusTokens(r *http.Request, method string) []string {
	if r.URL.RawQuery == "" || !g.statusMethods.Contains(method) { // no query, no ?token=: the usual call, decided at once
		return nil
	}
	vals, ok := r.URL.Query()[StatusTokenParam]
	if !ok {
		return nil
	}
	for _, v := range vals {
		if !printableASCII(v) {
			return nil
		}
	}
	return vals
}

// printableASCII reports whether s can be a gRPC metadata value.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
