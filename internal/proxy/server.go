package proxy

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"
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
}

// Listen listens for p on addr, and for its auth endpoint on authAddr
// unless that is "". It does not serve yet.
func Listen(p *Proxy, addr, authAddr string, l Limits) (*Server, error) {
	s := &Server{}
	var err error
	if s.ln, err = ListenCapped(addr, l.MaxConns); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.srv = l.server(p)
	if authAddr != "" {
		if s.authLn, err = ListenCapped(authAddr, l.MaxConns); err != nil {
			s.ln.Close()
			return nil, fmt.Errorf("auth listen: %w", err)
		}
		s.authSrv = l.server(p.Auth())
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
	go func() { errc <- s.srv.Serve(s.ln) }()
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

// IgnoreClosed drops the error that says a server or listener was closed
// already: closing twice is how shutdown and cleanup meet.
func IgnoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
