// Package decisionlog writes the decision log: one JSON object a line for
// every budget tripped and every operator action. Actor keys appear only as
// keyed hashes; no raw address, account or record ever reaches it.
package decisionlog

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
)

// Log writes decision lines to w. It is safe for concurrent use.
type Log struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
	err error
	// failed counts the lines that could not be written.
	failed uint64
	// Failing, if set, is told when writes start failing (err set) and
	// when they work again (err nil): a full disk lost every decision
	// line with no word anywhere (found by a probe, 2026-12-05).
	Failing func(err error, lost uint64)
	// refused: until when each (crew, member) refusal has been written
	// (Refused), at most maxRefused of them; perCrew: how many members of
	// each crew have been written since the map was last cleared
	refused map[[2]uint64]time.Time
	perCrew map[uint64]int
}

// maxRefused bounds the members whose refusal under a crew is
// remembered; past it they are forgotten, and written again once.
// maxPerCrew bounds the members written of one crew meanwhile: a
// churner making a fresh session each call is a member a request.
const maxRefused, maxPerCrew = 1 << 16, 1000

func New(w io.Writer, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{w: w, now: now}
}

// Line is the JSON shape of a decision; its field names are a stable contract.
type Line struct {
	Time   time.Time         `json:"time"`
	Msg    string            `json:"msg"`
	Rule   string            `json:"rule"`
	Action string            `json:"action"`
	Shadow bool              `json:"shadow"`
	Would  string            `json:"would,omitempty"`
	Key    string            `json:"key"`
	Keys   map[string]string `json:"keys"`
	Route  string            `json:"route,omitempty"`
	Entity string            `json:"entity,omitempty"` // budgets; risk bands and rules count no entity
	Count  uint64            `json:"count"`
	Limit  uint64            `json:"limit"`
	Window string            `json:"window,omitempty"` // budgets; risk bands and rules have none
	Until  time.Time         `json:"until"`
	// Signals are the detector's signals on the request that tripped the
	// rule, so an operator can see why; Score their weighted sum.
	Signals []string `json:"signals,omitempty"`
	Score   int      `json:"score,omitempty"`
	// OwnNormal: a partner held to its own history; limit is a multiple
	// of the most it took in the window in an hour of the week before.
	OwnNormal uint64 `json:"own_normal,omitempty"`
}

// Decision writes one engine decision. In shadow mode the line says what
// would have been done.
func (l *Log) Decision(d engine.Decision) { l.write(LineOf(d)) }

// LineOf is a decision's line.
func LineOf(d engine.Decision) Line {
	line := Line{
		Time: d.Time.UTC(), Msg: "decision", Rule: d.Rule, Action: d.Action.String(), Shadow: d.Shadow,
		Key: d.Key.String(), Keys: Keys(d.Actor), Route: d.Route, Entity: d.Entity,
		Count: d.Count, Limit: d.Limit, Until: d.Until.UTC(),
		Signals: d.Signals.Names(), Score: d.Score, OwnNormal: d.Normal,
	}
	if d.Window > 0 {
		line.Window = config.FormatDuration(d.Window)
	}
	if d.Shadow {
		line.Would = would(d.Action)
	}
	return line
}

// would is a shadow line's "would have ..." for action a.
func would(a engine.Action) string {
	return "would have " + map[engine.Action]string{engine.Log: "logged", engine.Throttle: "throttled", engine.Challenge: "challenged", engine.Decoy: "decoyed", engine.Block: "blocked"}[a]
}

// Refused writes a line (msg "refused") the first time a request of a
// member (its session, else its account, else its address) is refused
// under the sanction on a crew key v.Key (in shadow mode: would be), and
// again only after that sanction's end: who a crew's sanction holds
// beside the request that tripped it, which has the decision line. At
// most maxPerCrew members of a crew are written while remembered.
func (l *Log) Refused(now time.Time, a *identity.Actor, route string, v engine.Verdict) {
	member := a.Keys[identity.Session]
	if member.Hash == 0 {
		member = a.Keys[identity.Account]
	}
	if member.Hash == 0 {
		member = a.Keys[identity.IP]
	}
	k := [2]uint64{v.Key.Hash, member.Hash ^ uint64(member.Kind)<<56}
	until := now.Add(v.RetryAfter)
	l.mu.Lock()
	if l.refused == nil || len(l.refused) >= maxRefused {
		l.refused, l.perCrew = map[[2]uint64]time.Time{}, map[uint64]int{}
	}
	if t, ok := l.refused[k]; ok && now.Before(t) || l.perCrew[v.Key.Hash] >= maxPerCrew {
		l.mu.Unlock()
		return
	}
	l.refused[k] = until
	l.perCrew[v.Key.Hash]++
	l.mu.Unlock()
	line := Line{Time: now.UTC(), Msg: "refused", Rule: v.Rule, Action: v.Action.String(), Shadow: v.Shadow,
		Key: v.Key.String(), Keys: Keys(*a), Route: route, Until: until.UTC()}
	if v.Shadow {
		line.Would = would(v.Action)
	}
	l.write(line)
}

// Operator writes an operator action (mode switch, unblock) so it is audited with the decisions.
func (l *Log) Operator(action string, attrs ...slog.Attr) {
	l.write(OperatorLine(l.now(), action, attrs...))
}

// OperatorLine is an operator action's line, at the time given.
func OperatorLine(at time.Time, action string, attrs ...slog.Attr) map[string]any {
	m := map[string]any{"time": at.UTC(), "msg": "operator", "action": action}
	for _, a := range attrs {
		m[a.Key] = a.Value.Any()
	}
	return m
}

func (l *Log) write(v any) {
	// Not json.Marshal: it writes "risk>=5" as "risk\u003e=5", which
	// nobody greps for. Encode ends the line with a newline.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return
	}
	b := buf.Bytes()
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.w.Write(b)
	switch {
	case err != nil:
		l.failed++
		if l.err == nil && l.Failing != nil {
			l.Failing(err, l.failed)
		}
		l.err = err
	case l.err != nil:
		l.err = nil
		if l.Failing != nil {
			l.Failing(nil, l.failed)
		}
	}
}

// Lost is how many lines could not be written.
func (l *Log) Lost() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// Err returns the last write's error, if it failed.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Keys renders an actor's keys as kind → hash.
func Keys(a identity.Actor) map[string]string {
	m := make(map[string]string, identity.NumKinds)
	for _, k := range a.Keys {
		if k.Hash != 0 {
			s := k.String()
			m[k.Kind.String()] = s[len(k.Kind.String())+1:]
		}
	}
	return m
}
