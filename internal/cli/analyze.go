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
)

// AnalyzeCommand is `leakguard analyze`: replay access logs through the engine.
type AnalyzeCommand struct {
	ConfigPath string
	Format     string
	JSONOut    string
	Top        int
	Reveal     bool
	Strict     bool
	Inputs     []string

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Report         analyze.Report
}

func (c *AnalyzeCommand) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("leakguard analyze", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.StringVar(&c.ConfigPath, "config", "", "the proxy's configuration: its records routes say which lines are record reads, its budgets run as they would have live (required)")
	fs.StringVar(&c.Format, "format", "combined", "log format: combined (Apache/nginx combined or common)")
	fs.StringVar(&c.JSONOut, "json", "", "also write the report as JSON to this file (- for stdout)")
	fs.IntVar(&c.Top, "top", 20, "actors to list")
	fs.BoolVar(&c.Reveal, "reveal", false, "show suspects' raw addresses (keys are hashed otherwise)")
	fs.BoolVar(&c.Strict, "strict", false, "stop at the first malformed line instead of counting it")
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
	case c.Format != "combined" && c.Format != "common":
		return fmt.Errorf("--format %q: only combined and common are supported so far", c.Format)
	case c.Top < 1:
		return errors.New("--top must be positive")
	}
	return nil
}

func (c *AnalyzeCommand) Run(ctx context.Context) error {
	cfg, err := config.Load(c.ConfigPath)
	if err != nil {
		return err
	}
	cfg.Mode = config.ModeShadow
	getenv := c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	// The same secret as the proxy: keys in the report match its decision log.
	h, _, _, err := configHasher(cfg)
	if err != nil {
		return err
	}
	var a *analyze.Analyzer
	st, err := buildStack(cfg, h, func(d engine.Decision) { a.OnDecision(d) }, getenv)
	if err != nil {
		return err
	}
	a = analyze.New(analyze.Options{Resolver: st.resolver, Catalog: st.catalog, Engine: st.engine, Reveal: c.Reveal})
	var inputs []analyze.Input
	for _, name := range c.Inputs {
		inputs = append(inputs, analyze.Input{Name: name, Stdin: c.Stdin})
	}
	progress := func(lines int, rate float64, file string) {
		fmt.Fprintf(c.Stderr, "analyze: %d lines, %.0f lines/s %s\n", lines, rate, file)
	}
	if err := a.Read(inputs, c.Strict, progress); err != nil {
		return err
	}
	c.Report = a.Report(c.Top)
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

func (c *AnalyzeCommand) print() {
	r := c.Report
	w := c.Stdout
	fmt.Fprintf(w, "%d lines (%d malformed, %d with a truncated user agent) from %s to %s; %d actor keys\n",
		r.Lines, r.Malformed, r.TruncatedUA, r.First.Format(time.RFC3339), r.Last.Format(time.RFC3339), r.Actors)
	var scope []string
	for ent, n := range r.BreachScope {
		scope = append(scope, fmt.Sprintf("%s %s", commas(n), ent))
	}
	sort.Strings(scope)
	if r.Suspects == 0 {
		fmt.Fprintf(w, "no actor would have tripped a budget\n\n")
	} else {
		fmt.Fprintf(w, "%d suspected scraper keys; breach scope: %s distinct (±%.1f%%)\n\n", r.Suspects, strings.Join(scope, ", "), r.ErrorBound*100*2)
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
		if a.Address != "" {
			who += " (" + a.Address + ")"
		}
		stopped := "—"
		if a.DetectedAt != nil {
			stopped = fmt.Sprintf("%s by %s (%s)", a.DetectedAt.Format(time.RFC3339), a.Rule, a.Action)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", who, a.Requests, strings.Join(recs, ", "),
			a.First.Format(time.RFC3339), a.Last.Format(time.RFC3339), stopped)
	}
	tw.Flush()
}

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &AnalyzeCommand{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr}
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	return c.Run(ctx)
}
