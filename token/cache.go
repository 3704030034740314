package token

import (
	"hash/maphash"
	"sync"
	"time"
)

// cache remembers verified tokens until they expire. It is split into
// shards so concurrent calls rarely wait on the same lock, and each shard
// is bounded: when one is full, expired entries go first, then arbitrary
// ones (Go's map iteration order is random, which makes this a cheap
// random eviction).
//
// Entries are found by a keyed 64-bit hash of the token (the seed is random
// per process, so nobody can aim for a bucket) and confirmed with a
// constant-time comparison of the whole token.
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
	until  time.Time // exp + leeway: never served past it
}

func newCache(size int) *cache {
	c := &cache{seed: maphash.MakeSeed(), limit: (size + cacheShards - 1) / cacheShards}
	for i := range c.shards {
		c.shards[i].entries = make(map[uint64]*cacheEntry)
	}
	return c
}

func (c *cache) get(tok string, now time.Time) (Claims, bool) {
	h := maphash.String(c.seed, tok)
	s := &c.shards[h%cacheShards]
	s.mu.RLock()
	e := s.entries[h]
	s.mu.RUnlock()
	if e == nil || !equalConstantTime(e.token, tok) {
		return Claims{}, false
	}
	if now.Truncate(time.Second).After(e.until) {
		return Claims{}, false
	}
	return e.claims, true
}

func (c *cache) put(tok string, claims Claims, until, now time.Time) {
	h := maphash.String(c.seed, tok)
	s := &c.shards[h%cacheShards]
	e := &cacheEntry{token: tok, claims: claims, until: until}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[h]; !ok && len(s.entries) >= c.limit {
		s.evict(c.limit, now)
	}
	s.entries[h] = e
}

// evict makes room: it drops every expired entry and, if that is not enough,
// random ones down to 7/8 of the limit, so that a flood of new tokens pays
// for a scan once every limit/8 inserts, not on each. Called with the lock
// held.
func (s *cacheShard) evict(limit int, now time.Time) {
	now = now.Truncate(time.Second)
	for h, e := range s.entries {
		if now.After(e.until) {
			delete(s.entries, h)
		}
	}
	if len(s.entries) < limit {
		return
	}
	target := limit - limit/8 - 1
	for h := range s.entries {
		if len(s.entries) <= target {
			return
		}
		delete(s.entries, h)
	}
}

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
