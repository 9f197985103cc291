package analyze_test

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/analyze"
	"github.com/leakguard/leakguard/internal/logs"
)

// withJA4 writes, beside cl's log, the same lines with the client's JA4 as
// the edge would log it: a person's browser's (by User-Agent), and for
// each campaign its own TLS client's, whatever User-Agent it sends.
func withJA4(t *testing.T, cl campaignLog) campaignLog {
	t.Helper()
	in, err := os.Open(cl.path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := cl
	out.path = filepath.Join(filepath.Dir(cl.path), "campaigns-ja4.log")
	f, err := os.Create(out.path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	browsers := map[string]string{
		"Chrome/":  "t13d1516h2_8daaf6152771_02713d6af862",
		"Firefox/": "t13d1715h2_5b57614c22b0_3d5424432f57",
		"Safari/":  "t13d2014h2_a09f3c656075_14788d8d241b",
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		ip, _, _ := strings.Cut(line, " ")
		ja4 := "-"
		if c := cl.ips[ip]; c != "" {
			h := fnv.New64a()
			h.Write([]byte(c))
			ja4 = fmt.Sprintf("t13d1012h2_%012x_882d495ac381", h.Sum64()&0xffffffffffff)
		} else {
			for marker, j := range browsers {
				if strings.Contains(line, marker) && (marker != "Safari/" || !strings.Contains(line, "Chrome/")) {
					ja4 = j
				}
			}
		}
		fmt.Fprintf(w, "%s %s\n", line, ja4)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return out
}

// The session swarm (2,500 addresses, each a session that loads a script,
// then 5-10 profiles): where the edge logs each client's JA4 (--tls-var),
// the swarm's TLS client is its own, its young sessions are followed
// together, and they are flagged; no shopper, carrier NAT or office
// address is. (Without it, the pageless pool flags them:
// TestAnalyzeMoreCampaignsRoutesOnly.)
func TestAnalyzeLoggedJA4FlagsTheSessionSwarm(t *testing.T) {
	if testing.Short() {
		t.Skip("a 2-day log")
	}
	dir := t.TempDir()
	cl := withJA4(t, writeCampaignLogOf(t, dir, true))
	cfg := filepath.Join(dir, "lg.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("upstream: http://127.0.0.1:1\nrecords:\n  - route: GET /api/users/{id}\n    entity: user\nstate: {dir: %s}\n", filepath.Join(dir, "state"))), 0o600); err != nil {
		t.Fatal(err)
	}
	parser, sessions, err := logs.ParserOf(logs.Spec{Format: "nginx", LogFormat: campaignLogFormat + " $http_x_ja4",
		AccountVar: "http_x_account", SessionVar: "cookie_sid", TLSVar: "http_x_ja4"})
	if err != nil {
		t.Fatal(err)
	}
	r := replay{config: cfg, inputs: []string{cl.path}, top: 100000, parser: parser, sessions: sessions, opts: analyze.Options{Reveal: true}}
	found, actors := flaggedActors(t, cl, r.mustRun(t).report)
	for _, c := range []string{"session-swarm", "account-crew", "swarm", "python", "cookie-churn", "page-crew", "paced-pages", "console-crew"} {
		t.Logf("%s: %d of %d actors flagged", c, found[c], actors[c])
		if found[c]*10 < actors[c]*9 {
			t.Errorf("%s: %d of %d actors flagged, want at least 90%%", c, found[c], actors[c])
		}
	}
}
