package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/analyze"
	"github.com/leakguard/leakguard/internal/atomicfile"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/human"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/logs"
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
	Learn      bool
	HTMLOut    string
	LogFormat  string // nginx log_format, for --format nginx
	Fields     string // JSON field mapping, for --format json
	AccountVar string // nginx variable holding the account
	SessionVar string // nginx variable holding the session
	TLSVar     string // nginx variable holding the client's TLS fingerprint
	CPUProfile string
	MemProfile string
	Workers    int
	Exact      bool
	MaxKeys    int
	Since      string
	Until      string
	since      time.Time
	until      time.Time
	Inputs     []string
	// Past one machine: --shard i/N with --partial FILE runs one shard
	// pass and writes its partial state; --merge reads every pass's
	// (Inputs) and writes the report.
	Shard   string
	Partial string
	Merge   bool
	part    int
	parts   int
	set     map[string]bool // the flags given

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
	fs.StringVar(&c.TLSVar, "tls-var", "", "with --format nginx: the variable in which the edge logs the client's TLS fingerprint (JA4), e.g. http_x_ja4: a script copying a browser's User-Agent is then told from it, and the young sessions of one JA4 are followed together")
	fs.StringVar(&c.Fields, "fields", "", "with --format json: field paths, e.g. time=ts,addr=client.ip,method=method,path=uri,status=status,ua=headers.ua,account=user_id,session=sid,tls=ja4,xff=x_forwarded_for (defaults: time, remote_addr, method, path, status, user_agent, request)")
	fs.StringVar(&c.JSONOut, "json", "", "also write the report as JSON to this file (- for stdout)")
	fs.IntVar(&c.Top, "top", 20, "actors to list")
	fs.BoolVar(&c.Reveal, "reveal", false, "show each suspect's raw addresses, accounts and sessions, and those seen on its requests (a crew's every address, up to 10,000 each); without it only keyed hashes are held")
	fs.BoolVar(&c.Strict, "strict", false, "stop at the first malformed line instead of counting it")
	fs.StringVar(&c.HTMLOut, "html", "", "also write a self-contained HTML report (charts: records per hour, suspects vs everyone, each top suspect's campaign, top actors)")
	fs.BoolVar(&c.Exact, "exact", false, "count distinct records exactly (sets of keyed hashes, about 50 bytes per key and record) instead of ±0.8% estimates; for smaller logs, abandoned with a notice past 100M key-record pairs")
	fs.IntVar(&c.MaxKeys, "max-keys", 1_000_000, "actor keys held in full (about 600 bytes each); past it, keys never suspected and idle longer than the longest budget window are folded into the totals (budget suggestions, timeline, key count) and not listed")
	fs.StringVar(&c.Since, "since", "", "replay only lines from this time on: RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02, UTC)")
	fs.StringVar(&c.Until, "until", "", "replay only lines before this time (same forms as --since)")
	fs.IntVar(&c.Workers, "workers", 0, "goroutines parsing lines in parallel (default: one per core); at 2 or more the engine's stage and the analyzer's run on as many more each, each for its keys, with the same report")
	fs.StringVar(&c.MemProfile, "memprofile", "", "write a heap profile at the end of the run to this file (for leakguard's developers)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file (for leakguard's developers)")
	fs.StringVar(&c.Shard, "shard", "", "i/N: one shard pass of a log cut in N (N at most 64) by key: replay the whole log, hold the keys of part i, and write them with --partial, for --merge (docs/analyze.md, Past one machine)")
	fs.StringVar(&c.Partial, "partial", "", "with --shard: the file the pass's partial state is written to")
	fs.BoolVar(&c.Merge, "merge", false, "merge the partial states named as arguments (every pass of one --shard run, with the same --config) into the report")
	fs.BoolVar(&c.Learn, "learn", true, "let the budgets marked learn (the default policy's) learn from the log as the proxy would from the same traffic: every minute of the log's time at first, then every meter.calibrate_every; not in a --shard pass, which holds a part of the keys (docs/analyze.md)")
	fs.BoolVar(&c.Suggest, "suggest-budgets", false, "suggest budgets from the keys that belong to no suspect: the 99.99th percentile of their peak distinct records per key kind and window, +50%")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: leakguard analyze --config FILE [flags] LOG... (or - for stdin; gzip, .gz or not, is read decompressed)\n       leakguard analyze --config FILE [flags] --shard i/N --partial FILE LOG...   (one shard pass of N)\n       leakguard analyze --config FILE [report flags] --merge PARTIAL...           (every pass's, into the report)\n\nReplays access logs through leakguard's engine in event time and reports who\ntook personal records, how many distinct ones, and when each would have been\nstopped.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.Inputs = fs.Args()
	c.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	if err := c.checkShardFlags(); err != nil {
		return err
	}
	switch {
	case c.ConfigPath == "":
		return errors.New("--config is required: its records routes say which log lines served personal records")
	case len(c.Inputs) == 0 && c.Merge:
		return errors.New("--merge: name the partial files of every shard pass")
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
	if !c.Merge {
		if _, _, err := c.parser(); err != nil {
			return fmt.Errorf("--format %s: %w", c.Format, err)
		}
	}
	return nil
}

// checkShardFlags checks --shard, --partial and --merge: a shard pass
// writes no report, and a merge takes what the replay needs from the
// passes.
func (c *AnalyzeCommand) checkShardFlags() error {
	if c.Shard != "" {
		i, n, ok := strings.Cut(c.Shard, "/")
		var err1, err2 error
		c.part, err1 = strconv.Atoi(i)
		c.parts, err2 = strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || c.parts < 1 || c.parts > 64 || c.part < 0 || c.part >= c.parts {
			return fmt.Errorf("--shard %q: want i/N with 0 <= i < N <= 64, e.g. 0/3", c.Shard)
		}
	}
	switch {
	case c.Shard != "" && c.Partial == "":
		return errors.New("--shard needs --partial FILE: where the pass's partial state goes")
	case c.Partial != "" && c.Shard == "":
		return errors.New("--partial needs --shard i/N")
	case c.Merge && c.Shard != "":
		return errors.New("--merge and --shard: a shard pass and the merge are separate runs")
	}
	if c.Shard != "" {
		for _, f := range []string{"json", "html", "top"} {
			if c.set[f] {
				return fmt.Errorf("--%s with --shard: a shard pass writes its partial state, the report comes from --merge", f)
			}
		}
	}
	if c.Merge {
		for _, f := range []string{"format", "log-format", "account-var", "session-var", "tls-var", "fields", "strict", "since", "until", "max-keys", "workers"} {
			if c.set[f] {
				return fmt.Errorf("--%s with --merge: it belongs on the shard passes (the merge reads theirs from the partial files)", f)
			}
		}
	}
	return nil
}

// input is how lines are read, which every shard pass of a run must share.
func (c *AnalyzeCommand) input() string {
	return strings.Join([]string{"format=" + c.Format, "log-format=" + c.LogFormat, "account-var=" + c.AccountVar,
		"session-var=" + c.SessionVar, "tls-var=" + c.TLSVar, "fields=" + c.Fields}, "\x00")
}

// parser returns the reader for --format, and whether it records sessions.
func (c *AnalyzeCommand) parser() (logs.Parser, bool, error) {
	return logs.ParserOf(logs.Spec{Format: c.Format, LogFormat: c.LogFormat, AccountVar: c.AccountVar, SessionVar: c.SessionVar, TLSVar: c.TLSVar, Fields: c.Fields})
}

func (c *AnalyzeCommand) Run(ctx context.Context) error {
	cfg, err := config.LoadOffline(c.ConfigPath)
	if err != nil {
		return err
	}
	cfgBytes, err := os.ReadFile(c.ConfigPath)
	if err != nil {
		return err
	}
	cfgHash := sha256.Sum256(cfgBytes)
	stopProfile, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	// The analyzer is dead to the collector once the report is written,
	// and a profile taken after it showed 3 MB of a 4.6 GiB replay; held
	// keeps it reachable until the profile is written.
	var held *analyze.Analyzer
	if c.MemProfile != "" {
		defer func() { writeHeapProfile(c.MemProfile); runtime.KeepAlive(held) }()
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
	parser, sessions, err := c.parser()
	if err != nil {
		return err
	}
	if c.Merge {
		return c.merge(cfg, h, getenv, cfgHash)
	}
	a, err := analyze.FromConfig(cfg, h, getenv, analyze.Options{Reveal: c.Reveal, Sessions: sessions, Suggest: c.Suggest, Exact: c.Exact, Learn: c.Learn && c.Shard == "",
		Since: c.since, Until: c.until, MaxKeys: c.MaxKeys, Part: c.part, Parts: c.parts}, false)
	if err != nil {
		return err
	}
	held = a
	for i, r := range cfg.Records {
		if r.Body != "" {
			fmt.Fprintf(c.Stderr, "leakguard analyze: %s: route %q reads its records from response bodies (body: %s); an access log holds none, so its lines count no records in this replay\n",
				cfg.Where(fmt.Sprintf("records[%d].body", i)), r.Route, r.Body)
		}
	}
	var inputs []analyze.Input
	for _, name := range c.Inputs {
		inputs = append(inputs, analyze.Input{Name: name, Stdin: c.Stdin})
	}
	cut := func(name string, line int, err *analyze.CutShortError) {
		fmt.Fprintf(c.Stderr, "leakguard analyze: %s:%d: cut short (%v): the lines before are in the report, the rest of this input is not\n", name, line, err.Err)
	}
	if err := a.Read(inputs, parser, analyze.ReadOptions{Strict: c.Strict, Workers: c.Workers, Progress: analyze.ProgressPrinter(c.Stderr, c.tty()), ProgressEvery: c.progressEvery(), CutShort: cut}); err != nil {
		return err
	}
	if c.Shard != "" {
		var b bytes.Buffer
		if err := a.WritePartial(&b, cfgHash, c.input()); err != nil {
			return err
		}
		if err := atomicfile.Write(c.Partial, b.Bytes(), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "shard %s: %s lines, %s keys held; partial state in %s (%s). Merge every pass's with --merge.\n",
			c.Shard, human.Count(int64(a.Lines())), human.Count(int64(a.Held())), c.Partial, human.Bytes(int64(b.Len())))
		return nil
	}
	return c.report(a)
}

// merge reads the shard passes' partial files and writes the report.
func (c *AnalyzeCommand) merge(cfg *config.Config, h *keyed.Hasher, getenv func(string) string, cfgHash [32]byte) error {
	var ps []*analyze.Partial
	for _, name := range c.Inputs {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		p, err := analyze.ReadPartial(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		ps = append(ps, p)
	}
	if err := analyze.CheckPartials(ps, c.Inputs, &cfgHash); err != nil {
		return err
	}
	o := ps[0].Options()
	for _, f := range []struct {
		name     string
		asked, o bool
	}{{"reveal", c.Reveal, o.Reveal}, {"suggest-budgets", c.Suggest, o.Suggest}, {"exact", c.Exact, o.Exact}} {
		if f.asked && !f.o {
			return fmt.Errorf("--%s: the shard passes were run without it; it belongs on them (the merge takes theirs)", f.name)
		}
	}
	c.Reveal, c.Suggest = o.Reveal, o.Suggest
	a, err := analyze.FromConfig(cfg, h, getenv, o, false)
	if err != nil {
		return err
	}
	if err := a.Merge(ps); err != nil {
		return err
	}
	return c.report(a)
}

// report writes the report of a replay or a merge.
func (c *AnalyzeCommand) report(a *analyze.Analyzer) error {
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
		if err := writeOut(c.JSONOut, c.Stdout, c.Report.WriteJSON); err != nil {
			return err
		}
		if c.JSONOut == "-" {
			return nil
		}
	}
	return writeReport(c.Stdout, c.Report.WriteText)
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

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &AnalyzeCommand{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr}
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	return c.Run(ctx)
}
