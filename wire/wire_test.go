package wire_test

import (
	"testing"

	"github.com/tokengate/tokengate/wire"
)

func TestMethodSet(t *testing.T) {
	t.Parallel()
	s := wire.NewMethodSet("/tokengate.v1.StatusService/Status", " /grpc.health.v1.Health/ ", "no-slash/Method", "/", "//x")
	for _, tc := range []struct {
		method string
		want   bool
	}{
		{"/tokengate.v1.StatusService/Status", true},
		{"/tokengate.v1.StatusService/Other", false},
		{"/grpc.health.v1.Health/Check", true},
		{"/grpc.health.v1.Health/Watch", true},
		{"/grpc.health.v1.Health/x/Check", false}, // grpc-go routes it to the service "grpc.health.v1.Health/x"
		{"grpc.health.v1.Health/Check", false},    // no leading "/": nothing matches
		{"/tokengate.v1.StatusService/Status/", false},
		{"/grpc.health.v1.Health/", false}, // the service's entry, not a method a call may name
		{"", false},
		{"/", false},
	} {
		if got := s.Contains(tc.method); got != tc.want {
			t.Errorf("Contains(%q) = %v, want %v", tc.method, got, tc.want)
		}
	}
	same := wire.NewMethodSet("/grpc.health.v1.Health/", "/grpc.health.v1.Health/", "/tokengate.v1.StatusService/Status", "junk", "/a.B/x/C", "/a.B/x/")
	if !s.Equal(same) || !same.Equal(s) || s.Equal(wire.NewMethodSet("/tokengate.v1.StatusService/Status")) ||
		!wire.NewMethodSet().Equal(wire.MethodSet{}) || wire.NewMethodSet("/a.B/").Equal(wire.NewMethodSet("/a.B/C")) {
		t.Error("Equal is wrong: it must compare the entries, not how they were listed")
	}
	if !wire.NewMethodSet("/a.B/x/C", "//x", "/a.B/x/", "a.B/C").Empty() {
		t.Error("names no call can match are kept")
	}
	if s.Empty() || !wire.NewMethodSet().Empty() || !(wire.MethodSet{}).Empty() || (wire.MethodSet{}).Contains("/a.B/C") {
		t.Error("Empty is wrong, or the zero set holds something")
	}
}

func TestCanonical(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"/pkg.Service/Method":   true,
		"/Service/Method":       true,
		"pkg.Service/Method":    false,
		"/pkg.Service/":         false,
		"//Method":              false,
		"/pkg.Service/a/Method": false,
		"/pkg.Service":          false,
		"":                      false,
		"/":                     false,
	} {
		if got := wire.Canonical(name); got != want {
			t.Errorf("Canonical(%q) = %v, want %v", name, got, want)
		}
	}
}
