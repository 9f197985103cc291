package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
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

// serveFollowing runs leakguard proxy on config text cfg, as a user
// would, until the test ends.
func serveFollowing(t *testing.T, cfg string) *ProxyCommand {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "leakguard.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	lg := &ProxyCommand{Stdout: io.Discard, Stderr: &testserver.Buffer{}, Getenv: func(string) string { return "" }}
	if err := lg.ParseFlags([]string{"--config", cfgPath}); err != nil {
		t.Fatal(err)
	}
	if err := lg.Open(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lg.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		lg.Close()
	})
	return lg
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
//
// Over UDP, and over a unix datagram socket (follow.syslog: unix:PATH),
// which keeps out the local programs that could forge lines from any
// loopback address.
func TestNginxSyslogFollow(t *testing.T) {
	t.Run("udp", func(t *testing.T) { nginxSyslogFollow(t, false) })
	t.Run("unix socket", func(t *testing.T) { nginxSyslogFollow(t, true) })
}

func nginxSyslogFollow(t *testing.T, unix bool) {
	app := httptest.NewServer(shop.New(7, 5000, 1000).Handler())
	defer app.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(followConfig, app.URL, filepath.Join(dir, "decisions.jsonl"), filepath.Join(dir, "state"))
	if unix {
		cfg = strings.Replace(cfg, "syslog: 127.0.0.1:0", "syslog: unix:"+filepath.Join(dir, "syslog.sock"), 1)
	}
	lg := serveFollowing(t, cfg)
	authURL, err := url.Parse(lg.AuthURL())
	if err != nil || lg.AuthURL() == "off" || lg.FollowAddr() == "off" {
		t.Fatalf("auth endpoint %q, follow %q: %v", lg.AuthURL(), lg.FollowAddr(), err)
	}
	syslog := lg.FollowAddr()
	if unix {
		syslog = "unix:" + syslog
	}
	ng := testserver.NginxHTTP(t, func(port int) string {
		return nginxFollowConf(t, strings.TrimPrefix(app.URL, "http://"), authURL.Host, syslog, port)
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

// swarmFollowConfig follows nginx's log in a log_format of its own that
// logs the session cookie and the JA4 its TLS edge passes (X-JA4); no
// budgets: the default policy. %s: upstream, tls_var line, decisions,
// state.
const swarmFollowConfig = `
listen: 127.0.0.1:0
upstream: %s
mode: enforce
admin:
  listen: "off"
auth:
  listen: 127.0.0.1:0
identity:
  trusted_proxies: [127.0.0.1/32]
  session: {cookie: sid}
records:
  - route: GET /api/users/{id}
    entity: user
follow:
  syslog: 127.0.0.1:0
  tag: leakguard
  format: nginx
  log_format: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$cookie_sid" "$http_x_ja4"'
  session_var: cookie_sid
%s
log:
  decisions: %s
state:
  dir: %s
`

// The session swarm behind real nginx, metered from its log alone
// (follow): 900 members, each from a loopback address of its own in a /16
// of its own, a session that loads a script, then two profiles, with a
// browser's headers and a script's JA4 in X-JA4 (as a TLS edge passes
// it). nginx logs the JA4; with follow.tls_var naming the variable, the
// swarm's young sessions are followed together and refused through
// auth_request; without it, each address is a browser's new visitor.
//
// It is held later than through the proxy (691 of 1,800 there): the
// auth endpoint does not assess requests while the log is followed, so
// it refuses only keys already sanctioned, and each member here is a new
// address and session whose three requests are answered before nginx's
// lines for them are read. 1,574 of 1,800 taken, 2026-12-02.
func TestNginxFollowHoldsASessionSwarmByItsLoggedJA4(t *testing.T) {
	for _, tt := range []struct {
		name, tlsVar string
		held         bool
	}{
		{"follow.tls_var names the logged JA4", "  tls_var: http_x_ja4", true},
		{"the JA4 logged but not named", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := httptest.NewServer(shop.New(7, 5000, 1000).Handler())
			defer app.Close()
			dir := t.TempDir()
			lg := serveFollowing(t, fmt.Sprintf(swarmFollowConfig, app.URL, tt.tlsVar, filepath.Join(dir, "decisions.jsonl"), filepath.Join(dir, "state")))
			authURL, err := url.Parse(lg.AuthURL())
			if err != nil {
				t.Fatal(err)
			}
			ng := testserver.NginxHTTP(t, func(port int) string {
				conf := nginxFollowConf(t, strings.TrimPrefix(app.URL, "http://"), authURL.Host, lg.FollowAddr(), port)
				const combined = "nohostname combined if=$leakguard_served;"
				if !strings.Contains(conf, combined) {
					t.Fatalf("the nginx conf no longer logs %q", combined)
				}
				return `log_format lg '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$cookie_sid" "$http_x_ja4"';` + "\n" +
					strings.Replace(conf, combined, "nohostname lg if=$leakguard_served;", 1)
			})
			rng := rand.New(rand.NewPCG(9, 9))
			taken, refused := 0, 0
			for i := range 900 {
				client := fromAddr(fmt.Sprintf("127.%d.%d.1", 1+i/30, 1+i%30*8))
				do := func(path string) int {
					req, _ := http.NewRequest("GET", "http://"+ng.Addr+path, nil)
					req.Header.Set("User-Agent", chromeUA)
					req.Header.Set("Accept-Language", "en")
					req.Header.Set("Accept", "application/json")
					req.Header.Set("Cookie", fmt.Sprintf("sid=w%d", i))
					req.Header.Set("X-JA4", "t13d1012h2_1d37bd780c83_882d495ac381") // Go's TLS client, not Chrome's
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					return resp.StatusCode
				}
				do("/static/app.js")
				for range 2 {
					switch code := do(fmt.Sprintf("/api/users/%d", 1+rng.IntN(5000))); code {
					case http.StatusOK:
						taken++
					case http.StatusForbidden, http.StatusTooManyRequests:
						refused++
					default:
						t.Fatalf("member %d: %d", i, code)
					}
				}
				client.CloseIdleConnections()
			}
			t.Logf("%s: %d profiles taken, %d refused; %d lines metered, %d malformed", tt.name, taken, refused,
				lg.follower.Count(follow.Metered), lg.follower.Count(follow.Malformed))
			if n := lg.follower.Count(follow.Malformed); n != 0 {
				t.Fatalf("%d lines malformed", n)
			}
			if held := refused > 0; held != tt.held {
				t.Fatalf("%s: the swarm refused %d times, taken %d: held %v, want %v", tt.name, refused, taken, held, tt.held)
			}
			if tt.held && taken > 1700 {
				t.Fatalf("%s: the swarm took %d profiles, want at most 1,700", tt.name, taken)
			}
		})
	}
}
