package interceptors_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tokengate/tokengate/interceptors"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// openBidi opens a bidirectional stream with a token that expires in the
// next second, and checks that it works at first.
func openBidi(t *testing.T, conn tokengatev1.EchoServiceClient) (tokengatev1.EchoService_BidirectionalStreamingEchoClient, time.Time) {
	t.Helper()
	exp := time.Now().Add(time.Second).Truncate(time.Second)
	ctx, cancel := context.WithTimeout(withMD("authorization", "Bearer "+mustSign(t, secret, "ana", exp)), 10*time.Second)
	t.Cleanup(cancel)
	s, err := conn.BidirectionalStreamingEcho(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&tokengatev1.EchoRequest{Message: "before"}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Recv(); err != nil || r.GetUser() != "ana" {
		t.Fatalf("first reply = %v, %v", r, err)
	}
	return s, exp
}

func TestStreamEndsWhenTokenExpires(t *testing.T) {
	t.Parallel()
	conn := testServer(t, interceptors.Config{Secret: secret})
	s, exp := openBidi(t, tokengatev1.NewEchoServiceClient(conn))

	// The handler is now blocked in Recv; nothing else will wake it up.
	_, err := s.Recv()
	ended := time.Now()
	assertCode(t, err, codes.Unauthenticated, "token expired")
	// Valid through the whole exp second, ended right after it.
	if ended.Before(exp.Add(time.Second)) {
		t.Errorf("stream ended at %v, before its token's last second was over (%v)", ended, exp.Add(time.Second))
	}
	if ended.After(exp.Add(3 * time.Second)) {
		t.Errorf("stream ended at %v, long after its token expired (%v)", ended, exp)
	}
}

func TestStreamExpiryCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	conn := testServer(t, interceptors.Config{Secret: secret}, interceptors.WithStreamExpiry(false))
	s, exp := openBidi(t, tokengatev1.NewEchoServiceClient(conn))

	time.Sleep(time.Until(exp.Add(1500 * time.Millisecond)))
	if err := s.Send(&tokengatev1.EchoRequest{Message: "after"}); err != nil {
		t.Fatalf("send after expiry: %v", err)
	}
	r, err := s.Recv()
	if err != nil || r.GetMessage() != "after" {
		t.Fatalf("reply after expiry = %v, %v; want the stream still open", r, err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
}

// A stream ends where a new call with its token would first be refused:
// by a leeway with a fraction of a second (once, the stream ran on for up
// to a second more), and by the leeway of the policy in force, which an
// Update may make smaller (the stream ends sooner than its timer was set
// for) or larger (it goes on).
func TestStreamExpiryFollowsTheLeeway(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		leeway, after time.Duration // at New, and set by an Update (-1: none)
		end           time.Duration // after exp: when the stream must have ended; 0: still open at exp+2s
	}{
		{"a leeway of 900ms", 900 * time.Millisecond, -1, time.Second},
		{"a leeway shrunk from 1m to 0", time.Minute, 0, time.Second},
		{"a leeway grown from 0 to 1m", 0, time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := interceptors.New(interceptors.Config{Secret: secret, Leeway: tc.leeway}, quiet())
			if err != nil {
				t.Fatal(err)
			}
			s, exp := openBidi(t, tokengatev1.NewEchoServiceClient(serveAuth(t, a)))
			if tc.after >= 0 {
				if err := a.Update(interceptors.Config{Secret: secret, Leeway: tc.after}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.end == 0 {
				time.Sleep(time.Until(exp.Add(2 * time.Second)))
				assertEchoes(t, s)
				return
			}
			_, err = s.Recv()
			ended := time.Now()
			assertCode(t, err, codes.Unauthenticated, "token expired")
			// The timer fires at the instant; half a second is for a slow
			// machine, and less than the error the fix removed.
			if ended.Before(exp.Add(tc.end)) || ended.After(exp.Add(tc.end+500*time.Millisecond)) {
				t.Errorf("stream ended at exp+%v, want exp+%v", ended.Sub(exp), tc.end)
			}
		})
	}
}
