package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"html/template"
	"math/bits"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// ChallengePath is where a solved challenge is submitted.
const ChallengePath = "/.well-known/leakguard/challenge"

const passCookie = "lg_pass"

// Challenger issues proof-of-work challenges and the signed pass a client
// earns by solving one: find a nonce such that SHA-256(seed ":" nonce) starts
// with Difficulty zero bits. Browsers solve it in a page's script (about
// 2^Difficulty hashes: ~65k at 16, well under a second); an API client must
// implement it. The seed and the pass are bound to the client's address and
// fingerprint keys and expire, so a pass cannot be shared across a crew.
type Challenger struct {
	Secret     []byte
	Difficulty int
	PassFor    time.Duration // default 1h
	Now        func() time.Time
}

func (c *Challenger) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Challenger) mac(parts ...string) string {
	m := hmac.New(sha256.New, c.Secret)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func binding(a *identity.Actor) string {
	return fmt.Sprintf("%x.%x", a.Keys[identity.IP].Hash, a.Keys[identity.Fingerprint].Hash)
}

// Seed returns a fresh challenge seed for the actor, valid 5 minutes.
func (c *Challenger) Seed(a *identity.Actor) string {
	exp := strconv.FormatInt(c.now().Add(5*time.Minute).Unix(), 10)
	return exp + "." + c.mac("seed", binding(a), exp)
}

// Passed reports whether the request carries a valid pass for its actor.
func (c *Challenger) Passed(r *http.Request, a *identity.Actor) bool {
	if !hasCookie(r, passCookie) {
		return false // without parsing every cookie of every request
	}
	ck, err := r.Cookie(passCookie)
	if err != nil {
		return false
	}
	exp, sig, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || c.now().Unix() > t {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(c.mac("pass", binding(a), exp)))
}

// Solve finds a nonce for seed (what a browser's script does; tests and
// well-behaved API clients use it too).
func Solve(seed string, difficulty int) string {
	for n := uint64(0); ; n++ {
		nonce := strconv.FormatUint(n, 10)
		if zeroBits(seed, nonce) >= difficulty {
			return nonce
		}
	}
}

func zeroBits(seed, nonce string) int {
	sum := sha256.Sum256([]byte(seed + ":" + nonce))
	z := 0
	for i := 0; i < len(sum); i += 8 {
		w := binary.BigEndian.Uint64(sum[i:])
		z += bits.LeadingZeros64(w)
		if w != 0 {
			break
		}
	}
	return z
}

// Submit handles POST ChallengePath: it checks the seed and the work and,
// if both hold, sets the pass cookie and sends the client back.
func (c *Challenger) Submit(w http.ResponseWriter, r *http.Request, a *identity.Actor) {
	if err := r.ParseForm(); err != nil || len(r.PostForm) > 8 {
		http.Error(w, "bad challenge response", http.StatusBadRequest)
		return
	}
	seed, nonce := r.PostForm.Get("seed"), r.PostForm.Get("nonce")
	exp, sig, ok := strings.Cut(seed, ".")
	t, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || c.now().Unix() > t || len(nonce) > 20 ||
		!hmac.Equal([]byte(sig), []byte(c.mac("seed", binding(a), exp))) || zeroBits(seed, nonce) < c.Difficulty {
		http.Error(w, "challenge not solved", http.StatusForbidden)
		return
	}
	passFor := c.PassFor
	if passFor <= 0 {
		passFor = time.Hour
	}
	pexp := strconv.FormatInt(c.now().Add(passFor).Unix(), 10)
	http.SetCookie(w, &http.Cookie{Name: passCookie, Value: pexp + "." + c.mac("pass", binding(a), pexp),
		Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: int(passFor / time.Second)})
	back := r.PostForm.Get("back")
	if !samePath(back) {
		back = "/" // only same-site paths: no open redirect
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// samePath reports whether back is a path on this site, safe to redirect
// to. Browsers read a backslash as a slash, so "/\evil.example/x" is
// "//evil.example/x", another site (found by a probe, 2026-12-05); control
// characters are dropped by them, so "/\t/evil.example" is too.
func samePath(back string) bool {
	if !strings.HasPrefix(back, "/") || strings.ContainsAny(back, "\\") {
		return false
	}
	for _, c := range back {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	u, err := url.Parse(back)
	return err == nil && u.Host == "" && u.Scheme == "" && !strings.HasPrefix(back, "//")
}

var challengePage = template.Must(template.New("c").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Checking your browser</title>
<style>body{font:16px system-ui,sans-serif;margin:15vh auto;max-width:32em;text-align:center;color:#333}</style></head>
<body><p>Checking your browser before showing this page&hellip;</p>
<form id="f" method="post" action="{{.Path}}"><input type="hidden" name="seed" value="{{.Seed}}">
<input type="hidden" name="nonce" id="n"><input type="hidden" name="back" value="{{.Back}}">
<noscript><p>This check needs JavaScript.</p></noscript></form>
<script>
(async () => {
  const seed = {{.Seed}}, bits = {{.Difficulty}}, enc = new TextEncoder();
  for (let n = 0; ; n++) {
    const h = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(seed + ":" + n)));
    let z = 0;
    for (const b of h) { if (b === 0) { z += 8; continue; } z += Math.clz32(b) - 24; break; }
    if (z >= bits) { document.getElementById("n").value = n; document.getElementById("f").submit(); return; }
  }
})();
</script></body></html>`))

// Issue answers a request with a challenge: the page for browsers, a 429
// with the challenge in a header for API clients.
func (c *Challenger) Issue(w http.ResponseWriter, r *http.Request, a *identity.Actor, retry int64) {
	seed := c.Seed(a)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", strconv.FormatInt(retry, 10))
	h.Set("Leakguard-Challenge", fmt.Sprintf("pow=sha256; difficulty=%d; seed=%s; submit=%s", c.Difficulty, seed, ChallengePath))
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusTooManyRequests)
		challengePage.Execute(w, map[string]any{"Path": ChallengePath, "Seed": seed, "Difficulty": c.Difficulty, "Back": r.URL.RequestURI()})
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, `{"error":"challenge","pow":"sha256","difficulty":%d,"seed":%q,"submit":%q}`+"\n", c.Difficulty, seed, ChallengePath)
}

// hasCookie reports whether r may carry cookie name: false only when no
// Cookie header holds name followed by "=".
func hasCookie(r *http.Request, name string) bool {
	for _, v := range r.Header["Cookie"] {
		if strings.Contains(v, name+"=") {
			return true
		}
	}
	return false
}
