package shop

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve serves the shop on ln until ctx ends, then shuts down, giving the
// requests in flight up to 3 s.
func (s *Shop) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
