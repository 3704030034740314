// Package demoservice implements the tokengate.v1 services that the demo
// server runs and the end-to-end tests call: StatusService, and EchoService
// with its four kinds of call. Every echo answer names the authenticated
// caller, so a client can see its identity reach the handler.
package demoservice

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/tokengate/tokengate/interceptors"
	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// Status answers StatusService.Status with "OK" and the server's version.
type Status struct {
	tokengatev1.UnimplementedStatusServiceServer
	Version string
}

// Status implements tokengatev1.StatusServiceServer.
func (s *Status) Status(context.Context, *tokengatev1.StatusRequest) (*tokengatev1.StatusResponse, error) {
	return &tokengatev1.StatusResponse{Status: "OK", Version: s.Version}, nil
}

// Echo answers EchoService calls with the message back and the caller's user.
type Echo struct {
	tokengatev1.UnimplementedEchoServiceServer
}

func reply(ctx context.Context, msg string) *tokengatev1.EchoResponse {
	user, _ := interceptors.UserFromContext(ctx)
	return &tokengatev1.EchoResponse{Message: msg, User: user}
}

// UnaryEcho returns the message.
func (Echo) UnaryEcho(ctx context.Context, req *tokengatev1.EchoRequest) (*tokengatev1.EchoResponse, error) {
	return reply(ctx, req.GetMessage()), nil
}

// ServerStreamingEcho sends the message back once per space-separated word,
// so a stream of several answers can be seen.
func (Echo) ServerStreamingEcho(req *tokengatev1.EchoRequest, stream tokengatev1.EchoService_ServerStreamingEchoServer) error {
	words := strings.Fields(req.GetMessage())
	if len(words) == 0 {
		words = []string{""}
	}
	for _, w := range words {
		if err := stream.Send(reply(stream.Context(), w)); err != nil {
			return err
		}
	}
	return nil
}

// ClientStreamingEcho joins every message received with spaces.
func (Echo) ClientStreamingEcho(stream tokengatev1.EchoService_ClientStreamingEchoServer) error {
	var msgs []string
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(reply(stream.Context(), strings.Join(msgs, " ")))
		}
		if err != nil {
			return err
		}
		msgs = append(msgs, req.GetMessage())
	}
}

// BidirectionalStreamingEcho answers each message as it arrives.
func (Echo) BidirectionalStreamingEcho(stream tokengatev1.EchoService_BidirectionalStreamingEchoServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(reply(stream.Context(), req.GetMessage())); err != nil {
			return err
		}
	}
}
