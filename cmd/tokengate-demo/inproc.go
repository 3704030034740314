package main

import (
	"context"
	"net"
	"sync"
)

// memListener is the gateway's way into the gRPC server: connections made
// in memory with net.Pipe, no socket, no kernel. BenchmarkGatewayHop
// (inproc_test.go) measures it against grpc-go's test/bufconn, loopback
// TCP and a Unix socket; it is as cheap as bufconn and cheaper than either
// socket, with nothing but the standard library.
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// memNetwork is the network name of the pipe's addresses: no outside
// caller can come from it, which is why the decision log trusts
// x-forwarded-for on such connections only.
const memNetwork = "pipe"

// Accept implements net.Listener.
func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener.
func (l *memListener) Addr() net.Addr { return memAddr{} }

// DialContext connects to the listener, for grpc.WithContextDialer.
func (l *memListener) DialContext(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		client.Close()
		server.Close()
		return nil, net.ErrClosed
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, ctx.Err()
	}
}

type memAddr struct{}

func (memAddr) Network() string { return memNetwork }
func (memAddr) String() string  { return "in-memory" }
