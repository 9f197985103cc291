package demo

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// A legitimate source's refusals are judged by session as the simulator
// judges people's: a refused record call in its session's first 5 s is
// the stated price beside a churner, anything else is late.
func TestRefusalsAreJudgedBySession(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type call struct {
		sid     string // "": none
		after   time.Duration
		record  bool
		refused bool
	}
	for _, c := range []struct {
		name  string
		calls []call
		want  Refusals
	}{
		{"none refused", []call{{"a", 0, true, false}, {"a", 6 * time.Second, true, false}}, Refusals{}},
		{"its first call refused", []call{{"a", 0, true, true}}, Refusals{Sessions: 1, Most: 1}},
		{"two in its first seconds", []call{{"a", 0, true, true}, {"a", 4 * time.Second, true, true}}, Refusals{Sessions: 1, Most: 2}},
		{"one past its first 5 s", []call{{"a", 0, true, false}, {"a", 5 * time.Second, true, true}}, Refusals{Sessions: 1, Most: 1, Late: 1}},
		{"a page refused", []call{{"a", 0, false, true}}, Refusals{Sessions: 0, Late: 1}},
		{"a page refused mid-visit", []call{{"a", 0, true, false}, {"a", time.Second, false, true}}, Refusals{Sessions: 1, Most: 1, Late: 1}},
		{"without a session", []call{{"", 0, true, true}}, Refusals{Late: 1}},
		{"back an hour on, a visit anew", []call{{"a", 0, true, false}, {"a", time.Hour, true, true}}, Refusals{Sessions: 1, Most: 1}},
		{"back within the hour, the same visit", []call{{"a", 0, true, false}, {"a", 59 * time.Minute, true, true}}, Refusals{Sessions: 1, Most: 1, Late: 1}},
		{"two sessions", []call{{"a", 0, true, true}, {"b", 10 * time.Second, true, true}, {"a", 11 * time.Second, true, true}}, Refusals{Sessions: 2, Most: 2, Late: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s Score
			for _, k := range c.calls {
				var sid *http.Cookie
				if k.sid != "" {
					sid = &http.Cookie{Name: "sid", Value: k.sid}
				}
				s.judge(sid, t0.Add(k.after), k.record, k.refused)
			}
			if got := s.Refusals(); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// A demo run for hours keeps the visits of its last hour or so, and every
// visit with a refusal: 20,000 sessions of one call a second.
func TestAScoreForgetsVisitsOver(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var s Score
	const n = 20_000
	for i := range n {
		sid := &http.Cookie{Name: "sid", Value: fmt.Sprint(i)}
		s.judge(sid, t0.Add(time.Duration(i)*time.Second), true, i%1000 == 0)
	}
	if len(s.visits) > 2*3600+4096 {
		t.Errorf("%d visits kept of %d", len(s.visits), n)
	}
	if got, want := s.Refusals(), (Refusals{Sessions: n / 1000, Most: 1}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
