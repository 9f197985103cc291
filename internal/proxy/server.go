package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/ja4"
)

// Limits hold a server's clients to what a config allows: connections at
// once, and how long and how much a request may take to arrive.
type Limits struct {
	MaxConns          int
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// ErrorLog gets the HTTP server's own errors (a client's broken
	// connection, a bad TLS hello): nil for the standard logger.
	ErrorLog *log.Logger
}

// Server serves a Proxy on its listener and, when it has an address, the
// proxy's auth endpoint (for edges that ask per request) on another, both
// under the same limits.
type Server struct {
	ln, authLn   net.Listener
	srv, authSrv *http.Server
	tls          bool
}

// Listen listens for p on addr, and for its auth endpoint on authAddr
// unless that is "". With tlsCfg (its certificates set) it terminates TLS
// on addr, and each request carries its connection's JA4
// (identity.ConnFingerprint). It does not serve yet.
func Listen(p *Proxy, addr, authAddr string, l Limits, tlsCfg *tls.Config) (*Server, error) {
	return listen(p, p.Auth, addr, authAddr, l, tlsCfg)
}

// listen is Listen for any handler h (tests' too), with auth's handler
// made only when it has an address.
func listen(h http.Handler, auth func() http.Handler, addr, authAddr string, l Limits, tlsCfg *tls.Config) (*Server, error) {
	s := &Server{}
	var err error
	if s.ln, err = ListenCapped(addr, l.MaxConns); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.srv = l.server(h)
	if tlsCfg != nil {
		s.tls = true
		s.ln = helloListener{s.ln}
		s.srv.TLSConfig = tlsCfg.Clone()
		s.srv.TLSConfig.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if c, ok := hello.Conn.(*helloConn); ok {
				c.ja4 = ja4.Of(ja4.FromClientHello(hello))
			}
			return nil, nil
		}
		s.srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				if hc, ok := tc.NetConn().(*helloConn); ok {
					// Written by the handshake, which the server reads
					// before any request of the connection.
					return identity.WithConnFingerprint(ctx, &hc.ja4)
				}
			}
			return ctx
		}
	}
	if authAddr != "" {
		if s.authLn, err = ListenCapped(authAddr, l.MaxConns); err != nil {
			s.ln.Close()
			return nil, fmt.Errorf("auth listen: %w", err)
		}
		s.authSrv = l.server(auth())
	}
	return s, nil
}

func (l Limits) server(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		IdleTimeout: l.IdleTimeout, MaxHeaderBytes: l.MaxHeaderBytes, ErrorLog: l.ErrorLog}
}

// Addr is the address the proxy serves on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// AuthURL is the auth endpoint's URL, or "off".
func (s *Server) AuthURL() string {
	if s.authLn == nil {
		return "off"
	}
	return "http://" + s.authLn.Addr().String() + AuthPath
}

// Serve serves in the background; each server's end (http.ErrServerClosed
// after a shutdown) is sent on errc, which must have room for two.
func (s *Server) Serve(errc chan<- error) {
	go func() {
		if s.tls {
			errc <- s.srv.ServeTLS(s.ln, "", "")
			return
		}
		errc <- s.srv.Serve(s.ln)
	}()
	if s.authSrv != nil {
		go func() { errc <- s.authSrv.Serve(s.authLn) }()
	}
}

// Shutdown stops accepting and waits, until ctx ends, for the requests in
// flight.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if s.authSrv != nil {
		err = errors.Join(err, s.authSrv.Shutdown(ctx))
	}
	return err
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	err := IgnoreClosed(s.srv.Close())
	if s.authSrv != nil {
		err = errors.Join(err, IgnoreClosed(s.authSrv.Close()))
	}
	return err
}

// helloListener's connections keep the JA4 of their ClientHello.
type helloListener struct{ net.Listener }

func (l helloListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &helloConn{Conn: c}, nil
}

type helloConn struct {
	net.Conn
	ja4 string
}

// IgnoreClosed drops the error that says a server or listener was closed
// already: closing twice is how shutdown and cleanup meet.
func IgnoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// reservedFiles are the descriptors kept for what is not a client's
// connection: the admin listener's connections, state.db, Redis's pool,
// the logs, the listeners themselves.
const reservedFiles = 1024

// FitConns is maxConns, lowered if need be so that the listeners' client
// connections fit the process's open-file limit (openFiles, 0 when
// unknown): each client of the proxy's listener may hold a connection to
// the upstream as well, and the auth listener (when on) takes as many
// clients again. Past the limit every accept fails, the admin's and
// /healthz's too: with 20,000 descriptors, 10,000 clients of a slow
// upstream took them all (found by a probe, 2026-12-05).
func FitConns(maxConns int, auth bool, openFiles uint64) int {
	if openFiles == 0 {
		return maxConns
	}
	per := uint64(2)
	if auth {
		per++
	}
	fit := (int64(openFiles) - reservedFiles) / int64(per)
	return int(max(min(int64(maxConns), fit), 16))
}
