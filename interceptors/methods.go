package interceptors

import "strings"

// methodSet matches gRPC methods named "/pkg.Service/Method", or every
// method of a service for entries written "/pkg.Service/".
type methodSet struct {
	methods  map[[2]string]struct{} // {service, method}
	services map[string]struct{}
}

func newMethodSet(names []string) methodSet {
	s := methodSet{methods: map[[2]string]struct{}{}, services: map[string]struct{}{}}
	for _, n := range names {
		service, method, ok := splitMethod(strings.TrimSpace(n))
		switch {
		case !ok:
		case method == "":
			s.services[service] = struct{}{}
		default:
			s.methods[[2]string{service, method}] = struct{}{}
		}
	}
	return s
}

// splitMethod splits "/pkg.Service/Method" into its two names at the last
// "/", where grpc-go's server splits it to route the call: so
// "/grpc.health.v1.Health/x/Check" names the service
// "grpc.health.v1.Health/x", never a method of grpc.health.v1.Health.
// Unlike grpc-go it requires the leading "/": a name without one matches
// nothing, which only ever asks for more credentials.
func splitMethod(full string) (service, method string, ok bool) {
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

func (s methodSet) empty() bool { return len(s.methods) == 0 && len(s.services) == 0 }

func (s methodSet) contains(fullMethod string) bool {
	service, method, ok := splitMethod(fullMethod)
	if !ok {
		return false
	}
	if _, found := s.services[service]; found {
		return true
	}
	_, ok = s.methods[[2]string{service, method}]
	return ok
}
