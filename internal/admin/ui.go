package admin

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// Journal keeps the most recent decisions and operator actions (already
// in their decision-log shape: hashed keys, no raw personal data) for the
// dashboard.
type Journal struct {
	mu    sync.Mutex
	lines []map[string]any
	max   int
}

// NewJournal keeps the last n entries.
func NewJournal(n int) *Journal { return &Journal{max: n} }

// Add appends one entry: any value that marshals to a JSON object.
func (j *Journal) Add(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, m)
	if len(j.lines) > j.max {
		j.lines = append(j.lines[:0], j.lines[len(j.lines)-j.max:]...)
	}
}

// List returns up to n entries, newest first, those naming key if key is set.
func (j *Journal) List(key string, n int) []map[string]any {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []map[string]any{}
	for i := len(j.lines) - 1; i >= 0 && len(out) < n; i-- {
		l := j.lines[i]
		if key != "" && l["key"] != key {
			continue
		}
		out = append(out, l)
	}
	return out
}

const sessionCookie = "lg_admin"

// authed accepts the bearer token, or a dashboard session's cookie, and
// says who it is. A state-changing request on the cookie must also carry
// X-Leakguard: 1, a header a cross-site form cannot send (CSRF).
func (o Options) authed(r *http.Request) (who string, ok bool) {
	if o.Token == "" {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+o.Token)) == 1 {
		return "token", true
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	label, live := o.sessions.check(ck.Value, o.Now())
	if !live {
		return "", false
	}
	return label, r.Method == http.MethodGet || r.Method == http.MethodHead || r.Header.Get("X-Leakguard") == "1"
}

// guarded is authed, throttled by client address as the sign-in is: the
// bearer token or a session cookie presented on /api, /debug, /metrics or
// /ui/ and found wrong counts as a failed sign-in, and while an address
// must wait (wait > 0) nothing it presents is compared. Without it the
// Authorization header was a way around the sign-in's throttle: 1,000
// guesses took 1.3 s. A request that presents nothing guesses nothing and
// is not counted; a live session refused for want of the CSRF header (who
// set, ok false) is not a guess either.
func (o Options) guarded(r *http.Request) (who string, ok bool, wait time.Duration) {
	if _, err := r.Cookie(sessionCookie); err != nil && r.Header.Get("Authorization") == "" {
		return "", false, 0
	}
	addr, now := clientAddr(r), o.Now()
	if wait := o.throttle.wait(addr, now); wait > 0 {
		return "", false, wait
	}
	who, ok = o.authed(r)
	switch {
	case ok:
		o.throttle.succeeded(addr)
	case who == "":
		if wait := o.throttle.failed(addr, now); wait > 0 {
			o.Audit("admin_token_throttled", slog.String("retry_after", wait.Round(time.Second).String()))
		}
	}
	return who, ok, 0
}

// retryAfter sets Retry-After to wait in whole seconds, rounded up.
func retryAfter(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
}

// dropStaleCookie tells the browser to forget a session cookie that opened
// nothing, so a dashboard left open past its session does not go on
// counting failures against its operator's address.
func dropStaleCookie(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(sessionCookie); err == nil {
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	}
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leakguard: sign in</title>
<style>body{font:15px system-ui,sans-serif;margin:20vh auto;max-width:26em;color:#222}input{font:inherit;padding:.4em;width:100%;box-sizing:border-box;margin:.4em 0}button{font:inherit;padding:.4em 1.2em}.err{color:#b00020}</style></head>
<body><h1>leakguard</h1><p>Sign in with the admin token (<code>admin.token_env</code>, or <code>state.dir/admin-token</code>).</p>
{{if .}}<p class="err">{{.}}</p>{{end}}
<form method="post" action="/ui/login"><input type="password" name="token" id="token" autocomplete="current-password" placeholder="admin token" autofocus>
<button type="submit" id="signin">Sign in</button></form></body></html>`))

func (o Options) login(w http.ResponseWriter, r *http.Request) {
	addr, now := clientAddr(r), o.Now()
	if wait, first := o.throttle.refuse(addr, now); wait > 0 {
		// Refused before the token is even compared: guessing costs time.
		// Logged once a wait.
		if first {
			o.Audit("dashboard_login_throttled", slog.String("retry_after", wait.Round(time.Second).String()))
		}
		retryAfter(w, wait)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusTooManyRequests)
		loginPage.Execute(w, "Too many failed sign-ins from this address: try again in "+wait.Round(time.Second).String()+".")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil || o.Token == "" ||
		subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(o.Token)) != 1 {
		o.throttle.failed(addr, now)
		o.Audit("dashboard_login_failed")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		loginPage.Execute(w, "That is not the admin token.")
		return
	}
	o.throttle.succeeded(addr)
	id, label, err := o.sessions.start(now)
	if err != nil {
		http.Error(w, "could not start a session", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(SessionTTL / time.Second), Expires: now.Add(SessionTTL)})
	o.Audit("dashboard_login", slog.String("by", label))
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// ui serves the dashboard's files to a signed-in operator, and the sign-in
// form (with 401) to anyone else.
func (o Options) ui(files fs.FS) http.Handler {
	static := http.StripPrefix("/ui/", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok, wait := o.guarded(r); !ok {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			if wait > 0 {
				retryAfter(w, wait)
				w.WriteHeader(http.StatusTooManyRequests)
				loginPage.Execute(w, "Too many failed sign-ins from this address: try again in "+wait.Round(time.Second).String()+".")
				return
			}
			dropStaleCookie(w, r)
			w.WriteHeader(http.StatusUnauthorized)
			loginPage.Execute(w, "")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:")
		static.ServeHTTP(w, r)
	})
}

// Stats is the live state the dashboard polls; counters are totals since
// start (the page turns them into rates).
type Stats struct {
	Time          time.Time         `json:"time"`
	Mode          string            `json:"mode"`
	Requests      map[string]uint64 `json:"requests"`  // by outcome
	Records       map[string]uint64 `json:"records"`   // by entity
	Decisions     map[string]uint64 `json:"decisions"` // by action
	SuspectRecs   uint64            `json:"suspect_records"`
	ColdShare     float64           `json:"cold_share"`
	ActorKeys     int               `json:"actor_keys"`
	Sanctioned    int               `json:"sanctioned_keys"`
	Timeline      []Sample          `json:"timeline"`
	TimelineEvery string            `json:"timeline_every"`
}

// Sample is one point of the records timeline: records served in the
// interval, and how many went to suspected scrapers.
type Sample struct {
	Time    time.Time `json:"t"`
	Records uint64    `json:"records"`
	Suspect uint64    `json:"suspect"`
}

// ActorDetail is the drill-down of one key.
type ActorDetail struct {
	Key       string                         `json:"key"`
	Series    map[string]map[string][]uint64 `json:"series"` // window → entity → per bucket, oldest first
	Buckets   map[string]string              `json:"bucket_width"`
	Requests  map[string]uint64              `json:"requests"`
	Misses    map[string]uint64              `json:"misses"`
	Sanctions []map[string]any               `json:"sanctions"`
	Decisions []map[string]any               `json:"decisions"`
}

func (o Options) stats(w http.ResponseWriter, r *http.Request) {
	if o.Stats == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no stats"})
		return
	}
	writeJSON(w, http.StatusOK, o.Stats())
}

func (o Options) actor(w http.ResponseWriter, r *http.Request) {
	k, err := identity.ParseKey(r.URL.Query().Get("key"))
	if err != nil || o.Actor == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "key: want kind:hash"})
		return
	}
	d := o.Actor(k)
	if o.Journal != nil {
		d.Decisions = o.Journal.List(k.String(), 50)
	}
	writeJSON(w, http.StatusOK, d)
}

func (o Options) decisions(w http.ResponseWriter, r *http.Request) {
	if o.Journal == nil {
		writeJSON(w, http.StatusOK, []any{})
		return
	}
	writeJSON(w, http.StatusOK, o.Journal.List("", 100))
}

func prefixParam(r *http.Request) (netip.Prefix, error) {
	s := r.URL.Query().Get("prefix")
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, err2 := netip.ParseAddr(s)
		if err2 != nil {
			return p, errors.New("prefix: want an address or CIDR prefix")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return p.Masked(), nil
}

// allows lists the allowlist in force: GET /api/allow
func (o Options) allows(w http.ResponseWriter, r *http.Request) {
	if o.Allows == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no detector"})
		return
	}
	out := []string{}
	for _, p := range o.Allows() {
		out = append(out, p.String())
	}
	writeJSON(w, http.StatusOK, map[string][]string{"allowed": out})
}

// disallow removes an allowlist entry: DELETE /api/allow?prefix=198.51.100.20/32
func (o Options) disallow(w http.ResponseWriter, r *http.Request) {
	p, err := prefixParam(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if o.Disallow == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no detector"})
		return
	}
	removed, err := o.Disallow(p)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	if !removed {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": p.String() + " is not allowlisted"})
		return
	}
	o.Audit("disallow", slog.String("prefix", p.String()), slog.String("by", operator(r)))
	writeJSON(w, http.StatusOK, map[string]string{"removed": p.String()})
}

// allow adds an allowlist entry at run time: POST /api/allow?prefix=198.51.100.20/32
func (o Options) allow(w http.ResponseWriter, r *http.Request) {
	p, err := prefixParam(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if o.Allow == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no detector"})
		return
	}
	kept, err := o.Allow(p)
	o.Audit("allow", slog.String("prefix", p.String()), slog.String("kept", kept), slog.String("by", operator(r)))
	if err != nil {
		// In force here, but not kept: say so rather than pretend.
		writeJSON(w, http.StatusOK, map[string]string{"allowed": p.String(), "note": "in force until restart; keeping it failed: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"allowed": p.String(), "note": kept})
}

// ReportSummary is one report file in admin.reports_dir.
type ReportSummary struct {
	File    string         `json:"file"`
	Kind    string         `json:"kind"` // audit or analyze
	Time    time.Time      `json:"modified"`
	Summary map[string]any `json:"summary"`
}

func (o Options) reports(w http.ResponseWriter, r *http.Request) {
	out := []ReportSummary{}
	if o.ReportsDir != "" {
		matches, _ := filepath.Glob(filepath.Join(o.ReportsDir, "*.json"))
		for _, p := range matches {
			st, err := os.Stat(p)
			if err != nil || st.Size() > 64<<20 {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			var m map[string]any
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			rs := ReportSummary{File: filepath.Base(p), Time: st.ModTime().UTC(), Summary: map[string]any{}}
			switch {
			case m["findings"] != nil:
				rs.Kind = "audit"
				for _, k := range []string{"targets", "exposed", "errors", "records_at_risk"} {
					rs.Summary[k] = m[k]
				}
			case m["breach_scope"] != nil:
				rs.Kind = "analyze"
				for _, k := range []string{"lines", "first", "last", "actors", "suspected_scrapers", "breach_scope"} {
					rs.Summary[k] = m[k]
				}
			default:
				continue
			}
			out = append(out, rs)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	writeJSON(w, http.StatusOK, out)
}
