package app

import (
	"fmt"
	"testing"
)

func TestStoreEvictsOldest(t *testing.T) {
	s := newStore(3)
	for i := range 5 {
		s.put(Order{ID: fmt.Sprint("ord-", i)})
	}

	if got := s.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3", got)
	}
	for i, want := range []bool{false, false, true, true, true} {
		t.Run(fmt.Sprint("ord-", i), func(t *testing.T) {
			if _, ok := s.Get(fmt.Sprint("ord-", i)); ok != want {
				t.Errorf("present = %v, want %v", ok, want)
			}
		})
	}
}

func TestStoreOverwriteDoesNotEvict(t *testing.T) {
	s := newStore(2)
	s.put(Order{ID: "a", Quantity: 1})
	s.put(Order{ID: "b"})
	s.put(Order{ID: "a", Quantity: 2})

	if o, ok := s.Get("a"); !ok || o.Quantity != 2 {
		t.Errorf("a = %+v, %v; want the overwritten order", o, ok)
	}
	if _, ok := s.Get("b"); !ok {
		t.Error("b was evicted by an overwrite")
	}
}

func TestTokens(t *testing.T) {
	s, other := NewStore(), NewStore()
	tok := s.issueToken()
	tests := []struct {
		name  string
		store *Store
		tok   string
		want  bool
	}{
		{name: "issued here", store: s, tok: tok, want: true},
		{name: "other store", store: other, tok: tok, want: false},
		{name: "empty", store: s, tok: "", want: false},
		{name: "too long", store: s, tok: tok + "AAAA", want: false},
		{name: "not base64", store: s, tok: "!" + tok[1:], want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.store.validToken(tt.tok); got != tt.want {
				t.Errorf("validToken(%q) = %v, want %v", tt.tok, got, tt.want)
			}
		})
	}
}
