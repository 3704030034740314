package interceptors_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tokengate/tokengate/interceptors"
)

// fakeStream lets grpc.Method(ctx) answer outside a real server, as it does
// inside one.
type fakeStream struct{ method string }

func (s fakeStream) Method() string                        { return s.method }
func (s fakeStream) SetHeader(metadata.MD) error           { return nil }
func (s fakeStream) SendHeader(metadata.MD) error          { return nil }
func (s fakeStream) SetTrailer(metadata.MD) error          { return nil }
func (s fakeStream) Context() context.Context              { return context.Background() }
func (s fakeStream) SendMsg(any) error                     { return nil }
func (s fakeStream) RecvMsg(any) error                     { return nil }
func (s fakeStream) SetSendCompress(string) error          { return nil }
func (s fakeStream) SendCompressedHeader() error           { return nil }
func (s fakeStream) ClientAdvertisedCompressors() []string { return nil }

const benchMethod = "/tokengate.v1.EchoService/UnaryEcho"

var benchInfo = &grpc.UnaryServerInfo{FullMethod: benchMethod}

// callContext is the context a server hands to the interceptor chain.
func callContext(tok string) context.Context {
	ctx := grpc.NewContextWithServerTransportStream(context.Background(), fakeStream{benchMethod})
	return metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+tok, "content-type", "application/grpc", "user-agent", "grpc-go/1.85.0"))
}

func okHandler(context.Context, any) (any, error) { return nil, nil }

// anchorInterceptor is what a Go user writes from the libraries' docs:
// go-grpc-middleware's auth with golang-jwt parsing and verifying the token
// on every call. The benchmarks measure tokengate against it.
func anchorInterceptor(key []byte) grpc.UnaryServerInterceptor {
	type userKey struct{}
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	return auth.UnaryServerInterceptor(func(ctx context.Context) (context.Context, error) {
		tok, err := auth.AuthFromMD(ctx, "bearer")
		if err != nil {
			return nil, err
		}
		claims := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(tok, claims, keyFunc,
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired()); err != nil {
			return nil, status.Error(codes.Unauthenticated, "invalid token")
		}
		user, ok := claims["user"].(string)
		if !ok || user == "" {
			return nil, status.Error(codes.Unauthenticated, "invalid token")
		}
		return context.WithValue(ctx, userKey{}, user), nil
	})
}

func tokengateInterceptor(b *testing.B, cacheSize int) grpc.UnaryServerInterceptor {
	a, err := interceptors.New(interceptors.Config{Secret: secret, CacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	return a.UnaryServerInterceptor()
}

func runInterceptor(b *testing.B, i grpc.UnaryServerInterceptor, ctxs []context.Context, wantErr bool) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		_, err := i(ctxs[n%len(ctxs)], nil, benchInfo, okHandler)
		if (err != nil) != wantErr {
			b.Fatalf("err = %v, want error: %v", err, wantErr)
		}
	}
}

// BenchmarkUnaryInterceptor compares tokengate's interceptor with the
// hand-wired anchor on the same inputs; read the ratios, not the times.
func BenchmarkUnaryInterceptor(b *testing.B) {
	exp := time.Now().Add(time.Hour)
	one := []context.Context{callContext(mustSign(b, secret, "ana", exp))}
	forged := mustSign(b, secret, "ana", exp)
	forged = forged[:len(forged)-4] + "AAAA"
	bad := []context.Context{callContext(forged)}
	// first_seen cycles through 1<<15 distinct tokens with a cache of 1024
	// entries under random eviction: by the time a token comes round again
	// it has long been evicted, so every call is a miss, which includes
	// inserting into a full cache (a flood of new tokens), while the
	// working set stays small enough not to measure the garbage collector.
	distinct := make([]context.Context, 1<<15)
	for i := range distinct {
		distinct[i] = callContext(mustSign(b, secret, fmt.Sprintf("user-%d", i), exp))
	}

	b.Run("cached", func(b *testing.B) { runInterceptor(b, tokengateInterceptor(b, 0), one, false) })
	b.Run("first_seen", func(b *testing.B) { runInterceptor(b, tokengateInterceptor(b, 1024), distinct, false) })
	b.Run("bad_signature", func(b *testing.B) { runInterceptor(b, tokengateInterceptor(b, 0), bad, true) })
	b.Run("anchor", func(b *testing.B) { runInterceptor(b, anchorInterceptor([]byte(secret)), one, false) })
	// The anchor has no cache: every token costs it the same, but on the
	// same rotating inputs as first_seen it pays the same memory misses.
	b.Run("anchor_distinct", func(b *testing.B) { runInterceptor(b, anchorInterceptor([]byte(secret)), distinct, false) })
	b.Run("anchor_bad_signature", func(b *testing.B) { runInterceptor(b, anchorInterceptor([]byte(secret)), bad, true) })
	b.Run("auth_off", func(b *testing.B) {
		// An empty secret: what the demo runs with auth off.
		a, err := interceptors.New(interceptors.Config{}, interceptors.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			b.Fatal(err)
		}
		runInterceptor(b, a.UnaryServerInterceptor(), one, false)
	})
	b.Run("no_auth", func(b *testing.B) {
		none := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			return h(ctx, req)
		}
		runInterceptor(b, none, one, false)
	})
}

// BenchmarkUnaryInterceptorParallel is the cached path from every core at
// once, where lock contention would show.
func BenchmarkUnaryInterceptorParallel(b *testing.B) {
	ctx := callContext(mustSign(b, secret, "ana", time.Now().Add(time.Hour)))
	for _, bc := range []struct {
		name string
		i    grpc.UnaryServerInterceptor
	}{
		{"cached", tokengateInterceptor(b, 0)},
		{"anchor", anchorInterceptor([]byte(secret))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bc.i(ctx, nil, benchInfo, okHandler); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
