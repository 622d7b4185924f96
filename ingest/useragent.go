package ingest

import (
	"sync"

	"github.com/mileusna/useragent"
)

// uaCache memoizes user agent parsing. Traffic carries few distinct user agent strings (a
// browser version per visitor population), and parsing one costs more than the rest of a
// message's enrichment, so a small bounded cache removes most of that work.
type uaCache struct {
	mu sync.RWMutex
	m  map[string]useragent.UserAgent
}

const uaCacheSize = 4096

func (c *uaCache) parse(s string) useragent.UserAgent {
	c.mu.RLock()
	ua, ok := c.m[s]
	c.mu.RUnlock()
	if ok {
		return ua
	}
	ua = useragent.Parse(s)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= uaCacheSize {
		c.m = make(map[string]useragent.UserAgent, uaCacheSize)
	}
	c.m[s] = ua
	c.mu.Unlock()
	return ua
}
