package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/proxy"
)

const challengeConfig = `
listen: 127.0.0.1:0
upstream: %s
mode: enforce
admin: {listen: "off"}
identity:
  trusted_proxies: [127.0.0.1/32]
  session: {cookie: sid}
records:
  - route: GET /api/users/{id}
    entity: user
budgets:
  - {entity: user, per: ip, window: 1h, limit: 100000, action: block}
risk:
  challenge_difficulty: 12
log:
  decisions: %s
state:
  dir: %s
  persist: false
`

var challengeRe = regexp.MustCompile(`pow=sha256; difficulty=(\d+); seed=(\S+); submit=(\S+)`)

// The challenge action as clients meet it: an automation User-Agent on a
// record route gets a proof-of-work challenge; solving it earns a pass
// bound to the client; browsers behaving like people are never asked.
func TestChallengeFlow(t *testing.T) {
	up := upstreamShop(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "lg.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(challengeConfig, up.URL, filepath.Join(dir, "d.jsonl"), dir)), 0o600)
	c, _, _ := serveConfig(t, cfgPath, io.Discard)
	base := "http://" + c.Addr()
	noRedirect := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	do := func(method, path, ua, ip, cookie string, form url.Values) *http.Response {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("User-Agent", ua)
		req.Header.Set("X-Forwarded-For", ip)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		if strings.HasPrefix(path, "/items/") {
			req.Header.Set("Accept", "text/html,application/xhtml+xml")
		}
		if strings.HasPrefix(ua, "Mozilla/") {
			req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8")
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	const script = "python-requests/2.31.0"
	resp := do("GET", "/api/users/1", script, "203.0.113.50", "", nil)
	m := challengeRe.FindStringSubmatch(resp.Header.Get("Leakguard-Challenge"))
	if resp.StatusCode != http.StatusTooManyRequests || m == nil {
		t.Fatalf("automation UA on a record route: %d %q, want 429 with a challenge", resp.StatusCode, resp.Header.Get("Leakguard-Challenge"))
	}
	difficulty, _ := strconv.Atoi(m[1])
	seed, submit := m[2], m[3]
	nonce := proxy.Solve(seed, difficulty)

	// A wrong nonce earns nothing.
	if r := do("POST", submit, script, "203.0.113.50", "", url.Values{"seed": {seed}, "nonce": {"x"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong nonce: %d", r.StatusCode)
	}
	// A solution submitted from another address is bound to the wrong client.
	if r := do("POST", submit, script, "203.0.113.51", "", url.Values{"seed": {seed}, "nonce": {nonce}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("solution from another address: %d", r.StatusCode)
	}
	r := do("POST", submit, script, "203.0.113.50", "", url.Values{"seed": {seed}, "nonce": {nonce}, "back": {"//evil.example/x"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("solved: %d to %q, want 303 to / (no open redirect)", r.StatusCode, r.Header.Get("Location"))
	}
	var pass string
	for _, ck := range r.Cookies() {
		if ck.Name == "lg_pass" {
			pass = ck.Name + "=" + ck.Value
		}
	}
	if pass == "" || !strings.Contains(r.Header.Get("Set-Cookie"), "HttpOnly") {
		t.Fatalf("no HttpOnly pass cookie: %q", r.Header.Get("Set-Cookie"))
	}
	if r := do("GET", "/api/users/2", script, "203.0.113.50", pass, nil); r.StatusCode != 200 {
		t.Fatalf("with the pass: %d", r.StatusCode)
	}
	// The pass is bound to its client: useless from another address, and forged ones fail.
	if r := do("GET", "/api/users/3", script, "203.0.113.52", pass, nil); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("pass replayed from another address: %d", r.StatusCode)
	}
	if r := do("GET", "/api/users/3", script, "203.0.113.53", "lg_pass=9999999999.00112233445566778899aabbccddeeff", nil); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("forged pass: %d", r.StatusCode)
	}
	// Browsers get the interstitial page when they ask for HTML.
	req, _ := http.NewRequest("GET", base+"/api/users/4", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("X-Forwarded-For", "203.0.113.60")
	hr, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(hr.Body)
	hr.Body.Close()
	if hr.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(page), "crypto.subtle.digest") {
		t.Fatalf("headless browser asking for HTML: %d\n%s", hr.StatusCode, page)
	}
	// A person's browser: page first (session cookie), then records. Never challenged.
	const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	pause := rand.New(rand.NewPCG(1, 1))
	for i := 1; i <= 50; i++ {
		time.Sleep(time.Duration(pause.IntN(30)) * time.Millisecond) // people do not click on a timer
		if r := do("GET", "/items/1", chrome, "203.0.113.70", "sid=abc", nil); r.StatusCode != 200 {
			t.Fatalf("person's page: %d", r.StatusCode)
		}
		if r := do("GET", fmt.Sprintf("/api/users/%d", 1+(i*7919)%5000), chrome, "203.0.113.70", "sid=abc", nil); r.StatusCode != 200 {
			t.Fatalf("person's record request %d: %d", i, r.StatusCode)
		}
	}
}

const decoyConfig = `
listen: 127.0.0.1:0
upstream: %s
mode: enforce
admin: {listen: "off"}
records:
  - route: GET /api/users/{id}
    entity: user
  - route: GET /api/items/{id}/reviews
    entity: user
    body: $.reviews[*].user.id
risk:
  bands: []
rules:
  - name: decoy-scripts
    when: '"automation_ua" in signals'
    action: decoy
    for: 1h
log:
  decisions: %s
state:
  dir: %s
  persist: false
`

// The decoy action: the scraper keeps getting 200s with valid-looking
// personal data that is not the shop's, the same on every visit.
func TestDecoyAction(t *testing.T) {
	up := upstreamShop(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "lg.yaml")
	decisions := filepath.Join(dir, "d.jsonl")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(decoyConfig, up.URL, decisions, dir)), 0o600)
	c, _, _ := serveConfig(t, cfgPath, io.Discard)
	base := "http://" + c.Addr()
	hc := &http.Client{Timeout: 5 * time.Second}
	fetch := func(url, ua string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("User-Agent", ua)
		req.Header.Set("Accept-Encoding", "gzip") // decoys must cope with it
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, real := fetch(up.URL+"/api/users/7", "curl/8")
	phoneRe := regexp.MustCompile(`1[3-9]\d{9}`)
	realPhone := phoneRe.FindString(real)
	if realPhone == "" {
		t.Fatalf("no phone in the shop's profile: %s", real)
	}
	code, first := fetch(base+"/api/users/7", "python-requests/2.31")
	fake := phoneRe.FindString(first)
	if code != 200 || fake == "" || fake == realPhone || strings.Contains(first, realPhone) || len(first) != len(real) {
		t.Fatalf("decoyed: %d %s (real %s)", code, first, real)
	}
	if _, again := fetch(base+"/api/users/7", "python-requests/2.31"); again != first {
		t.Errorf("decoys differ between visits:\n%s\n%s", first, again)
	}
	// A browser gets the real record.
	if _, b := fetch(base+"/api/users/7", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"); !strings.Contains(b, realPhone) {
		t.Errorf("browser did not get the real record: %s", b)
	}
	// Review pages: the reviewers' ids are decoys too, and the JSON holds.
	_, realRev := fetch(up.URL+"/api/items/3/reviews", "curl/8")
	_, fakeRev := fetch(base+"/api/items/3/reviews", "python-requests/2.31")
	type page struct {
		Reviews []struct {
			User struct {
				ID    int    `json:"id"`
				Phone string `json:"phone"`
			} `json:"user"`
		} `json:"reviews"`
	}
	var rp, fp page
	if err := json.Unmarshal([]byte(realRev), &rp); err != nil || len(rp.Reviews) == 0 {
		t.Fatalf("shop reviews: %v %s", err, realRev)
	}
	if err := json.Unmarshal([]byte(fakeRev), &fp); err != nil || len(fp.Reviews) != len(rp.Reviews) {
		t.Fatalf("decoyed reviews are not the same JSON shape: %v %s", err, fakeRev)
	}
	for i := range rp.Reviews {
		if fp.Reviews[i].User.ID == rp.Reviews[i].User.ID || fp.Reviews[i].User.Phone == rp.Reviews[i].User.Phone {
			t.Errorf("review %d: decoy %+v vs real %+v", i, fp.Reviews[i].User, rp.Reviews[i].User)
		}
	}
	lines := readDecisions(t, decisions)
	if len(lines) == 0 || lines[0]["action"] != "decoy" || lines[0]["rule"] != "rule/decoy-scripts" {
		t.Fatalf("decision log: %v", lines)
	}
}
