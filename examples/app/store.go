package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// DefaultOrderLimit is how many orders a Store keeps before it forgets the
// oldest. Probes create orders for as long as a comparison runs, and a toy
// service must not grow without bound under that load.
const DefaultOrderLimit = 100_000

// Order is one stored order.
type Order struct {
	ID        string
	Item      string
	Quantity  int
	CreatedAt time.Time
	// Synthetic is true when the creating request carried the synthetic
	// traffic header; a real service would skip side effects for it.
	Synthetic bool
	// Format is the OrderFormat of the App that wrote the order: what a
	// strict reader checks before it agrees to decode it.
	Format int
}

// Store is the app's database: orders, and the key that signs session
// tokens. It is safe for concurrent use by any number of Apps.
type Store struct {
	tokenKey []byte

	mu     sync.RWMutex
	orders map[string]Order
	ring   []string // insertion order, for eviction
	next   int      // oldest entry of ring once it is full
	limit  int
}

// NewStore returns an empty Store that keeps up to DefaultOrderLimit orders.
func NewStore() *Store { return newStore(DefaultOrderLimit) }

func newStore(limit int) *Store {
	key := make([]byte, 32)
	rand.Read(key) // never fails: crypto/rand crashes the program rather than return short
	return &Store{tokenKey: key, orders: make(map[string]Order), limit: limit}
}

// Get returns the order with the given ID as stored, whatever its format.
func (s *Store) Get(id string) (Order, bool) {
	s.mu.RLock()
	o, ok := s.orders[id]
	s.mu.RUnlock()
	return o, ok
}

// Len returns how many orders the store holds.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.orders)
}

func (s *Store) put(o Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orders[o.ID]; ok {
		s.orders[o.ID] = o
		return
	}
	if len(s.ring) < s.limit {
		s.ring = append(s.ring, o.ID)
	} else {
		delete(s.orders, s.ring[s.next])
		s.ring[s.next] = o.ID
		s.next = (s.next + 1) % s.limit
	}
	s.orders[o.ID] = o
}

// Tokens are a random nonce followed by its truncated HMAC under the
// store's key. Checking one needs no lookup and no memory per login, which
// matters when probes log in thousands of times a second, and Apps that
// share a Store accept each other's tokens as they would with a shared
// session table.
const (
	nonceLen = 16
	macLen   = 16
	tokenLen = nonceLen + macLen
)

var tokenEncoding = base64.RawURLEncoding.Strict()

func (s *Store) issueToken() string {
	var b [tokenLen]byte
	rand.Read(b[:nonceLen])
	copy(b[nonceLen:], s.mac(b[:nonceLen]))
	return tokenEncoding.EncodeToString(b[:])
}

func (s *Store) validToken(tok string) bool {
	if tokenEncoding.DecodedLen(len(tok)) != tokenLen {
		return false
	}
	var b [tokenLen]byte
	if n, err := tokenEncoding.Decode(b[:], []byte(tok)); err != nil || n != tokenLen {
		return false
	}
	return hmac.Equal(b[nonceLen:], s.mac(b[:nonceLen]))
}

func (s *Store) mac(nonce []byte) []byte {
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write(nonce)
	return m.Sum(nil)[:macLen]
}
