package token

import (
	"hash/maphash"
	"sync"
	"time"
)

// cache remembers verified tokens until they expire. It is split into
// shards so concurrent calls rarely wait on the same lock, and each shard is
// bounded: when one is full, random entries go (Go's map iteration order is
// random, which makes this a cheap random eviction).
//
// Entries are found by a keyed 64-bit hash of the token (the seed is random
// per process, so nobody can aim for a bucket) and confirmed with a
// constant-time comparison of the whole token.
//
// A hit reads only the monotonic clock (time.Since, cheaper than time.Now):
// each entry remembers when it was stored and how long it may be served,
// which is until its token enters its last valid second (exp + leeway). After
// that the token takes the full path, which checks the wall clock exactly.
// Because the serving window is measured on the monotonic clock, a step of
// the wall clock does not move it; it is bounded by the token's lifetime.
// The cache holds no timers or goroutines: a dropped Verifier is garbage.
type cache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
	limit  int // per shard
}

const cacheShards = 16

type cacheShard struct {
	mu      sync.RWMutex
	entries map[uint64]*cacheEntry
}

type cacheEntry struct {
	token  string
	claims Claims
	until  time.Time     // exp + leeway, on the wall clock
	stored time.Time     // when it was stored, with a monotonic reading
	ttl    time.Duration // how long after stored it may be served
}

// live reports whether e may still be served, by the monotonic clock.
func (e *cacheEntry) live() bool { return time.Since(e.stored) < e.ttl }

func newCache(size int) *cache {
	c := &cache{seed: maphash.MakeSeed(), limit: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].entries = make(map[uint64]*cacheEntry)
	}
	return c
}

// get returns the entry for tok, if there is one, and tok's hash for put.
// The caller checks that the entry is still live.
func (c *cache) get(tok string) (*cacheEntry, uint64) {
	h := maphash.String(c.seed, tok)
	s := &c.shards[h%cacheShards]
	s.mu.RLock()
	e := s.entries[h]
	s.mu.RUnlock()
	if e == nil || !equalConstantTime(e.token, tok) {
		return nil, h
	}
	return e, h
}

// put remembers a verified token whose hash get returned. until is exp +
// leeway; now is the time the token was verified at, on the verifier's
// clock (time.Now, with its monotonic reading, unless WithClock).
func (c *cache) put(h uint64, tok string, claims Claims, until, now time.Time) {
	ttl := until.Sub(now)
	if ttl <= 0 {
		return // already in its last second: not worth remembering
	}
	stored := now
	if !hasMonotonic(now) {
		stored = time.Now() // a custom clock: serve for ttl from now on the real one
	}
	s := &c.shards[h%cacheShards]
	e := &cacheEntry{token: tok, claims: claims, until: until, stored: stored, ttl: ttl}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[h]; !ok && len(s.entries) >= c.limit {
		s.evict(c.limit)
	}
	s.entries[h] = e
}

// evict makes room: it drops random entries down to 7/8 of the limit, so
// that a flood of new tokens pays for eviction once every limit/8 inserts,
// not on each. Expired entries are not sought out: they are never served,
// and they go like the others when room is needed. Called with the lock
// held.
func (s *cacheShard) evict(limit int) {
	target := limit - limit/8 - 1
	for h := range s.entries {
		if len(s.entries) <= target {
			return
		}
		delete(s.entries, h)
	}
}

// hasMonotonic reports whether t carries a monotonic clock reading, as
// time.Now's results do (Round(0) strips it).
func hasMonotonic(t time.Time) bool { return t != t.Round(0) }

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}

// equalConstantTime reports whether a == b in time that depends only on
// their lengths. It is crypto/subtle.ConstantTimeCompare for strings: the
// []byte conversions that subtle would need cost an allocation per call on
// the hot path.
func equalConstantTime(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	return v == 0
}
