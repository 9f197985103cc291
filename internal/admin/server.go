package admin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Server serves the admin API and the dashboard on a listener of their
// own, not capped as the proxy's are: health checks and metrics scrapes
// get through when the proxy's connections are all taken.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen listens on addr for h. It does not serve yet.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Server{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}}, nil
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
