// Package admin is the operator's HTTP surface: health, Prometheus metrics
// and the JSON API. Everything but /healthz needs the bearer token.
package admin

import (
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// Meter is what the admin API reads of the meter.
type Meter interface {
	Windows() []time.Duration
	WindowIndex(time.Duration) int
	Each(now int64, wi int, fn func(memory.ActorCount))
	Len() int
}

// Engine is what the admin API controls.
type Engine interface {
	Shadow() bool
	SetShadow(bool)
	Unblock(identity.Key) bool
}

// Options configure the admin handler.
type Options struct {
	Token    string
	Gatherer prometheus.Gatherer
	Meter    Meter
	Engine   Engine
	Entities []string
	Now      func() time.Time
	// Audit receives operator actions (mode switches, unblocks) for the decision log.
	Audit func(action string, attrs ...slog.Attr)

	// The dashboard: its files, the live stats, one key's drill-down, a
	// journal of recent decisions, run-time allowlisting, and a directory
	// of analyze/audit JSON reports to list. Each is optional.
	UI       fs.FS
	Stats    func() Stats
	Actor    func(identity.Key) ActorDetail
	Journal  *Journal
	Allow    func(netip.Prefix) (kept string, err error) // kept: where the entry is kept (state.db, redis, or until restart)
	Disallow func(netip.Prefix) (removed bool, err error)
	Allows   func() []netip.Prefix
	// Canaries looks canaries up in the registry (kind in Entity).
	Canaries   func(keys []records.Found) ([]canary.Issued, []bool, error)
	ReportsDir string
	// Policy is the policy in force (budgets, the default policy's
	// included; risk bands), as GET /api/policy shows it.
	Policy func() any

	sessions *sessions
	throttle *throttle
}

// Handler returns the admin HTTP handler.
func Handler(o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Audit == nil {
		o.Audit = func(string, ...slog.Attr) {}
	}
	o.sessions, o.throttle = newSessions(), newThrottle()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
	})
	api := http.NewServeMux()
	api.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	api.HandleFunc("GET /api/actors", o.actors)
	api.HandleFunc("GET /api/mode", o.mode)
	api.HandleFunc("POST /api/mode", o.mode)
	api.HandleFunc("POST /api/unblock", o.unblock)
	api.HandleFunc("GET /api/stats", o.stats)
	api.HandleFunc("GET /api/actor", o.actor)
	api.HandleFunc("GET /api/decisions", o.decisions)
	api.HandleFunc("POST /api/allow", o.allow)
	api.HandleFunc("DELETE /api/allow", o.disallow)
	api.HandleFunc("GET /api/allow", o.allows)
	api.HandleFunc("POST /api/canaries/lookup", o.canaries)
	api.HandleFunc("GET /api/reports", o.reports)
	api.HandleFunc("GET /api/policy", func(w http.ResponseWriter, r *http.Request) {
		if o.Policy == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no policy to show"})
			return
		}
		writeJSON(w, http.StatusOK, o.Policy())
	})
	// profiling for operators, behind the same token
	api.HandleFunc("GET /debug/pprof/", pprof.Index)
	api.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	api.HandleFunc("GET /debug/pprof/heap", pprof.Index)
	if o.UI != nil {
		mux.HandleFunc("POST /ui/login", o.login)
		mux.Handle("/ui/", o.ui(o.UI))
		mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	}
	mux.Handle("/", o.auth(api))
	return mux
}

func (o Options) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, ok, wait := o.guarded(r)
		if wait > 0 {
			retryAfter(w, wait)
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too many wrong tokens from this address: try again in " + wait.Round(time.Second).String()})
			return
		}
		if !ok {
			if who == "" {
				dropStaleCookie(w, r)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="leakguard"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, withOperator(r, who))
	})
}

// ActorJSON is one row of /api/actors.
type ActorJSON struct {
	Key      string            `json:"key"`
	Kind     string            `json:"kind"`
	Records  map[string]uint64 `json:"records"`
	Total    uint64            `json:"total_records"`
	Requests uint64            `json:"requests"`
	Misses   uint64            `json:"misses"`
	LastSeen time.Time         `json:"last_seen"`
}

// actors answers /api/actors?top=N&window=1h&entity=user&kind=ip
func (o Options) actors(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	top := 20
	if s := q.Get("top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "top: want 1..10000"})
			return
		}
		top = n
	}
	windows := o.Meter.Windows()
	wi := 0
	if s := q.Get("window"); s != "" {
		d, err := config.ParseDuration(s)
		if err == nil {
			wi = o.Meter.WindowIndex(d)
		}
		if err != nil || wi < 0 {
			var have []string
			for _, w := range windows {
				have = append(have, config.FormatDuration(w))
			}
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "window: metered windows are " + strings.Join(have, ", ")})
			return
		}
	}
	ent := -1
	if s := q.Get("entity"); s != "" {
		for i, e := range o.Entities {
			if e == s {
				ent = i
			}
		}
		if ent < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "entity: have " + strings.Join(o.Entities, ", ")})
			return
		}
	}
	kind := identity.NumKinds
	if s := q.Get("kind"); s != "" {
		k, ok := identity.KindByName(s)
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "kind: want ip, net, account, session, fingerprint or crew"})
			return
		}
		kind = k
	}
	var rows []memory.ActorCount
	score := func(a memory.ActorCount) uint64 {
		if ent >= 0 {
			return a.Records[ent]
		}
		var t uint64
		for _, n := range a.Records[:min(len(a.Records), len(o.Entities))] {
			t += n
		}
		return t
	}
	o.Meter.Each(o.Now().UnixNano(), wi, func(a memory.ActorCount) {
		if kind != identity.NumKinds && a.Key.Kind != kind {
			return
		}
		if score(a) == 0 && a.Requests == 0 {
			return
		}
		rows = append(rows, a)
	})
	sort.Slice(rows, func(i, j int) bool {
		si, sj := score(rows[i]), score(rows[j])
		if si != sj {
			return si > sj
		}
		return rows[i].Requests > rows[j].Requests
	})
	if len(rows) > top {
		rows = rows[:top]
	}
	out := struct {
		Window  string      `json:"window"`
		Windows []string    `json:"windows"`
		Actors  []ActorJSON `json:"actors"`
		Held    int         `json:"actor_keys_held"`
	}{Window: config.FormatDuration(windows[wi]), Actors: []ActorJSON{}, Held: o.Meter.Len()}
	for _, w := range windows {
		out.Windows = append(out.Windows, config.FormatDuration(w))
	}
	for _, a := range rows {
		aj := ActorJSON{Key: a.Key.String(), Kind: a.Key.Kind.String(), Records: map[string]uint64{},
			Requests: a.Requests, Misses: a.Misses, LastSeen: time.Unix(0, a.LastSeen).UTC()}
		// The meter may count more than the named entities (the people
		// behind an address, for per-person budgets): those are not records.
		for i, n := range a.Records[:min(len(a.Records), len(o.Entities))] {
			if n > 0 {
				aj.Records[o.Entities[i]] = n
				aj.Total += n
			}
		}
		out.Actors = append(out.Actors, aj)
	}
	writeJSON(w, http.StatusOK, out)
}

// mode reads or sets shadow/enforce: POST /api/mode?set=enforce
func (o Options) mode(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		switch r.URL.Query().Get("set") {
		case config.ModeShadow:
			o.Engine.SetShadow(true)
		case config.ModeEnforce:
			o.Engine.SetShadow(false)
		default:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "set: want shadow or enforce"})
			return
		}
		o.Audit("mode", slog.String("mode", r.URL.Query().Get("set")), slog.String("by", operator(r)))
	}
	mode := config.ModeEnforce
	if o.Engine.Shadow() {
		mode = config.ModeShadow
	}
	writeJSON(w, http.StatusOK, map[string]string{"mode": mode})
}

// unblock lifts the sanctions on one key: POST /api/unblock?key=ip:9f2c...
func (o Options) unblock(w http.ResponseWriter, r *http.Request) {
	k, err := identity.ParseKey(r.URL.Query().Get("key"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	found := o.Engine.Unblock(k)
	o.Audit("unblock", slog.String("key", k.String()), slog.Bool("was_sanctioned", found), slog.String("by", operator(r)))
	writeJSON(w, http.StatusOK, map[string]any{"key": k.String(), "was_sanctioned": found})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
