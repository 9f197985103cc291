package admin

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestServerServesHealthz(t *testing.T) {
	s, err := Listen("127.0.0.1:0", Handler(Options{Token: "s3cret-token-0123456789", Gatherer: prometheus.NewRegistry()}))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	s.Serve(errc)
	resp, err := http.Get(s.URL() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("served until %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("close after shutdown: %v", err)
	}
}
