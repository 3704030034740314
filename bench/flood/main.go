// Command flood sends many distinct valid tokens to a tokengate server, to
// show that the cache of verified tokens keeps memory bounded. It mints -n
// tokens (user-0 … user-N) with TOKENS_SECRET and calls
// EchoService.UnaryEcho once with each, from -c goroutines, over loopback.
// Any answer other than OK is counted and makes it exit 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "gRPC address (loopback)")
	n := flag.Int("n", 300_000, "distinct tokens to send")
	c := flag.Int("c", 50, "concurrent callers")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Parse()
	secret := os.Getenv("TOKENS_SECRET")
	if secret == "" {
		fmt.Fprintln(os.Stderr, "flood: TOKENS_SECRET is empty")
		os.Exit(2)
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
	defer conn.Close()
	echo := tokengatev1.NewEchoServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	var next, failed atomic.Int64
	exp := time.Now().Add(time.Hour)
	start := time.Now()
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) || ctx.Err() != nil {
					return
				}
				tok, err := token.Sign([]byte(secret), token.Claims{User: "user-" + strconv.FormatInt(i, 10), ExpiresAt: exp})
				if err != nil {
					failed.Add(1)
					continue
				}
				md := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
				if _, err := echo.UnaryEcho(md, &tokengatev1.EchoRequest{Message: "x"}); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	sent := min(next.Load(), int64(*n))
	fmt.Printf("flood: %d distinct tokens in %v, %d failed\n", sent, time.Since(start).Round(time.Millisecond), failed.Load())
	if failed.Load() > 0 || sent < int64(*n) {
		os.Exit(1)
	}
}
