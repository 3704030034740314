package demoservice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// Call makes one call of one kind of EchoService and returns the user the
// handler saw, checking that the messages came back as sent.
type Call struct {
	Name string
	Do   func(ctx context.Context, c tokengatev1.EchoServiceClient) (user string, err error)
}

// Calls has one Call of each of the four kinds, for tests that must cover
// them all.
var Calls = []Call{
	{"unary", func(ctx context.Context, c tokengatev1.EchoServiceClient) (string, error) {
		r, err := c.UnaryEcho(ctx, &tokengatev1.EchoRequest{Message: "hi"})
		if err == nil && r.GetMessage() != "hi" {
			return "", fmt.Errorf("message %q", r.GetMessage())
		}
		return r.GetUser(), err
	}},
	{"server streaming", func(ctx context.Context, c tokengatev1.EchoServiceClient) (string, error) {
		s, err := c.ServerStreamingEcho(ctx, &tokengatev1.EchoRequest{Message: "a b"})
		if err != nil {
			return "", err
		}
		var users, msgs []string
		for {
			r, err := s.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return "", err
			}
			users, msgs = append(users, r.GetUser()), append(msgs, r.GetMessage())
		}
		if !slices.Equal(msgs, []string{"a", "b"}) || len(users) != 2 || users[0] != users[1] {
			return "", fmt.Errorf("stream %q users %q", msgs, users)
		}
		return users[0], nil
	}},
	{"client streaming", func(ctx context.Context, c tokengatev1.EchoServiceClient) (string, error) {
		s, err := c.ClientStreamingEcho(ctx)
		if err != nil {
			return "", err
		}
		for _, m := range []string{"a", "b"} {
			if err := s.Send(&tokengatev1.EchoRequest{Message: m}); err != nil && !errors.Is(err, io.EOF) {
				return "", err
			}
		}
		r, err := s.CloseAndRecv()
		if err == nil && r.GetMessage() != "a b" {
			return "", fmt.Errorf("message %q", r.GetMessage())
		}
		return r.GetUser(), err
	}},
	{"bidi streaming", func(ctx context.Context, c tokengatev1.EchoServiceClient) (string, error) {
		s, err := c.BidirectionalStreamingEcho(ctx)
		if err != nil {
			return "", err
		}
		if err := s.Send(&tokengatev1.EchoRequest{Message: "a"}); err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		r, err := s.Recv()
		if err != nil {
			return "", err
		}
		if err := s.CloseSend(); err != nil {
			return "", err
		}
		if _, err := s.Recv(); !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("after CloseSend: %v", err)
		}
		return r.GetUser(), nil
	}},
}
