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
}

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
		Signals: d.Signals.Names(), Score: d.Score,
	}
	if d.Window > 0 {
		line.Window = config.FormatDuration(d.Window)
	}
	if d.Shadow {
		line.Would = "would have " + map[engine.Action]string{engine.Log: "logged", engine.Throttle: "throttled", engine.Challenge: "challenged", engine.Decoy: "decoyed", engine.Block: "blocked"}[d.Action]
	}
	return line
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
