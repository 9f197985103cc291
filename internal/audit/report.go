package audit

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/human"
)

// Report is the whole audit, as written by --json and --html.
type Report struct {
	Generated     time.Time `json:"generated"`
	Targets       int       `json:"targets"`
	Exposed       int       `json:"exposed"`
	Errors        int       `json:"errors"`
	RecordsAtRisk int64     `json:"records_at_risk"`
	Findings      []Finding `json:"findings"`
}

// NewReport totals findings.
func NewReport(fs []Finding, now time.Time) Report {
	r := Report{Generated: now.UTC(), Targets: len(fs), Findings: fs}
	for _, f := range fs {
		switch f.Status {
		case Exposed:
			r.Exposed++
		case Error:
			r.Errors++
		}
		r.RecordsAtRisk += f.RecordsAtRisk
	}
	return r
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// WriteText writes the terminal summary.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "leakguard audit: %d target(s), %d exposed, %d could not be checked; %s personal records at risk\n",
		r.Targets, r.Exposed, r.Errors, human.Count(r.RecordsAtRisk))
	for _, f := range r.Findings {
		b.WriteString("\n")
		fmt.Fprintf(&b, "%-8s  %s  (%s", strings.ToUpper(f.Severity.String()), f.Target, f.Kind)
		if f.Version != "" {
			fmt.Fprintf(&b, " %s", f.Version)
		}
		b.WriteString(")\n")
		switch f.Status {
		case Exposed:
			fmt.Fprintf(&b, "  EXPOSED: %s; TLS: %s\n", f.Access, f.TLS)
			if f.RecordsAtRisk > 0 {
				fmt.Fprintf(&b, "  personal records at risk: %s (%s)\n", human.Count(f.RecordsAtRisk), strings.Join(f.PIITypes, ", "))
			}
		case Closed:
			fmt.Fprintf(&b, "  closed: %s; TLS: %s\n", f.Access, f.TLS)
			if f.WithCredentials && f.PersonalRecords > 0 {
				fmt.Fprintf(&b, "  holds %s personal records (inventoried with the given credentials): keep it closed\n", human.Count(f.PersonalRecords))
			}
		default:
			fmt.Fprintf(&b, "  could not check: %s\n", f.Error)
		}
		for _, c := range f.Collections {
			if c.RecordsAtRisk == 0 && len(c.Fields) == 0 {
				continue
			}
			approx := "~"
			if c.CountExact {
				approx = ""
			}
			fmt.Fprintf(&b, "    %s: %s%s items, %d/%d sampled with personal data → %s records\n",
				c.Name, approx, human.Count(c.Count), c.WithPII, c.Sampled, human.Count(c.RecordsAtRisk))
			for _, fl := range c.Fields {
				fmt.Fprintf(&b, "      %-28s %-22s %-6s %d/%d", fl.Name, strings.Join(fl.Types, ","), fl.Confidence, fl.Matched, fl.NonEmpty)
				if fl.Example != "" {
					fmt.Fprintf(&b, "  e.g. %s", fl.Example)
				}
				b.WriteString("\n")
			}
		}
		if quiet := len(f.Collections) - withData(f.Collections); quiet > 0 {
			fmt.Fprintf(&b, "    (%d more collection(s) without personal data in the sample)\n", quiet)
		}
		if f.Truncated {
			b.WriteString("    (more collections than were inventoried: raise --max-collections)\n")
		}
		for _, n := range f.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
		for _, fx := range f.Fix {
			fmt.Fprintf(&b, "  fix: %s\n", fx)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func withData(cs []Collection) int {
	n := 0
	for _, c := range cs {
		if c.RecordsAtRisk > 0 || len(c.Fields) > 0 {
			n++
		}
	}
	return n
}

//go:embed report.html
var htmlFS embed.FS

var htmlTmpl = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"commas": human.Count,
	"join":   strings.Join,
	"upper":  strings.ToUpper,
}).ParseFS(htmlFS, "report.html"))

// WriteHTML writes a self-contained HTML report (no scripts, no external
// resources).
func (r Report) WriteHTML(w io.Writer) error {
	return htmlTmpl.Execute(w, r)
}
