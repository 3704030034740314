package gateway

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// countingMarshaler counts the values it really marshals.
type countingMarshaler struct {
	runtime.Marshaler
	n *int
}

func (c countingMarshaler) Marshal(v any) ([]byte, error) {
	*c.n++
	return c.Marshaler.Marshal(v)
}

// TestCachingMarshaler checks that a status without details is marshalled
// once per marshaler, code and message, into the marshaler's own bytes, and
// that anything else, and statuses past the bound, are marshalled each time.
func TestCachingMarshaler(t *testing.T) {
	var n int
	inner := &countingMarshaler{Marshaler: &runtime.JSONPb{}, n: &n}
	var cache errorBodies
	m := cache.marshaler(inner)
	want, err := (&runtime.JSONPb{}).Marshal(&spb.Status{Code: 16, Message: "missing bearer token"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got, err := m.Marshal(&spb.Status{Code: 16, Message: "missing bearer token"})
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Marshal = %q, %v; want %q", got, err, want)
		}
	}
	if n != 1 {
		t.Errorf("the status was marshalled %d times, want once", n)
	}

	n = 0
	other, _ := m.Marshal(&spb.Status{Code: 16, Message: "token expired"})
	if bytes.Equal(other, want) || n != 1 {
		t.Errorf("another message: %q after %d marshals, want its own body", other, n)
	}
	n = 0
	for range 2 {
		_, _ = m.Marshal(&spb.Status{Code: 3, Message: "m", Details: []*anypb.Any{{TypeUrl: "x"}}})
		_, _ = m.Marshal(&anypb.Any{TypeUrl: "x"})
	}
	if n != 4 {
		t.Errorf("statuses with details and other messages were marshalled %d times in 4 calls", n)
	}

	for i := range maxErrorBodies + 10 {
		_, _ = m.Marshal(&spb.Status{Code: 16, Message: fmt.Sprint("message ", i)})
	}
	if got := len(*cache.cached.Load()); got != maxErrorBodies {
		t.Errorf("%d bodies cached, want the bound, %d", got, maxErrorBodies)
	}
	n = 0
	past := &spb.Status{Code: 16, Message: "past the bound"}
	_, _ = m.Marshal(past)
	_, _ = m.Marshal(past)
	if n != 2 {
		t.Errorf("a status past the bound was marshalled %d times in 2 calls", n)
	}
}

// uncomparable is a marshaler whose type cannot be a map key.
type uncomparable struct {
	runtime.Marshaler
	opts map[string]bool
}

// TestCachingMarshalerNotAPointer checks that marshalers that are not
// pointers are used as they are: as map keys, their values could panic.
func TestCachingMarshalerNotAPointer(t *testing.T) {
	var cache errorBodies
	for _, u := range []runtime.Marshaler{
		uncomparable{Marshaler: &runtime.JSONPb{}, opts: map[string]bool{}},
		struct{ runtime.Marshaler }{uncomparable{Marshaler: &runtime.JSONPb{}, opts: map[string]bool{}}}, // comparable type, uncomparable value
	} {
		m := cache.marshaler(u)
		if _, ok := m.(cachingMarshaler); ok {
			t.Fatalf("%T was wrapped: its use as a key would panic", u)
		}
		if _, err := m.Marshal(&spb.Status{Code: 16, Message: "x"}); err != nil {
			t.Fatal(err)
		}
	}
}
