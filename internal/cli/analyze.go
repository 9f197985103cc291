package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leakguard/leakguard/internal/analyze"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/logs"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

// AnalyzeCommand is `leakguard analyze`: replay access logs through the engine.
type AnalyzeCommand struct {
	ConfigPath string
	Format     string
	JSONOut    string
	Top        int
	Reveal     bool
	Strict     bool
	Suggest    bool
	HTMLOut    string
	LogFormat  string // nginx log_format, for --format nginx
	Fields     string // JSON field mapping, for --format json
	AccountVar string // nginx variable holding the account
	SessionVar string // nginx variable holding the session
	CPUProfile string
	MemProfile string
	Workers    int
	Exact      bool
	MaxKeys    int
	Since      string
	Until      string
	since      time.Time
	until      time.Time
	ExactLimit int // key-record pairs before --exact gives up (tests set it low)
	// serial replays on one goroutine and noCapture asks the meter for
	// every peak: the plainest replay, which tests compare the fast one to.
	serial, noCapture bool
	Inputs            []string

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Report         analyze.Report
}

func (c *AnalyzeCommand) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("leakguard analyze", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.StringVar(&c.ConfigPath, "config", "", "the proxy's configuration: its records routes say which lines are record reads, its budgets run as they would have live (required)")
	fs.StringVar(&c.Format, "format", "combined", "log format: combined (Apache/nginx combined or common), nginx (a log_format given by --log-format), json (JSON lines, also behind a Kubernetes container-runtime prefix; see --fields), or alb (AWS Application Load Balancer)")
	fs.StringVar(&c.LogFormat, "log-format", "", `with --format nginx: the log_format string, e.g. '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_account"'`)
	fs.StringVar(&c.AccountVar, "account-var", "", "with --format nginx: the variable that holds the account, e.g. http_x_account")
	fs.StringVar(&c.SessionVar, "session-var", "", "with --format nginx: the variable that holds the session, e.g. cookie_sid")
	fs.StringVar(&c.Fields, "fields", "", "with --format json: field paths, e.g. time=ts,addr=client.ip,method=method,path=uri,status=status,ua=headers.ua,account=user_id,session=sid (defaults: time, remote_addr, method, path, status, user_agent, request)")
	fs.StringVar(&c.JSONOut, "json", "", "also write the report as JSON to this file (- for stdout)")
	fs.IntVar(&c.Top, "top", 20, "actors to list")
	fs.BoolVar(&c.Reveal, "reveal", false, "show each suspect's raw addresses, accounts and sessions, and those seen on its requests (a crew's every address, up to 10,000 each); without it only keyed hashes are held")
	fs.BoolVar(&c.Strict, "strict", false, "stop at the first malformed line instead of counting it")
	fs.StringVar(&c.HTMLOut, "html", "", "also write a self-contained HTML report (charts: records per hour, suspects vs everyone, each top suspect's campaign, top actors)")
	fs.BoolVar(&c.Exact, "exact", false, "count distinct records exactly (sets of keyed hashes, about 50 bytes per key and record) instead of ±0.8% estimates; for smaller logs, abandoned with a notice past 100M key-record pairs")
	fs.IntVar(&c.MaxKeys, "max-keys", 1_000_000, "actor keys held in full (about 600 bytes each); past it, keys never suspected and idle longer than the longest budget window are folded into the totals (budget suggestions, timeline, key count) and not listed")
	fs.StringVar(&c.Since, "since", "", "replay only lines from this time on: RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02, UTC)")
	fs.StringVar(&c.Until, "until", "", "replay only lines before this time (same forms as --since)")
	fs.IntVar(&c.Workers, "workers", 0, "goroutines parsing lines in parallel (default: one per core); the replay itself runs in event order on one more")
	fs.StringVar(&c.MemProfile, "memprofile", "", "write a heap profile at the end of the run to this file (for leakguard's developers)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file (for leakguard's developers)")
	fs.BoolVar(&c.Suggest, "suggest-budgets", false, "suggest budgets from the keys that belong to no suspect: the 99.99th percentile of their peak distinct records per key kind and window, +50%")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: leakguard analyze --config FILE [flags] LOG... (or - for stdin; .gz is read as gzip)\n\nReplays access logs through leakguard's engine in event time and reports who\ntook personal records, how many distinct ones, and when each would have been\nstopped.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.Inputs = fs.Args()
	switch {
	case c.ConfigPath == "":
		return errors.New("--config is required: its records routes say which log lines served personal records")
	case len(c.Inputs) == 0:
		return errors.New("no logs given: name files, or - for stdin")
	case c.Format != "combined" && c.Format != "common" && c.Format != "nginx" && c.Format != "json" && c.Format != "alb":
		return fmt.Errorf("--format %q: want combined, common, nginx, json or alb", c.Format)
	case c.Format == "nginx" && c.LogFormat == "":
		return errors.New("--format nginx needs --log-format: the log_format string your nginx writes")
	case c.Since != "" && !parseWhen(c.Since, &c.since):
		return fmt.Errorf("--since %q: want RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02)", c.Since)
	case c.Until != "" && !parseWhen(c.Until, &c.until):
		return fmt.Errorf("--until %q: want RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02)", c.Until)
	case !c.since.IsZero() && !c.until.IsZero() && !c.since.Before(c.until):
		return errors.New("--since must be before --until")
	case c.MaxKeys < 1000:
		return errors.New("--max-keys must be at least 1000")
	case c.Workers < 0:
		return errors.New("--workers must be 0 (one per core) or more")
	case c.Top < 1:
		return errors.New("--top must be positive")
	}
	return nil
}

// parser returns the reader for --format, and whether it records sessions.
func (c *AnalyzeCommand) parser() (logs.Parser, bool, error) {
	switch c.Format {
	case "nginx", "alb":
		lf := c.LogFormat
		if c.Format == "alb" {
			lf = logs.ALBFormat
		}
		f, err := logs.NewNginxFormat(lf)
		if err != nil {
			return nil, false, err
		}
		f.Account, f.Session = strings.TrimPrefix(c.AccountVar, "$"), strings.TrimPrefix(c.SessionVar, "$")
		return f, f.Session != "", nil
	case "json":
		j, err := logs.ParseJSONFields(c.Fields)
		return j, j.Session != "", err
	}
	return logs.Combined{}, false, nil
}

func (c *AnalyzeCommand) Run(ctx context.Context) error {
	cfg, err := config.LoadOffline(c.ConfigPath)
	if err != nil {
		return err
	}
	cfg.Mode = config.ModeShadow
	stopProfile, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if c.MemProfile != "" {
		defer writeHeapProfile(c.MemProfile)
	}
	getenv := c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	// The same secret as the proxy: keys in the report match its decision log.
	h, _, _, err := configHasher(cfg, getenv)
	if err != nil {
		return err
	}
	var a *analyze.Analyzer
	var capture *analyze.Capture
	so := stackOptions{NoBotDNS: true}
	if !c.noCapture {
		// The engine meters through a wrapper that keeps each line's
		// bounds for the analyzer's peaks (the same values, one lookup).
		so.Fleet = func(local *memory.Memory, _ []string) engine.Meter {
			if capture = analyze.NewCapture(local, cfg.Meter.MaxActors); capture == nil {
				return local
			}
			return capture
		}
	}
	st, err := buildStack(cfg, h, func(d engine.Decision) { a.OnDecision(d) }, getenv, so)
	if err != nil {
		return err
	}
	parser, sessions, err := c.parser()
	if err != nil {
		return err
	}
	a = analyze.New(analyze.Options{Resolver: st.resolver, Catalog: st.catalog, Engine: st.engine, Detector: st.detector, UA: st.ua,
		Reveal: c.Reveal, Sessions: sessions, Meter: st.meter, Capture: capture, Suggest: c.Suggest, Exact: c.Exact, ExactLimit: c.ExactLimit,
		Since: c.since, Until: c.until, MaxKeys: c.MaxKeys, Idle: longestBudget(cfg), ReportWindows: reportWindows(cfg)})
	var inputs []analyze.Input
	for _, name := range c.Inputs {
		inputs = append(inputs, analyze.Input{Name: name, Stdin: c.Stdin})
	}
	if err := a.Read(inputs, parser, analyze.ReadOptions{Strict: c.Strict, Workers: c.Workers, Serial: c.serial, Progress: c.progress(), ProgressEvery: c.progressEvery()}); err != nil {
		return err
	}
	c.Report = a.Report(c.Top)
	if c.Suggest {
		c.Report.Suggestions = a.Suggestions()
	}
	if c.HTMLOut != "" {
		tl := a.Timelines(c.Report.Top)
		c.Report.Timeline = &tl
		if err := writeOut(c.HTMLOut, c.Stdout, func(w io.Writer) error { return c.Report.WriteHTML(w, c.Reveal) }); err != nil {
			return err
		}
	}
	if c.JSONOut != "" {
		var w io.Writer = c.Stdout
		if c.JSONOut != "-" {
			f, err := os.OpenFile(c.JSONOut, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // "risk>=5", as in the decision log
		if err := enc.Encode(c.Report); err != nil {
			return err
		}
		if c.JSONOut == "-" {
			return nil
		}
	}
	c.print()
	return nil
}

func parseWhen(s string, t *time.Time) bool {
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = v
			return true
		}
	}
	return false
}

// tty reports whether progress goes to a terminal: a bar redrawn in place
// then, periodic lines otherwise (logs of a batch job stay readable).
func (c *AnalyzeCommand) tty() bool {
	f, ok := c.Stderr.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (c *AnalyzeCommand) progressEvery() time.Duration {
	if c.tty() {
		return 200 * time.Millisecond
	}
	return 5 * time.Second
}

func (c *AnalyzeCommand) progress() func(analyze.Progress) {
	tty := c.tty()
	return func(p analyze.Progress) {
		eta := ""
		if p.Total > 0 && p.Done > 0 && p.Done < p.Total {
			left := time.Duration(float64(p.Elapsed) * float64(p.Total-p.Done) / float64(p.Done))
			eta = ", ETA " + left.Round(time.Second).String()
		}
		switch {
		case p.Finished && tty:
			fmt.Fprintf(c.Stderr, "\r\033[Kanalyze: %s lines in %s (%s lines/s)\n", commas(p.Lines), p.Elapsed.Round(time.Millisecond), commas(int(p.Rate)))
		case p.Finished:
			fmt.Fprintf(c.Stderr, "analyze: %s lines in %s (%s lines/s)\n", commas(p.Lines), p.Elapsed.Round(time.Millisecond), commas(int(p.Rate)))
		case tty && p.Total > 0:
			frac := min(1, float64(p.Done)/float64(p.Total))
			const width = 30
			bar := strings.Repeat("#", int(frac*width)) + strings.Repeat("-", width-int(frac*width))
			fmt.Fprintf(c.Stderr, "\r\033[K[%s] %3.0f%% %s lines, %s lines/s%s", bar, frac*100, commas(p.Lines), commas(int(p.Rate)), eta)
		case tty:
			fmt.Fprintf(c.Stderr, "\r\033[K%s lines, %s lines/s (%s)", commas(p.Lines), commas(int(p.Rate)), p.File)
		default:
			pct := ""
			if p.Total > 0 {
				pct = fmt.Sprintf(" (%.0f%%%s)", min(100, 100*float64(p.Done)/float64(p.Total)), eta)
			}
			fmt.Fprintf(c.Stderr, "analyze: %s lines, %s lines/s, reading %s%s\n", commas(p.Lines), commas(int(p.Rate)), p.File, pct)
		}
	}
}

func (c *AnalyzeCommand) print() {
	r := c.Report
	w := c.Stdout
	fmt.Fprintf(w, "%d lines (%d malformed, %d with a truncated user agent) from %s to %s; %d actor keys\n",
		r.Lines, r.Malformed, r.TruncatedUA, r.First.Format(time.RFC3339), r.Last.Format(time.RFC3339), r.Actors)
	if r.FoldedKeys > 0 {
		fmt.Fprintf(w, "%s keys never suspected were folded into the totals, idle past --max-keys\n", commas(r.FoldedKeys))
	}
	if r.OutsideWindow > 0 {
		fmt.Fprintf(w, "%d lines outside --since/--until were read, not replayed\n", r.OutsideWindow)
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
	var revealed []analyze.ActorReport
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

// reportWindows are the windows outliers are judged in: the report
// windows, or every metered window when the config names none.
func reportWindows(cfg *config.Config) []time.Duration {
	var ws []time.Duration
	for _, w := range cfg.Meter.ReportWindows {
		ws = append(ws, w.D())
	}
	return ws
}

// compact lists the first few of vs and how many there are.
func compact(vs []string) string {
	const few = 3
	if len(vs) <= few {
		return strings.Join(vs, ", ")
	}
	return fmt.Sprintf("%s and %s more", strings.Join(vs[:few], ", "), commas(len(vs)-few))
}

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &AnalyzeCommand{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr}
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	return c.Run(ctx)
}

// longestBudget is the longest window a budget in force counts over (the
// longest metered window if there are none): a key idle for longer has an
// empty count in every budget.
func longestBudget(cfg *config.Config) time.Duration {
	var d time.Duration
	for _, b := range cfg.EffectiveBudgets() {
		d = max(d, b.Window.D())
	}
	if d == 0 {
		ws := cfg.Windows()
		d = ws[len(ws)-1]
	}
	return d
}
