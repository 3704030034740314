package main

// What the attack suite leaves behind: the record of every answer, printed
// at the end, the check that the demo's debug log shows no secret, and a
// trap that tells whether the server ever fetched a URL named in a token.

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// record holds every case's answers on every face, printed at the end of a
// verbose or failed run.
type record struct {
	mu   sync.Mutex
	rows map[string][]string // case name → "face: answer"
}

func (r *record) add(caseName, face, got string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rows == nil {
		r.rows = map[string][]string{}
	}
	r.rows[caseName] = append(r.rows[caseName], face+": "+got)
}

func (r *record) log(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.rows))
	for n := range r.rows {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		rows := r.rows[n]
		sort.Strings(rows)
		fmt.Fprintf(&b, "%s\n", n)
		for _, row := range rows {
			fmt.Fprintf(&b, "    %s\n", row)
		}
	}
	t.Logf("answers:\n%s", b.String())
}

// secretSet is what must never reach the log: secrets, status tokens, and
// every token, authorization value and signature the cases send.
type secretSet struct {
	mu     sync.Mutex
	nameOf map[string]string // secret → the case that sent it, or what it is
}

func (s *secretSet) add(name, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nameOf == nil {
		s.nameOf = map[string]string{}
	}
	if len(v) >= 16 { // shorter strings could turn up by chance
		s.nameOf[v] = name
	}
}

// addValue adds an authorization (or status token) value: the whole value,
// the token in it and its signature segment.
func (s *secretSet) addValue(name, v string) {
	s.add(name, v)
	if _, tok, ok := strings.Cut(v, " "); ok {
		s.add(name+": token", tok)
		v = tok
	}
	if i := strings.LastIndexByte(v, '.'); i >= 0 {
		s.add(name+": signature", v[i+1:])
	}
}

func (s *secretSet) addCases(cases []attack) {
	for _, c := range cases {
		for i := 1; i < len(c.md); i += 2 {
			s.addValue(c.name, c.md[i])
		}
		for _, h := range c.headers {
			s.addValue(c.name, h[1])
		}
		if c.query != "" {
			if q, err := url.ParseQuery(c.query); err == nil {
				for _, v := range q["token"] {
					s.add(c.name+": ?token=", v)
				}
			}
		}
	}
}

// checkLog fails if the log shows any of the secrets.
func (s *secretSet) checkLog(t *testing.T, out string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	leaks := 0
	for v, name := range s.nameOf {
		if strings.Contains(out, v) {
			leaks++
			if leaks <= 20 {
				line := out[strings.LastIndexByte(out[:strings.Index(out, v)], '\n')+1:]
				line, _, _ = strings.Cut(line, "\n")
				t.Errorf("the log shows a secret of case %q: %.60q in line %.300q", name, v, strings.ReplaceAll(line, v, "<SECRET>"))
			}
		}
	}
	if leaks > 0 {
		t.Errorf("%d secrets in the log", leaks)
	}
	if !strings.Contains(out, "tokengate: call ") {
		t.Errorf("the log holds no decisions: the check saw nothing")
	}
}

// debugLogger is a demo logger at debug level, the most talkative one, so
// that the log check sees everything the demo could ever write.
func debugLogger() (*syncBuffer, *slog.Logger) {
	var logs syncBuffer
	return &logs, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// urlTrap listens on loopback and counts connections: URLs in kid, jku and
// x5u point at it, and nothing may ever come.
type urlTrap struct {
	listener net.Listener
	hits     atomic.Int32
	done     chan struct{}
}

func newURLTrap(t *testing.T) *urlTrap {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &urlTrap{listener: listener, done: make(chan struct{})}
	go func() {
		defer close(u.done)
		for {
			c, err := listener.Accept()
			if err != nil {
				return
			}
			u.hits.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(u.close)
	return u
}

func (u *urlTrap) url(path string) string { return "http://" + u.listener.Addr().String() + path }

func (u *urlTrap) close() { u.listener.Close(); <-u.done }
