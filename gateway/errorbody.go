package gateway

import (
	"bytes"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	spb "google.golang.org/genproto/googleapis/rpc/status"
)

// The gateway's refusals are few (one per denial reason), and grpc-gateway
// marshals each, with protojson, every time it answers one: most of what an
// early answer costs the gateway. errorBodies keeps what a marshaler made
// of a status without details, so that an early answer marshals it once.
// The body is the marshaler's own (protojson's output is stable within a
// process), and grpc-gateway's error handler still does all the rest:
// the response rewriter, the headers, the status.
type errorBodies struct {
	cached atomic.Pointer[map[errorBodyKey][]byte] // copied on write
	mu     sync.Mutex                              // one writer at a time
}

type errorBodyKey struct {
	m       runtime.Marshaler
	code    int32
	message string
}

// maxErrorBodies bounds the cache: a decision function of the user's may
// make messages of its own; past the bound they are marshalled each time.
const maxErrorBodies = 64

// marshaler returns m, remembering its bodies of statuses, or m itself
// unless it is a pointer: a value may hold something that cannot be a map
// key (comparing it would panic), even when its type can.
func (c *errorBodies) marshaler(m runtime.Marshaler) runtime.Marshaler {
	if m == nil || reflect.TypeOf(m).Kind() != reflect.Pointer {
		return m
	}
	return cachingMarshaler{Marshaler: m, cache: c}
}

// cachingMarshaler is a Marshaler that remembers what it made of a status.
type cachingMarshaler struct {
	runtime.Marshaler
	cache *errorBodies
}

func (c cachingMarshaler) Marshal(v any) ([]byte, error) {
	st, ok := v.(*spb.Status)
	if !ok || len(st.GetDetails()) != 0 || len(st.ProtoReflect().GetUnknown()) != 0 {
		return c.Marshaler.Marshal(v)
	}
	key := errorBodyKey{m: c.Marshaler, code: st.GetCode(), message: st.GetMessage()}
	if cached := c.cache.cached.Load(); cached != nil {
		if b, ok := (*cached)[key]; ok {
			return b, nil
		}
	}
	b, err := c.Marshaler.Marshal(v)
	if err != nil {
		return b, err
	}
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	next := map[errorBodyKey][]byte{}
	if old := c.cache.cached.Load(); old != nil {
		if len(*old) >= maxErrorBodies {
			return b, nil
		}
		next = maps.Clone(*old)
	}
	next[key] = bytes.Clone(b) // the marshaler's buffer may be reused
	c.cache.cached.Store(&next)
	return b, nil
}
