package analysis

import (
	"net/http"
	"sync"

	"github.com/greenlight/greenlight/analysis/source"
)

// clientCache keeps the source clients of the analyses running on one Engine, so that analyses
// reading the same endpoint with the same credentials through the same HTTP client share one
// source client (its transport, its connection pool, a Datadog source's retry state). An entry
// is keyed by its Kind's Key — the endpoint and a hash of the rest, never a secret — and lives
// while an analysis that took it runs: a daemon that has read many endpoints over months keeps
// only those in use.
type clientCache struct {
	mu      sync.Mutex
	clients map[clientKey]*cachedClient
}

type clientKey struct {
	via *http.Client // the client a source sends through: one network, one set of pools
	key string       // source.Kind.Key
}

type cachedClient struct {
	src  source.Source
	refs int
}

func newClientCache() *clientCache {
	return &clientCache{clients: map[clientKey]*cachedClient{}}
}

// acquire returns the source cached under key, opening it on first use, and the function that
// gives it back. A nil cache or an empty key shares nothing: every call opens its own.
func (c *clientCache) acquire(via *http.Client, key string, open func() (source.Source, error)) (source.Source, func(), error) {
	if c == nil || key == "" {
		src, err := open()
		return src, func() {}, err
	}
	k := clientKey{via: via, key: key}
	c.mu.Lock()
	defer c.mu.Unlock()
	cc := c.clients[k]
	if cc == nil {
		// Opening does no I/O (Kind.Open), so holding the lock through it costs little and no
		// two analyses open the same client.
		src, err := open()
		if err != nil {
			return nil, nil, err
		}
		cc = &cachedClient{src: src}
		c.clients[k] = cc
	}
	cc.refs++
	var once sync.Once
	return cc.src, func() { once.Do(func() { c.release(k) }) }, nil
}

func (c *clientCache) release(k clientKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc := c.clients[k]; cc != nil {
		if cc.refs--; cc.refs <= 0 {
			delete(c.clients, k)
		}
	}
}

// size is how many clients are cached.
func (c *clientCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.clients)
}

// defaultHTTPClient is an Engine's HTTP client for its sources unless EngineOptions gives one.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 8
	return &http.Client{Transport: t}
}
