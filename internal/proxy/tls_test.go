package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/testserver"
)

// seen is what a TLS-terminating server's handler saw of each request.
type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *seen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.Clone(r.Context()))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html")
	io.WriteString(w, "<html><body>"+identity.ConnFingerprint(r)+"</body></html>")
}

func (s *seen) last(t *testing.T) *http.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("no request reached the handler")
	}
	return s.reqs[len(s.reqs)-1]
}

// serveTLS serves h over TLS on a loopback port, as Listen does the proxy.
func serveTLS(t *testing.T, h http.Handler) string {
	t.Helper()
	_, _, cert := testserver.Cert(t)
	s, err := listen(h, nil, "127.0.0.1:0", "", Limits{MaxConns: 16, ReadHeaderTimeout: 5 * time.Second},
		&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	s.Serve(errc)
	t.Cleanup(func() { s.Close() })
	return "https://" + s.Addr().String()
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSuffix(strings.TrimPrefix(string(b), "<html><body>"), "</body></html>")
}

// Each connection's JA4 is read off its handshake: one TLS client gives
// one, connection after connection; another TLS client gives its own.
func TestServerReadsEachConnectionsJA4(t *testing.T) {
	url := serveTLS(t, &seen{})
	client := func(cfg *tls.Config, h2 bool) *http.Client {
		cfg.InsecureSkipVerify = true
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: h2, DisableKeepAlives: true}}
	}
	modern := client(&tls.Config{}, true)
	a, b := get(t, modern, url), get(t, modern, url)
	legacy := get(t, client(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, false), url)
	if len(a) != 36 || !strings.HasPrefix(a, "t13") || a[8:10] != "h2" {
		t.Errorf("Go's TLS 1.3 client with HTTP/2: %q", a)
	}
	if a != b {
		t.Errorf("one client, two connections: %s and %s", a, b)
	}
	if !strings.HasPrefix(legacy, "t") || legacy[8:10] != "00" || legacy == a {
		t.Errorf("a TLS 1.2 client of one cipher, no ALPN: %q (the other %q)", legacy, a)
	}
}

// The reason the proxy reads JA4 itself: a script that copies a real
// browser's headers one by one has the browser's header shape, so without
// TLS both are one fingerprint; their handshakes differ.
func TestTLSFingerprintSplitsAScriptFromChromium(t *testing.T) {
	chromium := testserver.Chromium(t)
	h := &seen{}
	url := serveTLS(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.IgnoreCertErrors)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate(url+"/item/1")); err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	browser := h.last(t)
	// i: no server name is sent for an address.
	if !strings.HasPrefix(body, "t13i") || body[8:10] != "h2" {
		t.Fatalf("Chromium's JA4: %q", body)
	}
	// Chrome's cipher suites, whose hash every Chrome since 2023 shares
	// (published fingerprints: t13d1516h2_8daaf6152771_...).
	if got := strings.Split(body, "_")[1]; got != "8daaf6152771" {
		t.Errorf("Chromium's cipher hash %s, want Chrome's 8daaf6152771 (JA4 %s)", got, body)
	}

	// The script: Go's TLS client, with every header Chromium sent.
	req, _ := http.NewRequest("GET", url+"/item/1", nil)
	for name, vs := range browser.Header {
		req.Header[name] = vs
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	script := h.last(t)

	res := identity.NewResolver(identity.Options{}, keyed.New([]byte("test")))
	ab, as := res.Identify(browser), res.Identify(script)
	if !ab.TLS || !as.TLS {
		t.Fatalf("TLS fingerprints not taken: browser %v, script %v", ab.TLS, as.TLS)
	}
	if ab.Keys[identity.Fingerprint] == as.Keys[identity.Fingerprint] {
		t.Errorf("Chromium (%s) and a script copying its headers (%s) share a fingerprint", identity.ConnFingerprint(browser), identity.ConnFingerprint(script))
	}
	// Without the handshake, the copy is perfect: one fingerprint.
	plain := func(r *http.Request) identity.Key {
		return res.Identify(r.WithContext(context.Background())).Keys[identity.Fingerprint]
	}
	if plain(browser) != plain(script) {
		t.Errorf("the script's header shape differs from Chromium's: the test copies headers badly")
	}
}
