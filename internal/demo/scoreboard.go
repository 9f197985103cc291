package demo

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// PrintScoreboard writes one line per traffic source: its requests, those
// refused, the records it received (a popular item's reviewers again with
// each response), the distinct people among them, and when it was first
// refused; for people, in how many sessions, and how many refusals came
// past a visit's first seconds (Refusals).
func PrintScoreboard(w io.Writer, scores []*Score, elapsed time.Duration) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "t=%s\tsource\trequests\trefused\trecords taken\tpeople\tstatus\n", elapsed.Round(time.Second))
	for _, s := range scores {
		status := "not refused"
		if at, ok := s.Contained(); ok {
			if s.Legit {
				r := s.Refusals()
				status = fmt.Sprintf("FALSE POSITIVE: refused from %s, in %d sessions, %d past a visit's first 5 s", at.Round(100*time.Millisecond), r.Sessions, r.Late)
			} else {
				status = fmt.Sprintf("contained at %s after %d records", at.Round(100*time.Millisecond), s.BeforeRefuse.Load())
			}
		} else if !s.Legit && s.Requests.Load() == 0 {
			status = "not started" // net-churn and spread-churn, in a demo shorter than their start
		} else if !s.Legit {
			status = "still scraping"
		}
		fmt.Fprintf(tw, "\t%s\t%d\t%d\t%d\t%d\t%s\n", s.Name, s.Requests.Load(), s.Refused.Load(), s.Records.Load(), s.People(), status)
	}
	tw.Flush()
}
