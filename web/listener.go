package web

import (
	"net"
	"sync"
)

// LimitPerClient wraps a listener so that one client address holds at most n connections at
// once (n <= 0: no limit); a connection over the limit is closed as soon as it is accepted.
// It bounds what one host can tie up (slow bodies, idle keep-alives) on a public listener.
// Behind a proxy every connection comes from the proxy: raise or disable the limit there.
func LimitPerClient(ln net.Listener, n int, refused func()) net.Listener {
	if n <= 0 {
		return ln
	}
	return &perClient{Listener: ln, max: n, open: map[string]int{}, refused: refused}
}

type perClient struct {
	net.Listener
	max     int
	refused func()

	mu   sync.Mutex
	open map[string]int
}

func (l *perClient) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := hostOf(c.RemoteAddr())
		l.mu.Lock()
		if l.open[host] >= l.max {
			l.mu.Unlock()
			c.Close()
			if l.refused != nil {
				l.refused()
			}
			continue
		}
		l.open[host]++
		l.mu.Unlock()
		return &countedConn{Conn: c, l: l, host: host}, nil
	}
}

func (l *perClient) done(host string) {
	l.mu.Lock()
	if l.open[host]--; l.open[host] <= 0 {
		delete(l.open, host)
	}
	l.mu.Unlock()
}

type countedConn struct {
	net.Conn
	l    *perClient
	host string
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.done(c.host) })
	return err
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
