package admin

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// Limits bound what clients of the admin listener may hold: connections
// at once, and how long and how much a request may take. The listener
// answers anyone who can reach it, signed in or not, so without them a
// flood of requests that never finish their body held a file descriptor
// each until the process had none left (probe2: 19,990 connections took
// the proxy, its auth endpoint and /healthz down).
type Limits struct {
	// MaxConns is the connections served at once; the rest wait in the
	// kernel's backlog, unaccepted, holding no descriptor of ours.
	MaxConns int
	// MaxConnsPerAddr is the connections one client address may hold of
	// those; past it, a new one is closed at once. It keeps one address
	// from taking every slot (and with them /healthz).
	MaxConnsPerAddr int
	// ReadTimeout bounds reading a whole request, its body included: it
	// is what frees a slot held by a client that never sends its body.
	ReadTimeout       time.Duration
	ReadHeaderTimeout time.Duration
	// WriteTimeout bounds writing the answer. /debug/pprof/profile and
	// the delta profiles (?seconds=N) extend it by N themselves.
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration
	MaxHeaderBytes int
	// ErrorLog, if set, gets the server's complaints (a handler's panic,
	// a failed accept), as the proxy's listener's do.
	ErrorLog *log.Logger
}

// DefaultLimits are the admin listener's limits; a zero field of the
// Limits given to ListenLimited takes its value from here.
func DefaultLimits() Limits {
	return Limits{
		MaxConns:          256,
		MaxConnsPerAddr:   64,
		ReadTimeout:       30 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.MaxConns, d.MaxConns)
	set(&l.MaxConnsPerAddr, d.MaxConnsPerAddr)
	set(&l.MaxHeaderBytes, d.MaxHeaderBytes)
	setD(&l.ReadTimeout, d.ReadTimeout)
	setD(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	setD(&l.WriteTimeout, d.WriteTimeout)
	setD(&l.IdleTimeout, d.IdleTimeout)
	return l
}

// Server serves the admin API and the dashboard on a listener of their
// own, apart from the proxy's: health checks and metrics scrapes get
// through when the proxy's connections are all taken. It has its own
// bounds (Limits), so its clients cannot take the process's descriptors
// either.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen listens on addr for h under DefaultLimits. It does not serve yet.
func Listen(addr string, h http.Handler) (*Server, error) {
	return ListenLimited(addr, h, DefaultLimits())
}

// ListenLimited listens on addr for h under l (its zero fields taken from
// DefaultLimits). It does not serve yet.
func ListenLimited(addr string, h http.Handler, l Limits) (*Server, error) {
	l = l.withDefaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// The per-address count is under the global one: a connection closed
	// for its address never takes a slot for long.
	capped := netutil.LimitListener(&addrLimitListener{Listener: ln, max: l.MaxConnsPerAddr, n: map[string]int{}}, l.MaxConns)
	return &Server{ln: capped, srv: &http.Server{Handler: h,
		ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout, WriteTimeout: l.WriteTimeout,
		IdleTimeout: l.IdleTimeout, MaxHeaderBytes: l.MaxHeaderBytes, ErrorLog: l.ErrorLog}}, nil
}

// URL is the admin base URL.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Serve serves in the background, and sends its end on errc.
func (s *Server) Serve(errc chan<- error) { go func() { errc <- s.srv.Serve(s.ln) }() }

// Shutdown stops accepting and waits, until ctx ends, for the requests in
// flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close closes the listener and every connection at once; closing again
// is not an error.
func (s *Server) Close() error {
	if err := s.srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// addrLimitListener closes, as soon as it is accepted, a connection from
// an address that already holds max. Its map holds only addresses with a
// connection open, so it is bounded by the connections served.
type addrLimitListener struct {
	net.Listener
	max int
	mu  sync.Mutex
	n   map[string]int
}

func (l *addrLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := c.RemoteAddr().String()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		l.mu.Lock()
		over := l.n[host] >= l.max
		if !over {
			l.n[host]++
		}
		l.mu.Unlock()
		if over {
			c.Close()
			continue
		}
		return &addrConn{Conn: c, l: l, host: host}, nil
	}
}

type addrConn struct {
	net.Conn
	l    *addrLimitListener
	host string
	once sync.Once
}

func (c *addrConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.n[c.host]--; c.l.n[c.host] <= 0 {
			delete(c.l.n, c.host)
		}
		c.l.mu.Unlock()
	})
	return err
}
