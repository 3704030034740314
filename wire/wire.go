package wire

import (
	"maps"
	"strings"
)

// Metadata keys that carry credentials. gRPC metadata keys are lower case.
const (
	// AuthorizationKey carries "Bearer <token>", from the Authorization
	// header on REST.
	AuthorizationKey = "authorization"
	// StatusTokenKey carries the status token, from ?token= on the REST
	// status routes.
	StatusTokenKey = "x-status-token"
)

// Credentials are a call's credentials as a front end that decides before
// making the call (the REST gateway) hands them to the server's decision
// (interceptors.Authenticator.Precheck): the values the call's metadata will
// carry under AuthorizationKey and StatusTokenKey, in order, and the address
// of the caller. The decision only reads them.
type Credentials struct {
	Authorization []string
	StatusToken   []string
	// RemoteAddr is the caller's "IP:port", as net/http's
	// Request.RemoteAddr, for the peer of a denial's report; "" when unknown.
	RemoteAddr string
}

// DefaultStatusMethods are the methods the status token opens unless told
// otherwise: tokengate's own status RPC and every method of the standard
// gRPC health service, so that grpc-health-probe can use the status token.
// Only the first has a REST route.
var DefaultStatusMethods = []string{
	"/tokengate.v1.StatusService/Status",
	"/grpc.health.v1.Health/",
}

// SplitMethod splits a full method name, "/pkg.Service/Method", into its
// service and method at the last "/", where grpc-go's server splits it to
// route the call: "/grpc.health.v1.Health/x/Check" names the service
// "grpc.health.v1.Health/x", never a method of grpc.health.v1.Health. Unlike
// grpc-go it requires the leading "/": a name without one matches nothing,
// which only ever asks for more credentials.
func SplitMethod(full string) (service, method string, ok bool) {
	if !strings.HasPrefix(full, "/") {
		return "", "", false
	}
	i := strings.LastIndexByte(full, '/')
	if i == 0 {
		return "", "", false
	}
	service, method = full[1:i], full[i+1:]
	return service, method, service != ""
}

// Canonical reports whether full is a method name as gRPC clients write it:
// "/", a service, "/", a method, and no other "/", with neither part empty.
// grpc-go routes some other spellings too (no leading "/", several "/");
// refusing them keeps what is authorized and what is routed the same name.
func Canonical(full string) bool {
	// On every call: two byte scans, no more.
	i := strings.LastIndexByte(full, '/')
	return len(full) > 0 && full[0] == '/' && i > 1 && i < len(full)-1 &&
		strings.IndexByte(full[1:i], '/') < 0
}

// MethodSet is a set of gRPC methods, each written "/pkg.Service/Method",
// or "/pkg.Service/" for every method of a service. Its zero value is empty.
type MethodSet struct {
	methods  map[[2]string]struct{} // {service, method}
	services map[string]struct{}
}

// NewMethodSet returns the set of names. Names that are not written as
// above are ignored: no call can match them (see Contains).
func NewMethodSet(names ...string) MethodSet {
	s := MethodSet{methods: map[[2]string]struct{}{}, services: map[string]struct{}{}}
	for _, n := range names {
		service, method, ok := SplitMethod(strings.TrimSpace(n))
		switch {
		case !ok, strings.Contains(service, "/"):
		case method == "":
			s.services[service] = struct{}{}
		default:
			s.methods[[2]string{service, method}] = struct{}{}
		}
	}
	return s
}

// Equal reports whether s and o hold the same entries, however their names
// were listed (order, repeats, blanks around them, names ignored as
// malformed).
func (s MethodSet) Equal(o MethodSet) bool {
	return maps.Equal(s.methods, o.methods) && maps.Equal(s.services, o.services)
}

// Empty reports whether the set holds no method.
func (s MethodSet) Empty() bool { return len(s.methods) == 0 && len(s.services) == 0 }

// Contains reports whether fullMethod is in the set, by name or by service.
// Only a Canonical name can be: "/pkg.Service/" is the way to write a
// service's entry, not a method a call may name.
func (s MethodSet) Contains(fullMethod string) bool {
	if !Canonical(fullMethod) {
		return false
	}
	service, method, ok := SplitMethod(fullMethod)
	if !ok {
		return false
	}
	if _, found := s.services[service]; found {
		return true
	}
	_, ok = s.methods[[2]string{service, method}]
	return ok
}
