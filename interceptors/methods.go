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

// splitMethod splits "/pkg.Service/Method" into its two names.
func splitMethod(full string) (service, method string, ok bool) {
	if !strings.HasPrefix(full, "/") {
		return "", "", false
	}
	service, method, ok = strings.Cut(full[1:], "/")
	return service, method, ok && service != ""
}

func (s methodSet) empty() bool { return len(s.methods) == 0 && len(s.services) == 0 }

func (s methodSet) contains(fullMethod string) bool {
	service, method, ok := splitMethod(fullMethod)
	return ok && s.containsParts(service, method)
}

func (s methodSet) containsParts(service, method string) bool {
	if _, ok := s.services[service]; ok {
		return true
	}
	_, ok := s.methods[[2]string{service, method}]
	return ok
}
