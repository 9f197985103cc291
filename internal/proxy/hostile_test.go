package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// rawUpstream answers every request on a free loopback port with answer,
// as written, then closes the connection.
func rawUpstream(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					io.WriteString(c, answer)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// rawRequest sends req as written to the proxy and returns the status line
// of its answer, or "" when the connection closed with none.
func rawRequest(t *testing.T, f *fixture, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(f.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// Found by a probe (2026-12-05): what a hostile client or a broken upstream
// sends that is not HTTP as a proxy forwards it.
func TestWhatIsNotHTTPIsAnsweredNotForwarded(t *testing.T) {
	t.Run("an upstream's status below 100", func(t *testing.T) {
		// net/http panicked writing it: the client had no answer at all.
		f := newFixture(t, rawUpstream(t, "HTTP/1.1 099 Weird\r\nContent-Length: 0\r\n\r\n"))
		if got := rawRequest(t, f, "GET /r/plain HTTP/1.1\r\nHost: x\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 502") {
			t.Errorf("answered %q, want 502", got)
		}
	})
	t.Run("a client's malformed chunked body", func(t *testing.T) {
		// It was answered 502 and counted as the upstream's failure: any
		// client could raise that alert.
		f := newFixture(t, upstream(t).URL)
		if got := rawRequest(t, f, "POST /r/plain HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzzzz\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400") {
			t.Errorf("answered %q, want 400", got)
		}
		if n := testutil.ToFloat64(f.metrics.upstreamEr); n != 0 {
			t.Errorf("%v upstream errors counted for the client's body", n)
		}
	})
	for _, req := range []string{"CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"} {
		method, _, _ := strings.Cut(req, " ")
		t.Run(method, func(t *testing.T) {
			// Forwarded, they reached the upstream as "CONNECT /" and
			// "PRI /%2A".
			f := newFixture(t, rawUpstream(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
			if got := rawRequest(t, f, req); !strings.HasPrefix(got, "HTTP/1.1 405") {
				t.Errorf("answered %q, want 405", got)
			}
		})
	}
}

// A solved challenge goes back to the page asked for, on this site only.
// A backslash passed: browsers read "/\evil.example/x" as
// "//evil.example/x" (found by a probe, 2026-12-05).
func TestTheChallengeRedirectsOnlyToThisSite(t *testing.T) {
	for back, want := range map[string]bool{
		"/api/users/1?x=1":     true,
		"/":                    true,
		"/a/b#c":               true,
		"":                     false,
		"api/users/1":          false,
		"//evil.example/x":     false,
		"/\\evil.example/x":    false,
		"/\\\\evil.example/x":  false,
		"\\/evil.example/x":    false,
		"/\t/evil.example/x":   false,
		"/\n/evil.example/x":   false,
		"https://evil.example": false,
		"/%zz":                 false,
	} {
		if got := samePath(back); got != want {
			t.Errorf("samePath(%q) = %v, want %v", back, got, want)
		}
	}
}

// The listeners' connections fit the open-file limit, with room left for
// the admin listener: past it every accept fails, /healthz's too.
func TestConnectionsFitTheOpenFileLimit(t *testing.T) {
	tests := []struct {
		max       int
		auth      bool
		openFiles uint64
		want      int
	}{
		{10000, false, 0, 10000},       // unknown: as written
		{10000, false, 1 << 20, 10000}, // room enough
		{10000, false, 20000, 9488},    // the probe's machine: (20,000 - 1,024) / 2
		{10000, true, 20000, 6325},     // and the auth listener's clients: / 3
		{100, true, 20000, 100},        // a lower one stands
		{10000, false, 1024, 16},       // no room at all: a floor, and the warning
	}
	for _, tt := range tests {
		if got := FitConns(tt.max, tt.auth, tt.openFiles); got != tt.want {
			t.Errorf("FitConns(%d, %v, %d) = %d, want %d", tt.max, tt.auth, tt.openFiles, got, tt.want)
		}
	}
}
