package analyze

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leakguard/leakguard/internal/human"
)

// ProgressPrinter writes progress to w: a bar redrawn in place on a
// terminal (tty), periodic lines otherwise, so a batch job's log stays
// readable.
func ProgressPrinter(w io.Writer, tty bool) func(Progress) {
	return func(p Progress) {
		eta := ""
		if p.Total > 0 && p.Done > 0 && p.Done < p.Total {
			left := time.Duration(float64(p.Elapsed) * float64(p.Total-p.Done) / float64(p.Done))
			eta = ", ETA " + left.Round(time.Second).String()
		}
		switch {
		case p.Finished && tty:
			fmt.Fprintf(w, "\r\033[Kanalyze: %s lines in %s (%s lines/s)\n", commas(p.Lines), p.Elapsed.Round(time.Millisecond), commas(int(p.Rate)))
		case p.Finished:
			fmt.Fprintf(w, "analyze: %s lines in %s (%s lines/s)\n", commas(p.Lines), p.Elapsed.Round(time.Millisecond), commas(int(p.Rate)))
		case tty && p.Total > 0:
			frac := min(1, float64(p.Done)/float64(p.Total))
			const width = 30
			bar := strings.Repeat("#", int(frac*width)) + strings.Repeat("-", width-int(frac*width))
			fmt.Fprintf(w, "\r\033[K[%s] %3.0f%% %s lines, %s lines/s%s", bar, frac*100, commas(p.Lines), commas(int(p.Rate)), eta)
		case tty:
			fmt.Fprintf(w, "\r\033[K%s lines, %s lines/s (%s)", commas(p.Lines), commas(int(p.Rate)), p.File)
		default:
			pct := ""
			if p.Total > 0 {
				pct = fmt.Sprintf(" (%.0f%%%s)", min(100, 100*float64(p.Done)/float64(p.Total)), eta)
			}
			fmt.Fprintf(w, "analyze: %s lines, %s lines/s, reading %s%s\n", commas(p.Lines), commas(int(p.Rate)), p.File, pct)
		}
	}
}

// WriteText writes the report as the terminal shows it: the totals, the
// top actors, what --reveal revealed and the suggested budgets.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%d lines (%d malformed, %d with a truncated user agent) from %s to %s; %d actor keys\n",
		r.Lines, r.Malformed, r.TruncatedUA, r.First.Format(time.RFC3339), r.Last.Format(time.RFC3339), r.Actors)
	if r.Lines > 0 && r.Malformed == r.Lines {
		// A log in another format than --format's: said, not a clean
		// report of nobody.
		fmt.Fprintf(w, "no line could be read: is --format (and --log-format or --fields) the log's? the first:\n")
		for _, s := range r.MalformedSample[:min(3, len(r.MalformedSample))] {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	if n := len(r.RoutesNotCounted); n > 0 {
		fmt.Fprintf(w, "%d %s read records from response bodies, which a log does not hold: %s counted nothing (%s)\n",
			n, plural(n, "route", "routes"), plural(n, "it", "they"), strings.Join(r.RoutesNotCounted, ", "))
	}
	if r.FoldedKeys > 0 {
		fmt.Fprintf(w, "%s keys never suspected were folded into the totals, idle past --max-keys\n", commas(r.FoldedKeys))
	}
	if r.OutsideWindow > 0 {
		fmt.Fprintf(w, "%d lines outside --since/--until were read, not replayed\n", r.OutsideWindow)
	}
	for _, c := range r.Learnt {
		fmt.Fprintf(w, "learnt from the log: %s %s (written %s; the tail of %s keys %s)\n", c.Budget, commas(int(c.Learnt)), commas(int(c.Limit)), commas(c.Keys), commas(int(c.Tail)))
	}
	var scope []string
	for ent, n := range r.BreachScope {
		scope = append(scope, fmt.Sprintf("%s %s", commas(n), ent))
	}
	sort.Strings(scope)
	if r.ExactAbandoned {
		fmt.Fprintf(w, "--exact abandoned: too many key-record pairs to hold; counts are estimates\n")
	}
	switch {
	case r.Suspects == 0:
		fmt.Fprintf(w, "no actor would have tripped a budget\n\n")
	case len(scope) == 0:
		fmt.Fprintf(w, "%d suspected scraper keys; breach scope: no records served to them\n\n", r.Suspects)
	default:
		bound := fmt.Sprintf("±%.1f%%, 95%% confidence", r.ErrorBound*100*2)
		if r.Exact {
			bound = "exact"
		}
		fmt.Fprintf(w, "%d suspected scraper keys; breach scope: %s distinct (%s)\n\n", r.Suspects, strings.Join(scope, ", "), bound)
	}
	if len(r.Top) == 0 {
		fmt.Fprintln(w, "no actor received records on the configured routes")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "actor\trequests\trecords\tfirst seen\tlast seen\twould have been stopped")
	for _, a := range r.Top {
		var recs []string
		for ent, n := range a.Records {
			recs = append(recs, fmt.Sprintf("%s %s", commas(n), ent))
		}
		sort.Strings(recs)
		who := a.Key
		switch {
		case a.Addresses > 1 && a.Address != "":
			who += fmt.Sprintf(" (%s and %s more)", a.Address, commas(a.Addresses-1))
		case a.Addresses > 1:
			who += fmt.Sprintf(" (%s addresses)", commas(a.Addresses))
		case a.Address != "":
			who += " (" + a.Address + ")"
		}
		stopped := "—"
		if a.DetectedAt != nil {
			stopped = fmt.Sprintf("%s by %s (%s)", a.DetectedAt.Format(time.RFC3339), a.Rule, a.Action)
			if len(a.Signals) > 0 {
				stopped += " signals: " + strings.Join(a.Signals, ",")
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", who, a.Requests, strings.Join(recs, ", "),
			a.First.Format(time.RFC3339), a.Last.Format(time.RFC3339), stopped)
	}
	tw.Flush()
	var revealed []ActorReport
	for _, a := range r.Top {
		if a.Revealed != nil {
			revealed = append(revealed, a)
		}
	}
	if len(revealed) > 0 {
		fmt.Fprintf(w, "\nrevealed (--reveal; every value in the JSON report):\n")
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "suspect\taddresses\taccounts\tsessions")
		for _, a := range revealed {
			v := a.Revealed
			fmt.Fprintf(tw, "%s\t%s: %s\t%s: %s\t%s: %s\n", a.Key, commas(len(v.IPs)), compact(v.IPs),
				commas(len(v.Accounts)), compact(v.Accounts), commas(len(v.Sessions)), compact(v.Sessions))
		}
		tw.Flush()
	}
	if len(r.Suggestions) > 0 {
		fmt.Fprintf(w, "\nsuggested budgets (the 99.99th percentile of the peak distinct records of keys never suspected, +50%%); start them in shadow:\nbudgets:\n")
		for _, s := range r.Suggestions {
			fmt.Fprintf(w, "  - {entity: %s, per: %s, window: %s, limit: %d, action: log}   # p99.99 %s, max %s over %s keys\n",
				s.Entity, s.Per, s.Window, s.Suggested, commas(int(s.P9999)), commas(int(s.Max)), commas(s.Actors))
		}
	}
}

// compact lists the first few of vs and how many there are.
func compact(vs []string) string {
	const few = 3
	if len(vs) <= few {
		return strings.Join(vs, ", ")
	}
	return fmt.Sprintf("%s and %s more", strings.Join(vs[:few], ", "), commas(len(vs)-few))
}

func commas(n int) string { return human.Count(int64(n)) }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
