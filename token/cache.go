package token

import (
	"hash/maphash"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// cache remembers verified tokens until they expire. It is a fixed table of
// small sets, like a CPU cache: a token's hash picks one set of up to
// cacheWays slots, and a new entry takes a free slot of its set, or else a
// random one. The table never grows, so the bound is its size.
//
// Readers take no lock: every slot is an atomic pointer to an entry that
// never changes once stored, so a hit is a hash, a few loads and a
// comparison. Writers racing for one slot can leave it holding one writer's
// hash and the other's entry; readers check the entry's own hash, so that
// costs a miss, never a wrong answer.
//
// Entries are found by a keyed 64-bit hash of the token (the seed is random
// per process, so nobody can aim for a set) and confirmed with a
// constant-time comparison of the whole token.
//
// A hit is served only while the verifier's clock is within the token's
// validity (from nbf and iat − leeway to exp + leeway, in whole seconds),
// the very tests the full path makes, so a cached token is accepted exactly
// when it would be verified again, even by a clock that went back. The cache holds no timers or goroutines: a dropped Verifier is
// garbage.
type cache struct {
	seed maphash.Seed
	sets []cacheSet
	ways int // slots used in each set, 1 to cacheWays
}

const cacheWays = 4

// MaxCacheSize caps WithCacheSize. The table is allocated whole (16 bytes
// a slot), so the cap keeps a mistyped size from costing gigabytes.
const MaxCacheSize = 1 << 20

// cacheSet is one cache line: the hashes of its entries, read first so that
// a miss touches no entry, and the entries.
type cacheSet struct {
	hashes  [cacheWays]atomic.Uint64
	entries [cacheWays]atomic.Pointer[cacheEntry]
}

type cacheEntry struct {
	hash  uint64
	token string
	// lastSecond is the last whole second (Unix time) in which the token
	// is valid: exp + leeway, rounded down, as the full check counts.
	lastSecond int64
	// firstSecond is the first whole second in which the token is valid:
	// the later of nbf and iat, less leeway, rounded up (math.MinInt64
	// when it has neither).
	firstSecond int64
	claims      Claims
}

// servable reports whether e may be served at now: now is in the token's
// first valid second or after, and in its last valid second or before.
// These are the full check's tests on whole seconds (checkClaims compares
// now.Truncate(time.Second) with nbf and iat − leeway and exp + leeway).
func (e *cacheEntry) servable(now time.Time) bool {
	s := now.Unix()
	return s >= e.firstSecond && s <= e.lastSecond
}

// firstValidSecond returns the first whole second (Unix time) in which a
// token with claims c is valid under leeway: the later of its nbf and iat
// less leeway, rounded up; math.MinInt64 when it has neither.
func firstValidSecond(c Claims, leeway time.Duration) int64 {
	first := int64(math.MinInt64)
	for _, t := range [...]time.Time{c.NotBefore, c.IssuedAt} {
		if t.IsZero() {
			continue
		}
		t = t.Add(-leeway)
		s := t.Unix()
		if t.Nanosecond() > 0 {
			s++ // a second that starts before t is not valid
		}
		first = max(first, s)
	}
	return first
}

// newCache returns a cache of at most size entries (0 < size <= MaxCacheSize).
func newCache(size int) *cache {
	ways := min(size, cacheWays)
	return &cache{seed: maphash.MakeSeed(), sets: make([]cacheSet, size/ways), ways: ways}
}

// set returns the set for hash h.
func (c *cache) set(h uint64) *cacheSet {
	i, _ := bits.Mul64(h, uint64(len(c.sets))) // h scaled to [0, len): no division
	return &c.sets[i]
}

// get returns the entry for tok, if there is one, and tok's hash for put.
// The caller checks that the entry is still servable.
func (c *cache) get(tok string) (*cacheEntry, uint64) {
	h := maphash.String(c.seed, tok)
	s := c.set(h)
	for i := range c.ways {
		if s.hashes[i].Load() != h {
			continue
		}
		// The hash and the entry are stored one after the other, so a
		// racing put can pair them wrongly for a moment: check again.
		if e := s.entries[i].Load(); e != nil && e.hash == h && equalConstantTime(e.token, tok) {
			return e, h
		}
	}
	return nil, h
}

// put remembers a verified token whose hash get returned, and returns the
// VerifiedToken that shares its claims. until is exp + leeway.
func (c *cache) put(h uint64, tok string, claims Claims, until time.Time, leeway time.Duration) VerifiedToken {
	e := &cacheEntry{hash: h, token: tok, lastSecond: until.Unix(),
		firstSecond: firstValidSecond(claims, leeway), claims: claims}
	s := c.set(h)
	i := c.slotFor(s, h)
	s.entries[i].Store(e)
	s.hashes[i].Store(h)
	return VerifiedToken{&e.claims}
}

// slotFor picks the slot of s for a new entry with hash h: the one already
// holding h (the same token, verified again or by two calls at once), else
// an empty one, else a random one. It reads only the set's own cache line:
// looking into the entries to prefer expired ones would cost a memory miss
// per slot on every insert, which is what a flood of new tokens does all
// day; expired entries are never served, and go like the others.
func (c *cache) slotFor(s *cacheSet, h uint64) int {
	for i := range c.ways {
		if s.hashes[i].Load() == h {
			return i
		}
	}
	for i := range c.ways {
		if s.entries[i].Load() == nil {
			return i
		}
	}
	return rand.IntN(c.ways)
}

// len counts the entries held, servable or not.
func (c *cache) len() int {
	n := 0
	for i := range c.sets {
		for j := range c.ways {
			if c.sets[i].entries[j].Load() != nil {
				n++
			}
		}
	}
	return n
}

// equalConstantTime reports whether a == b in time that depends only on
// their lengths. It is crypto/subtle.ConstantTimeCompare for strings (the
// []byte conversions subtle needs would cost an allocation per call on the
// hot path), eight bytes at a time.
func equalConstantTime(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v uint64
	i := 0
	for ; i+8 <= len(a); i += 8 {
		v |= load64(a, i) ^ load64(b, i)
	}
	for ; i < len(a); i++ {
		v |= uint64(a[i] ^ b[i])
	}
	return v == 0
}

// load64 reads the eight bytes of s at i as one little-endian word (the
// compiler turns the pattern into a single load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
