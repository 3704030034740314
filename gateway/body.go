package gateway

import (
	"errors"
	"io"
	"net/http"
)

// errBodyNotRead is what reading the body of a refused request returns.
// The handler fails with it, and the error handler answers the refusal.
var errBodyNotRead = errors.New("gateway: the request was refused; its body is not read")

// body is a request's body as the gateway's handlers read it. It reads
// nothing once the request is refused, and refuses the request when it is
// larger than limit: at the first read if its Content-Length says so, else
// when byte limit+1 arrives.
//
// A streaming route's handler reads the body on a goroutine of its own
// while the request's goroutine may be answering an error, so what a read
// changes (n, eof, refused, and the exchange's refusal) is guarded by the
// exchange's mutex.
type body struct {
	src      io.ReadCloser // the request's own body
	x        *exchange
	limit    int64
	declared int64 // Content-Length; -1 when unknown (chunked)
	tooLarge error // the refusal of a body over limit
	n        int64 // bytes read from src
	eof      bool  // src is read to its end
	refused  bool  // a read was refused
}

func (b *body) Read(p []byte) (int, error) {
	x := b.x
	if b.declared > b.limit {
		x.refuse(b.tooLarge) // unless the request is refused already
	}
	x.mu.Lock()
	if x.refusal != nil {
		b.refused = true
		x.mu.Unlock()
		return 0, errBodyNotRead
	}
	rest := b.limit + 1 - b.n
	x.mu.Unlock()
	if int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.src.Read(p)
	x.mu.Lock()
	b.n += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	over := b.n > b.limit
	if over {
		b.refused = true
	}
	x.mu.Unlock()
	if over {
		x.refuse(b.tooLarge)
		return n, errBodyNotRead
	}
	return n, err
}

// read returns how much of the body was read, and whether to its end.
func (b *body) read() (n int64, eof bool) {
	b.x.mu.Lock()
	defer b.x.mu.Unlock()
	return b.n, b.eof
}

// Close leaves the request's own body to the server, which closes it once
// the handler returns: closing it here would make net/http read what is
// left of it.
func (b *body) Close() error { return nil }

// maxUnreadDiscarded is how much of a request body net/http's HTTP/1 server
// reads and discards once the handler returns, to keep the connection; it
// closes a connection with more unread (net/http's maxPostHandlerReadBytes).
const maxUnreadDiscarded = 256 << 10

// leavesBodyUnread reports whether an answer to r, of whose body read bytes
// were read (eof: all of it), leaves so much of it unread that the
// connection should close: 256 KiB or more, or an unknown amount. Saying
// so (Connection: close) tells the client, and spares the server reading
// what it would discard. HTTP/2 ends a request's stream instead.
func leavesBodyUnread(r *http.Request, read int64, eof bool) bool {
	switch {
	case r.ProtoMajor != 1 || eof || r.ContentLength == 0:
		return false
	case r.ContentLength < 0:
		return true
	}
	return r.ContentLength-read >= maxUnreadDiscarded
}
