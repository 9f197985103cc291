package analyze_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/analyze"
)

// The terminal's report: the totals, the breach scope with its error
// bound, one row per actor (a crew with its first address and how many
// more, the rule, action and signals that would have stopped it), the
// revealed identities (the first three and how many) and the budgets to
// paste.
func TestReportWriteText(t *testing.T) {
	first := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	stopped := first.Add(90 * time.Minute)
	r := analyze.Report{
		Lines: 12345, Malformed: 2, TruncatedUA: 1, First: first, Last: first.Add(24 * time.Hour), Actors: 3,
		FoldedKeys: 1234, OutsideWindow: 5, Suspects: 2, BreachScope: map[string]int{"user": 2000, "page": 12}, ErrorBound: 0.0081,
		Top: []analyze.ActorReport{
			{Key: "crew:ab12", Address: "203.0.113.66", Addresses: 1500, First: first, Last: first.Add(2 * time.Hour), Requests: 4000,
				Records: map[string]int{"user": 2000, "page": 12}, Suspect: true, DetectedAt: &stopped, Rule: "user/crew/1h", Action: "block",
				Signals: []string{"automation_ua", "cold_sweep"},
				Revealed: &analyze.Revealed{IPs: []string{"203.0.113.66", "203.0.113.67", "203.0.113.68", "203.0.113.69", "203.0.113.70"},
					Accounts: []string{"a1"}}},
			{Key: "ip:cd34", Addresses: 2, First: first, Last: first, Requests: 7, Records: map[string]int{"user": 3}},
			{Key: "ip:ef56", Address: "198.51.100.9", First: first, Last: first, Requests: 1, Records: map[string]int{"user": 1}},
		},
		Suggestions: []analyze.Suggestion{{Entity: "user", Per: "ip", Window: "1h", Actors: 1200, P9999: 1500, Max: 2100, Suggested: 2300}},
	}
	var b bytes.Buffer
	r.WriteText(&b)
	want := `12345 lines (2 malformed, 1 with a truncated user agent) from 2026-03-01T08:00:00Z to 2026-03-02T08:00:00Z; 3 actor keys
1,234 keys never suspected were folded into the totals, idle past --max-keys
5 lines outside --since/--until were read, not replayed
2 suspected scraper keys; breach scope: 12 page, 2,000 user distinct (±1.6%, 95% confidence)

actor                                    requests  records              first seen            last seen             would have been stopped
crew:ab12 (203.0.113.66 and 1,499 more)  4000      12 page, 2,000 user  2026-03-01T08:00:00Z  2026-03-01T10:00:00Z  2026-03-01T09:30:00Z by user/crew/1h (block) signals: automation_ua,cold_sweep
ip:cd34 (2 addresses)                    7         3 user               2026-03-01T08:00:00Z  2026-03-01T08:00:00Z  —
ip:ef56 (198.51.100.9)                   1         1 user               2026-03-01T08:00:00Z  2026-03-01T08:00:00Z  —

revealed (--reveal; every value in the JSON report):
suspect    addresses                                               accounts  sessions
crew:ab12  5: 203.0.113.66, 203.0.113.67, 203.0.113.68 and 2 more  1: a1     0: 

suggested budgets (the 99.99th percentile of the peak distinct records of keys never suspected, +50%); start them in shadow:
budgets:
  - {entity: user, per: ip, window: 1h, limit: 2300, action: log}   # p99.99 1,500, max 2,100 over 1,200 keys
`
	if got := b.String(); got != want {
		t.Errorf("WriteText:\n%s\nwant:\n%s", got, want)
	}

	// The summary's other forms: no suspect; exact counts; exact counts
	// abandoned; suspects served nothing; nobody on a record route.
	for _, tc := range []struct {
		r    analyze.Report
		want []string
	}{
		{analyze.Report{Lines: 1, Top: r.Top[1:2]}, []string{"no actor would have tripped a budget\n", "ip:cd34 (2 addresses)"}},
		{analyze.Report{Suspects: 1, BreachScope: map[string]int{"user": 2000}, Exact: true, Top: r.Top[:1]}, []string{"breach scope: 2,000 user distinct (exact)\n"}},
		{analyze.Report{Suspects: 1, BreachScope: map[string]int{"user": 2000}, ErrorBound: 0.0081, ExactAbandoned: true, Top: r.Top[:1]},
			[]string{"--exact abandoned: too many key-record pairs to hold; counts are estimates\n", "(±1.6%, 95% confidence)"}},
		{analyze.Report{Suspects: 3, Top: r.Top[:1]}, []string{"3 suspected scraper keys; breach scope: no records served to them\n"}},
		{analyze.Report{}, []string{"no actor received records on the configured routes\n"}},
	} {
		var b bytes.Buffer
		tc.r.WriteText(&b)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("WriteText lacks %q:\n%s", w, b.String())
			}
		}
		if len(tc.r.Top) == 0 && strings.Contains(b.String(), "would have been stopped") {
			t.Errorf("WriteText heads an empty table:\n%s", b.String())
		}
	}
}

// Progress: on a terminal a bar redrawn in place (with an ETA when the
// inputs' size is known), elsewhere a line at a time; and a final line.
func TestProgressPrinter(t *testing.T) {
	at := analyze.Progress{Lines: 1000, Rate: 100, File: "access.log", Done: 250, Total: 1000, Elapsed: 10 * time.Second}
	stdin := analyze.Progress{Lines: 1000, Rate: 100, File: "-", Elapsed: 10 * time.Second}
	done := analyze.Progress{Lines: 1234567, Rate: 493827.2, Done: 1000, Total: 1000, Elapsed: 2500 * time.Millisecond, Finished: true}
	for _, tc := range []struct {
		tty  bool
		p    analyze.Progress
		want string
	}{
		{true, at, "\r\033[K[#######-----------------------]  25% 1,000 lines, 100 lines/s, ETA 30s"},
		{true, stdin, "\r\033[K1,000 lines, 100 lines/s (-)"},
		{true, done, "\r\033[Kanalyze: 1,234,567 lines in 2.5s (493,827 lines/s)\n"},
		{false, at, "analyze: 1,000 lines, 100 lines/s, reading access.log (25%, ETA 30s)\n"},
		{false, stdin, "analyze: 1,000 lines, 100 lines/s, reading -\n"},
		{false, done, "analyze: 1,234,567 lines in 2.5s (493,827 lines/s)\n"},
	} {
		var b bytes.Buffer
		analyze.ProgressPrinter(&b, tc.tty)(tc.p)
		if b.String() != tc.want {
			t.Errorf("tty %v, %+v: %q, want %q", tc.tty, tc.p, b.String(), tc.want)
		}
	}
}

// A log read in another format than its own (a CloudFront log as
// combined) was a clean report: "no actor would have tripped a budget",
// with nothing but "4 malformed" of 4 to say why.
func TestTextSaysWhenNoLineCouldBeRead(t *testing.T) {
	r := analyze.Report{Lines: 4, Malformed: 4, MalformedSample: []string{"cf.log:1: malformed client address", "cf.log:2: malformed ident at byte 11"}}
	var b strings.Builder
	r.WriteText(&b)
	if !strings.Contains(b.String(), "no line could be read: is --format") || !strings.Contains(b.String(), "  cf.log:2: malformed ident at byte 11\n") {
		t.Fatalf("%s", b.String())
	}
}
