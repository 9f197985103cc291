package proxy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The proxy and its auth endpoint serve on their own listeners, shut down
// together, and closing after a shutdown is not an error.
func TestServerServesProxyAndAuth(t *testing.T) {
	p := New(Options{})
	s, err := Listen(p, "127.0.0.1:0", "127.0.0.1:0", Limits{MaxConns: 8, ReadHeaderTimeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(s.AuthURL(), AuthPath) || s.Addr() == nil {
		t.Fatalf("addr %v, auth %s", s.Addr(), s.AuthURL())
	}
	errc := make(chan error, 2)
	s.Serve(errc)
	resp, err := http.Get(s.AuthURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("served until %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("close after shutdown: %v", err)
	}

	noAuth, err := Listen(p, "127.0.0.1:0", "", Limits{MaxConns: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer noAuth.Close()
	if noAuth.AuthURL() != "off" {
		t.Errorf("auth %s without an address", noAuth.AuthURL())
	}
	if _, err := Listen(p, "127.0.0.1:0", "", Limits{MaxConns: 0}, nil); err == nil || !strings.Contains(err.Error(), "max_conns") {
		t.Errorf("max_conns 0: %v", err)
	}
}
