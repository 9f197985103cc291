package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/follow"
	"github.com/leakguard/leakguard/internal/shop"
	"github.com/leakguard/leakguard/internal/testserver"
)

const followConf = "../../deploy/nginx/leakguard-follow.conf"

// followConfig is authConfig with the access log followed over syslog.
const followConfig = authConfig + `
follow:
  syslog: 127.0.0.1:0
  tag: leakguard
  format: combined
`

// nginxFollowConf is deploy/nginx/leakguard-follow.conf with its
// addresses changed to the test's, after checking that
// docs/integrations/nginx-syslog.md shows the file verbatim.
func nginxFollowConf(t *testing.T, app, auth, syslog string, port int) string {
	return docConf(t, followConf, "../../docs/integrations/nginx-syslog.md", map[string]string{
		"server 127.0.0.1:8000;":        "server " + app + ";",
		"server 127.0.0.1:9100;":        "server " + auth + ";",
		"syslog:server=127.0.0.1:5514,": "syslog:server=" + syslog + ",",
		"listen 80;":                    fmt.Sprintf("listen 127.0.0.1:%d;", port),
	})
}

// fromAddr is an HTTP client whose connections come from a loopback
// address of its own: nginx logs it as $remote_addr, the client address
// the log is metered by, as a real client's would be.
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}}
}

// TestNginxSyslogFollow: real nginx, configured as docs/integrations/nginx-syslog.md
// shows, asks leakguard's auth endpoint about each request and streams
// its access log to leakguard over syslog. The auth endpoint meters
// nothing (follow is on); the scraper is metered from the log alone,
// and refused through auth_request once the log shows it took its
// budget. Shoppers pass throughout; a client with an automation user
// agent is challenged once its first line is read.
func TestNginxSyslogFollow(t *testing.T) {
	app := httptest.NewServer(shop.New(7, 5000, 1000).Handler())
	defer app.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "leakguard.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(followConfig, app.URL, filepath.Join(dir, "decisions.jsonl"), filepath.Join(dir, "state"))), 0o600)
	lg := &ProxyCommand{Stdout: io.Discard, Stderr: &syncBuffer{}, Getenv: func(string) string { return "" }}
	if err := lg.ParseFlags([]string{"--config", cfgPath}); err != nil {
		t.Fatal(err)
	}
	if err := lg.Open(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lg.Serve(ctx) }()
	defer func() {
		cancel()
		<-done
		lg.Close()
	}()
	authURL, err := url.Parse(lg.AuthURL())
	if err != nil || lg.AuthURL() == "off" || lg.FollowAddr() == "off" {
		t.Fatalf("auth endpoint %q, follow %q: %v", lg.AuthURL(), lg.FollowAddr(), err)
	}
	ng := testserver.NginxHTTP(t, func(port int) string {
		return nginxFollowConf(t, strings.TrimPrefix(app.URL, "http://"), authURL.Host, lg.FollowAddr(), port)
	})
	base := "http://" + ng.Addr
	requests := 0 // served by nginx, so logged
	get := func(c *http.Client, path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("User-Agent", chromeUA)
		req.Header.Set("Accept-Language", "en")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			requests++
		}
		return resp, string(b)
	}
	// Every line nginx sent is metered before the next step is judged.
	caughtUp := func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for lg.follower.Count(follow.Metered) < uint64(requests) {
			if time.Now().After(deadline) {
				t.Fatalf("metered %d lines of %d served (malformed %d, dropped %d)", lg.follower.Count(follow.Metered), requests,
					lg.follower.Count(follow.Malformed), lg.follower.Count(follow.Dropped))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	shoppers := make([]*http.Client, 5)
	for i := range shoppers {
		shoppers[i] = fromAddr(fmt.Sprintf("127.0.0.%d", 10+i))
	}
	shop := func(round int) {
		t.Helper()
		for s, c := range shoppers {
			for i := range 10 {
				path := fmt.Sprintf("/api/users/%d", 1+(s*37+i*11+round)%500)
				if resp, body := get(c, path); resp.StatusCode != 200 || !strings.Contains(body, `"phone"`) {
					t.Fatalf("shopper %d refused %s: %d %q", s, path, resp.StatusCode, body)
				}
			}
		}
	}
	shop(0)

	// The scraper walks the users. Its lines reach leakguard a moment
	// after nginx answered, so a request or two more may pass than the
	// budget, never fewer; once refused it stays refused.
	scraper := fromAddr("127.0.0.50")
	served, refusedAt := 0, 0
	for id := 1; id <= 400; id++ {
		resp, body := get(scraper, fmt.Sprintf("/api/users/%d", id))
		switch {
		case resp.StatusCode == 200 && refusedAt == 0:
			served++
		case resp.StatusCode == 403:
			if refusedAt == 0 {
				refusedAt = id
				if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 3000 || !strings.Contains(body, `"forbidden"`) {
					t.Fatalf("nginx's refusal: Retry-After %q, body %q; want leakguard's (about an hour)", resp.Header.Get("Retry-After"), body)
				}
			}
		default:
			t.Fatalf("scraper request %d (refused first at %d): %d %q", id, refusedAt, resp.StatusCode, body)
		}
	}
	t.Logf("scraper: %d users served, refused from request %d on", served, refusedAt)
	if served < 300 || served > 310 {
		t.Fatalf("scraper served %d users; want its budget of 300, and at most a few more while its last lines were in flight", served)
	}
	caughtUp()
	if resp, _ := get(scraper, "/api/users/1"); resp.StatusCode != 403 {
		t.Fatalf("scraper after its lines were metered: %d, want 403", resp.StatusCode)
	}
	shop(1)

	// An automation user agent: served once (the auth endpoint does not
	// assess signals while the log does), challenged once its line is read.
	bot := fromAddr("127.0.0.60")
	bh := []string{"User-Agent", "python-requests/2.31", "Accept", "application/json"}
	if resp, body := get(bot, "/api/users/42", bh...); resp.StatusCode != 200 {
		t.Fatalf("bot's first request: %d %q", resp.StatusCode, body)
	}
	caughtUp()
	if resp, body := get(bot, "/api/users/43", bh...); resp.StatusCode != 429 || resp.Header.Get("Leakguard-Challenge") == "" {
		t.Fatalf("bot after its line was read: %d %v %q, want the challenge", resp.StatusCode, resp.Header, body)
	}
	if n := lg.follower.Count(follow.Malformed) + lg.follower.Count(follow.Dropped) + lg.follower.Count(follow.OtherTag); n != 0 {
		t.Fatalf("%d lines malformed, dropped or of another tag", n)
	}
	if got := lg.follower.Count(follow.Metered); got != uint64(requests) {
		t.Fatalf("metered %d lines, nginx served %d requests: refusals must not be logged to leakguard", got, requests)
	}
}
