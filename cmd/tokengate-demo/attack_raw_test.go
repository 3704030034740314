package main

// Raw connections for what the ordinary clients refuse to send: requests
// written byte by byte over HTTP/1.1 and HTTP/2, authorization values with
// control characters, and a gRPC connection that tells which of its calls
// reached the server.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
)

// dialRaw opens a TCP connection to addr that gives up after 10 s; the
// caller closes it.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}

// rawHTTP sends req as bytes on a new TCP connection and reads the answer.
func rawHTTP(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	conn := dialRaw(t, addr)
	defer conn.Close()
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func rawEchoRequest(authValue string) string {
	const body = `{"message":"hi"}`
	return "POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\nConnection: close\r\n", len(body)) +
		"Authorization: " + authValue + "\r\n\r\n" + body
}

// h2Answer is what came back on a raw HTTP/2 gRPC request.
type h2Answer struct {
	grpcStatus, grpcMessage string
	rst, goAway             *http2.ErrCode
}

func (a h2Answer) String() string {
	switch {
	case a.rst != nil:
		return "RST_STREAM " + a.rst.String()
	case a.goAway != nil:
		return "GOAWAY " + a.goAway.String()
	}
	return fmt.Sprintf("grpc-status %s %q", a.grpcStatus, a.grpcMessage)
}

// rawGRPC makes one UnaryEcho call on a new HTTP/2 connection, writing the
// header fields as given (a pseudo-header such as :path replaces the
// default one): no client-side validation.
func rawGRPC(t *testing.T, addr string, fields ...hpack.HeaderField) h2Answer {
	t.Helper()
	conn := dialRaw(t, addr)
	defer conn.Close()
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	all := []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/tokengate.v1.EchoService/UnaryEcho"},
		{Name: ":authority", Value: addr},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	}
	for _, f := range fields {
		// A pseudo-header given replaces the default one (there may be one
		// of each); other fields are added.
		i := slices.IndexFunc(all, func(d hpack.HeaderField) bool { return strings.HasPrefix(f.Name, ":") && d.Name == f.Name })
		if i >= 0 {
			all[i] = f
		} else {
			all = append(all, f)
		}
	}
	for _, f := range all {
		if err := enc.WriteField(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	msg, err := proto.Marshal(&tokengatev1.EchoRequest{Message: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	if err := fr.WriteData(1, true, append(frame, msg...)); err != nil {
		t.Fatal(err)
	}
	var a h2Answer
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("raw HTTP/2: %v (so far %v)", err, a)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = fr.WritePing(true, f.Data)
			}
		case *http2.MetaHeadersFrame:
			for _, hf := range f.Fields {
				switch hf.Name {
				case "grpc-status":
					a.grpcStatus = hf.Value
				case "grpc-message":
					a.grpcMessage, _ = url.PathUnescape(hf.Value)
				}
			}
			if f.StreamEnded() {
				return a
			}
		case *http2.RSTStreamFrame:
			code := f.ErrCode
			a.rst = &code
			return a
		case *http2.GoAwayFrame:
			code := f.ErrCode
			a.goAway = &code
			return a
		}
	}
}

// controlCharCase is an authorization value with bytes that grpc-go refuses
// to send and Go's HTTP client refuses to write.
type controlCharCase struct {
	name      string
	value     string
	wantH2    string // the raw HTTP/2 answer of the gRPC server
	wantHTTP1 int    // the raw HTTP/1.1 answer of the REST side
	wantMsg1  string // and the message of its JSON error body, if any
}

// controlCharCases puts control characters and other bytes into or after
// valid, a token the demo accepts.
func controlCharCases(valid string) []controlCharCase {
	insideToken := func(s string) string { return "Bearer " + valid[:20] + s + valid[20:] }
	protoErr := "RST_STREAM PROTOCOL_ERROR"
	return []controlCharCase{
		{"NUL inside the token", insideToken("\x00"), protoErr, 400, ""},
		{"NUL after the token", "Bearer " + valid + "\x00", protoErr, 400, ""},
		{"CR inside the token", insideToken("\r"), protoErr, 400, ""},
		{"LF inside the token", insideToken("\n"), protoErr, 400, ""},
		{"CRLF inside the token", insideToken("\r\n"), protoErr, 400, ""},
		// Go's HTTP/1.1 server unfolds obs-fold into a space (RFC 9112
		// §5.2 allows it): the token then holds a space.
		{"CRLF and a space inside the token (obs-fold)", insideToken("\r\n "), protoErr, 401, mMalformed},
		{"SOH inside the token", insideToken("\x01"), protoErr, 400, ""},
		{"ESC inside the token", insideToken("\x1b"), protoErr, 400, ""},
		{"DEL inside the token", insideToken("\x7f"), protoErr, 400, ""},
		// HTAB and bytes >= 0x80 are legal in HTTP field values, so they
		// reach the server: a tab is not a space to the bearer parser, and
		// the gateway refuses a value that is not printable ASCII.
		{"tab between scheme and token", "Bearer\t" + valid, `grpc-status 16 "` + mNotBearer + `"`, 401, mNotASCII},
		{"tab inside the token", insideToken("\t"), `grpc-status 16 "` + mMalformed + `"`, 401, mNotASCII},
		{"byte 0xff after the token", "Bearer " + valid + "\xff", `grpc-status 16 "` + mMalformed + `"`, 401, mNotASCII},
		{"é after the token", "Bearer " + valid + "é", `grpc-status 16 "` + mMalformed + `"`, 401, mNotASCII},
	}
}

// tracedConn is a gRPC connection that remembers the local addresses of
// the TCP connections it opens: the server's decision log names them as the
// peer, so the log tells which calls of this connection reached the
// server's authentication.
type tracedConn struct {
	*grpc.ClientConn
	mu    sync.Mutex
	addrs []string
}

func newTracedConn(t *testing.T, addr string) *tracedConn {
	t.Helper()
	tc := &tracedConn{}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", a)
			if err == nil {
				tc.mu.Lock()
				tc.addrs = append(tc.addrs, c.LocalAddr().String())
				tc.mu.Unlock()
			}
			return c, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	tc.ClientConn = conn
	t.Cleanup(func() { conn.Close() })
	return tc
}

// decisions counts the decision log records of calls made on tc.
func (tc *tracedConn) decisions(log string) int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "tokengate: call ") {
			continue
		}
		for _, a := range tc.addrs {
			if strings.Contains(line, " peer="+a) {
				n++
			}
		}
	}
	return n
}
