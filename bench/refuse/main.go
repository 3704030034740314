// Command refuse sends one kind of call to a tokengate server, as cheaply as
// a client can, and counts the answers: refused calls carrying a large body
// (no token, or a forged one) or accepted small calls (a valid token). It is
// the load tool of bench/refusal.sh, where a refusing server must be flooded
// without the client becoming the bottleneck on a 2-core machine:
//
//   - gRPC: the request is marshalled once and sent through a raw codec, so
//     a call costs the client no marshalling, and grpc-go writes only what
//     the server's flow-control windows let through before the refusal
//     comes back.
//   - REST: raw HTTP/1.1 on net.Conn. The request (headers and body) is
//     built once. A writer goroutine sends it while the answer is read, so
//     a server that answers before reading the body is heard at once; the
//     connection is dropped and redialled when the server closes it (Go's
//     server does after refusing a large unread body).
//
// It runs until -n calls were answered, -d passed, -stop-file exists, or
// SIGINT/SIGTERM, then lets the calls in flight finish (none is cut),
// prints one JSON summary on stdout, and exits 1 if any answer was not the
// expected one.
//
// A REST call whose connection died before any answer is counted as "cut",
// not as answered: it was attempted, but the caller never learned why.
//
// -probe (gRPC) also reads the frames the server sends on each connection
// and reports the flow-control windows it advertised: its initial SETTINGS,
// every later SETTINGS_INITIAL_WINDOW_SIZE (grpc-go's BDP estimation raises
// it), and the WINDOW_UPDATE increments on the connection and on streams.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	tokengatev1 "github.com/tokengate/tokengate/proto/tokengate/v1"
	"github.com/tokengate/tokengate/token"
)

const method = "/tokengate.v1.EchoService/UnaryEcho"

type summary struct {
	Face       string         `json:"face"`
	Auth       string         `json:"auth"`
	BodyBytes  int            `json:"body_bytes"`
	Answered   int64          `json:"answered"`   // calls that got an answer
	Expected   int64          `json:"expected"`   // answers equal to -expect
	Unexpected map[string]int `json:"unexpected"` // other answers, by code
	Cut        int64          `json:"cut"`        // REST: connection lost with no answer
	Dials      int64          `json:"dials"`      // connections opened
	BytesSent  int64          `json:"bytes_sent"` // written to sockets by this client
	ElapsedS   float64        `json:"elapsed_s"`
	Rate       float64        `json:"rate"` // answered calls per second
	CPUS       float64        `json:"client_cpu_s"`
	Probe      *probeReport   `json:"probe,omitempty"`
}

func main() {
	face := flag.String("face", "grpc", "grpc or rest")
	addr := flag.String("addr", "127.0.0.1:50051", "server address (loopback only)")
	authKind := flag.String("auth", "none", "none, forged (signed with another secret) or valid (signed with TOKENS_SECRET)")
	size := flag.Int("size", 1<<20, "request body bytes: the marshalled EchoRequest (gRPC) or the JSON (REST)")
	n := flag.Int64("n", 0, "stop after this many answered calls (0: no limit)")
	dur := flag.Duration("d", time.Minute, "stop after this long at the latest")
	c := flag.Int("c", 50, "concurrent callers")
	conns := flag.Int("conns", 4, "gRPC connections the callers share (REST: one per caller)")
	expect := flag.String("expect", "", "expected answer: a gRPC code name or an HTTP status (default: OK/200 for valid, Unauthenticated/401 otherwise)")
	stopFile := flag.String("stop-file", "", "stop once this file exists, or its directory does not (how a script ends a run when another tool's run ends)")
	probe := flag.Bool("probe", false, "gRPC: report the flow-control windows the server advertised")
	delay := flag.Duration("delay", 0, "gRPC: hold what the server sends this long before the client sees it, as a link with that one-way delay would")
	flag.Parse()

	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		fail("refuse: -addr must be a loopback IP and port, got %q", *addr)
	}
	bearer := ""
	switch *authKind {
	case "none":
	case "forged", "valid":
		secret := os.Getenv("TOKENS_SECRET")
		if *authKind == "forged" {
			// Well formed, unexpired, but signed with a secret the server
			// does not have: refused on its signature.
			secret = "not-the-server-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		}
		if secret == "" {
			fail("refuse: -auth valid needs TOKENS_SECRET")
		}
		tok, err := token.Sign([]byte(secret), token.Claims{User: "bench", ExpiresAt: time.Now().Add(2 * time.Hour)})
		if err != nil {
			fail("refuse: %v", err)
		}
		bearer = "Bearer " + tok
	default:
		fail("refuse: -auth must be none, forged or valid")
	}
	if *expect == "" {
		*expect = map[bool]string{true: "OK", false: "Unauthenticated"}[*authKind == "valid"]
		if *face == "rest" {
			*expect = map[bool]string{true: "200", false: "401"}[*authKind == "valid"]
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	if *stopFile != "" {
		go func() {
			for ctx.Err() == nil {
				// The file, or its directory gone: the script that
				// started this run has ended, so this run ends too.
				_, err := os.Stat(*stopFile)
				_, derr := os.Stat(filepath.Dir(*stopFile))
				if err == nil || derr != nil {
					cancel()
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}

	r := &run{limit: *n, expect: *expect, unexpected: map[string]int{}}
	s := summary{Face: *face, Auth: *authKind, BodyBytes: *size}
	start := time.Now()
	switch *face {
	case "grpc":
		s.Probe = r.grpc(ctx, *addr, bearer, *size, *c, *conns, *probe, *delay)
	case "rest":
		r.rest(ctx, *addr, bearer, *size, *c)
	default:
		fail("refuse: -face must be grpc or rest")
	}
	s.ElapsedS = time.Since(start).Seconds()
	s.Answered, s.Expected, s.Cut = r.answered.Load(), r.expected.Load(), r.cut.Load()
	s.Dials, s.BytesSent = r.dials.Load(), r.sent.Load()
	s.Unexpected = r.unexpected
	s.Rate = float64(s.Answered) / s.ElapsedS
	s.CPUS = cpuSeconds()
	out, _ := json.Marshal(s)
	fmt.Println(string(out))
	if s.Answered != s.Expected {
		os.Exit(1)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

// run counts the answers of all callers.
type run struct {
	limit  int64 // 0: none
	issued atomic.Int64
	expect string

	answered, expected, cut, dials, sent atomic.Int64

	mu         sync.Mutex
	unexpected map[string]int
}

// next reports whether a caller may start another call.
func (r *run) next(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	return r.limit == 0 || r.issued.Add(1) <= r.limit
}

func (r *run) answer(code string) {
	r.answered.Add(1)
	if code == r.expect {
		r.expected.Add(1)
		return
	}
	r.mu.Lock()
	r.unexpected[code]++
	r.mu.Unlock()
}

// countingConn counts the bytes this client writes, and in probe mode
// copies what it reads to a frame reader.
type countingConn struct {
	net.Conn
	sent *atomic.Int64
	tee  *io.PipeWriter // nil unless probing
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.sent.Add(int64(n))
	return n, err
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.tee != nil && n > 0 {
		if _, werr := c.tee.Write(b[:n]); werr != nil {
			c.tee = nil // the frame reader gave up; keep the call going
		}
	}
	return n, err
}

func (c *countingConn) Close() error {
	if c.tee != nil {
		c.tee.Close()
	}
	return c.Conn.Close()
}

// rawCodec sends bytes that are already a marshalled message, and keeps the
// answer's bytes unparsed: a call costs the client no (un)marshalling.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" } // what the server expects on the wire

func (r *run) grpc(ctx context.Context, addr, bearer string, size, c, conns int, probe bool, delay time.Duration) *probeReport {
	// One EchoRequest of exactly size bytes once marshalled: a tag byte and
	// a varint length before the text.
	text := size - 1 - varintLen(size)
	text = size - 1 - varintLen(text)
	req, err := proto.Marshal(&tokengatev1.EchoRequest{Message: strings.Repeat("x", text)})
	if err != nil || len(req) != size {
		fail("refuse: cannot make a %d-byte request (got %d, %v)", size, len(req), err)
	}
	var pr *probeReport
	if probe {
		pr = &probeReport{}
	}
	dial := func(ctx context.Context, a string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", a)
		if err != nil {
			return nil, err
		}
		r.dials.Add(1)
		if delay > 0 {
			nc = newDelayedConn(nc, delay)
		}
		cc := &countingConn{Conn: nc, sent: &r.sent}
		if pr != nil {
			rd, wr := io.Pipe()
			cc.tee = wr
			go pr.read(rd)
		}
		return cc, nil
	}
	clients := make([]*grpc.ClientConn, conns)
	for i := range clients {
		cl, err := grpc.NewClient("passthrough:///"+addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(dial),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
		if err != nil {
			fail("refuse: %v", err)
		}
		defer cl.Close()
		clients[i] = cl
	}
	callCtx := context.Background() // calls in flight finish after ctx ends
	if bearer != "" {
		callCtx = metadata.AppendToOutgoingContext(callCtx, "authorization", bearer)
	}
	var wg sync.WaitGroup
	for i := range c {
		cl := clients[i%conns]
		wg.Go(func() {
			var resp []byte
			for r.next(ctx) {
				err := cl.Invoke(callCtx, method, &req, &resp)
				r.answer(status.Code(err).String())
			}
		})
	}
	wg.Wait()
	for _, cl := range clients {
		cl.Close()
	}
	return pr.done()
}

// delayedConn delivers what the server sends delay after it arrived: a
// one-way delay on the answer path, so that a refusal reaches the client as
// late as over a real link, and the client goes on sending what the
// server's windows allow meanwhile. (Loopback answers in microseconds,
// before a client has sent much; the emulation needs no root and touches no
// interface.) Acknowledgements of TCP itself are not delayed.
type delayedConn struct {
	net.Conn
	delay time.Duration
	in    chan chunk
	cur   []byte
	err   error
}

type chunk struct {
	at   time.Time
	data []byte
	err  error
}

func newDelayedConn(c net.Conn, delay time.Duration) *delayedConn {
	d := &delayedConn{Conn: c, delay: delay, in: make(chan chunk, 1024)}
	go func() {
		for {
			buf := make([]byte, 32<<10)
			n, err := c.Read(buf)
			d.in <- chunk{at: time.Now(), data: buf[:n], err: err}
			if err != nil {
				close(d.in)
				return
			}
		}
	}()
	return d
}

func (d *delayedConn) Read(b []byte) (int, error) {
	for len(d.cur) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		ch, ok := <-d.in
		if !ok {
			return 0, io.EOF
		}
		time.Sleep(time.Until(ch.at.Add(d.delay)))
		d.cur, d.err = ch.data, ch.err
	}
	n := copy(b, d.cur)
	d.cur = d.cur[n:]
	return n, nil
}

func varintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

// probeReport is what the server advertised, over all connections.
type probeReport struct {
	mu sync.Mutex
	wg sync.WaitGroup
	// InitialSettings are the server's first SETTINGS, per connection
	// (identical on all of them in practice, so kept once).
	InitialSettings map[string]uint32 `json:"initial_settings"`
	// StreamWindows are the SETTINGS_INITIAL_WINDOW_SIZE values the server
	// sent after its first SETTINGS, in order, on the first connection
	// that sent any (BDP estimation), and their count on all.
	StreamWindows      []uint32 `json:"later_stream_windows"`
	StreamWindowCount  int      `json:"later_stream_window_settings"`
	ConnWindowUpdates  int64    `json:"conn_window_updates"`
	ConnWindowIncrease int64    `json:"conn_window_increase_bytes"`
	// ConnWindowFirst is the first WINDOW_UPDATE on the connection: with
	// InitialConnWindowSize set, it raises the 65535-byte default at once.
	ConnWindowFirst     int64 `json:"conn_window_first_update"`
	StreamWindowUpdates int64 `json:"stream_window_updates"`
	RSTStreams          int64 `json:"rst_streams"`
	firstConn           bool
}

func (p *probeReport) read(rd *io.PipeReader) {
	p.wg.Add(1)
	defer p.wg.Done()
	defer rd.Close()
	fr := http2.NewFramer(nil, rd)
	fr.SetMaxReadFrameSize(1 << 24)
	first, later := true, []uint32(nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		p.mu.Lock()
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				break
			}
			if first {
				first = false
				if p.InitialSettings == nil {
					p.InitialSettings = map[string]uint32{}
					_ = f.ForeachSetting(func(s http2.Setting) error {
						p.InitialSettings[s.ID.String()] = s.Val
						return nil
					})
				}
				break
			}
			if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
				later = append(later, v)
				p.StreamWindowCount++
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				if p.ConnWindowUpdates == 0 && p.ConnWindowFirst == 0 {
					p.ConnWindowFirst = int64(f.Increment)
				}
				p.ConnWindowUpdates++
				p.ConnWindowIncrease += int64(f.Increment)
			} else {
				p.StreamWindowUpdates++
			}
		case *http2.RSTStreamFrame:
			p.RSTStreams++
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	if len(later) > 0 && !p.firstConn {
		p.firstConn = true
		p.StreamWindows = later
	}
	p.mu.Unlock()
}

func (p *probeReport) done() *probeReport {
	if p == nil {
		return nil
	}
	p.wg.Wait()
	return p
}

// sendBuffer is the REST client's SO_SNDBUF (the kernel doubles it).
const sendBuffer = 64 << 10

func (r *run) rest(ctx context.Context, addr, bearer string, size, c int) {
	// One JSON body of exactly size bytes, and the whole request in one
	// buffer.
	const open, closing = `{"message":"`, `"}`
	body := open + strings.Repeat("x", max(size-len(open)-len(closing), 0)) + closing
	var b strings.Builder
	fmt.Fprintf(&b, "POST /v1/echo HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", addr, len(body))
	if bearer != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", bearer)
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	req := []byte(b.String())

	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			var conn net.Conn
			var br *bufio.Reader
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			for r.next(ctx) {
				if conn == nil {
					nc, err := net.Dial("tcp", addr)
					if err != nil {
						r.cut.Add(1)
						time.Sleep(10 * time.Millisecond) // e.g. no ephemeral port left for a moment
						continue
					}
					r.dials.Add(1)
					// A small send buffer: the kernel would otherwise take
					// the whole body at once, and this process would copy
					// into its own buffers bytes that a server refusing
					// before reading never lets past its receive window.
					// The server sees the same bytes either way.
					if tc, ok := nc.(*net.TCPConn); ok {
						_ = tc.SetWriteBuffer(sendBuffer)
					}
					conn, br = nc, bufio.NewReaderSize(nc, 4096)
				}
				keep := r.restCall(conn, br, req)
				if !keep {
					// Linger 0: the close is a reset, so no TIME_WAIT
					// holds a port on either side; thousands of refused
					// calls a second each use a new connection.
					if tc, ok := conn.(*net.TCPConn); ok {
						_ = tc.SetLinger(0)
					}
					conn.Close()
					conn = nil
				}
			}
		})
	}
	wg.Wait()
}

// restCall sends req on conn while reading the answer, and reports whether
// conn can carry another request.
func (r *run) restCall(conn net.Conn, br *bufio.Reader, req []byte) (keep bool) {
	type result struct {
		n   int
		err error
	}
	wrote := make(chan result, 1)
	var answered atomic.Bool
	go func() {
		// In pieces, stopping once the answer is in: a server that refuses
		// before reading the body gets no more than it asked for, and the
		// client no copying it need not do. (Written whole, the request
		// would be accepted by the kernel's socket buffers at once and
		// copied on loopback, the receiving side's work included, by this
		// process: the client would be the bottleneck.)
		const piece = 64 << 10
		var w result
		for w.n < len(req) && w.err == nil && !answered.Load() {
			var n int
			n, w.err = conn.Write(req[w.n:min(w.n+piece, len(req))])
			w.n += n
		}
		r.sent.Add(int64(w.n))
		wrote <- w
	}()
	resp, err := http.ReadResponse(br, nil)
	answered.Store(true)
	if err != nil {
		r.cut.Add(1)
		conn.Close() // stops the writer
		<-wrote
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.answer(strconv.Itoa(resp.StatusCode))
	if err != nil || resp.Close {
		conn.Close() // the body may be unsent: stop the writer
		<-wrote
		return false
	}
	// The server answered and keeps the connection: it read the whole
	// request, so the writer is done or about to be (if it stopped short,
	// the connection is out of step: drop it).
	w := <-wrote
	return w.err == nil && w.n == len(req)
}
