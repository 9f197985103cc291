package admin

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
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

// startLimited serves the admin handler on a free loopback port under l.
func startLimited(t *testing.T, l Limits) *Server {
	t.Helper()
	h := Handler(Options{Token: "s3cret-token-0123456789", Gatherer: prometheus.NewRegistry(),
		UI: fstest.MapFS{"index.html": {Data: []byte("<html>dashboard</html>")}}})
	s, err := ListenLimited("127.0.0.1:0", h, l)
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(make(chan error, 1))
	t.Cleanup(func() { s.Close() })
	return s
}

// slowBody sends the headers of a sign-in whose body never comes, from
// local (nil: any address).
func slowBody(t *testing.T, s *Server, local net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "POST /ui/login HTTP/1.1\r\nHost: admin\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedWithin reads c until the server closes it; false if it is still
// open after d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// healthz asks /healthz on a connection of its own, from local, and
// returns the status, or 0 with no answer within wait.
func healthz(s *Server, local net.Addr, wait time.Duration) int {
	d := net.Dialer{LocalAddr: local, Timeout: wait}
	c, err := d.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		return 0
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Clients that send a request's headers and never its body are cut off at
// the read timeout, and while they hold every slot a further connection
// waits unaccepted; it is served once they are gone. Without ReadTimeout
// the slow ones stay open; without the cap /healthz is served at once.
func TestServerBoundsSlowBodies(t *testing.T) {
	const slots, readTimeout = 4, 700 * time.Millisecond
	s := startLimited(t, Limits{MaxConns: slots, ReadTimeout: readTimeout})
	start := time.Now()
	var slow []net.Conn
	for i := 0; i < slots; i++ {
		slow = append(slow, slowBody(t, s, nil))
	}
	// Every slot is held: the next connection is not served...
	if code := healthz(s, nil, readTimeout/2); code != 0 {
		t.Fatalf("healthz with every slot held: %d, want no answer", code)
	}
	// ...until the read timeout frees them.
	for i, c := range slow {
		if !closedWithin(c, time.Until(start.Add(readTimeout+3*time.Second))) {
			t.Fatalf("slow body %d still open %v after it was sent (read timeout %v)", i, time.Since(start).Round(time.Millisecond), readTimeout)
		}
	}
	t.Logf("slow bodies closed after %v", time.Since(start).Round(time.Millisecond))
	if code := healthz(s, nil, 2*time.Second); code != 200 {
		t.Fatalf("healthz once the slots are free: %d", code)
	}
}

// One address cannot hold every slot: past its share, its connections are
// closed at once, and another address still gets /healthz.
func TestServerCapsConnectionsPerAddress(t *testing.T) {
	const perAddr = 2
	s := startLimited(t, Limits{MaxConns: 8, MaxConnsPerAddr: perAddr, ReadTimeout: time.Minute})
	one := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	for i := 0; i < perAddr; i++ {
		slowBody(t, s, one)
	}
	if c := slowBody(t, s, one); !closedWithin(c, 2*time.Second) {
		t.Fatal("a connection past the address's share was kept")
	}
	other := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	if code := healthz(s, other, 2*time.Second); code != 200 {
		t.Fatalf("healthz from another address: %d", code)
	}
}

// The write timeout does not cut a CPU profile longer than it: pprof
// extends the deadline by its seconds.
func TestServerWriteTimeoutLetsProfilesRun(t *testing.T) {
	s := startLimited(t, Limits{WriteTimeout: 500 * time.Millisecond})
	req, _ := http.NewRequest("GET", s.URL()+"/debug/pprof/profile?seconds=1", nil)
	req.Header.Set("Authorization", "Bearer s3cret-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || len(b) == 0 {
		t.Fatalf("profile: %d, %d bytes, %v: %s", resp.StatusCode, len(b), err, b)
	}
}
