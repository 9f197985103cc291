package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/leakguard/leakguard/internal/atomicfile"
	"io"
	"os"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/audit/elastic"
	"github.com/leakguard/leakguard/internal/audit/mysql"
	"github.com/leakguard/leakguard/internal/audit/postgres"
	auditredis "github.com/leakguard/leakguard/internal/audit/redis"
)

// AuditCommand is `leakguard audit`: check the operator's own stores for
// what a stranger could read.
type AuditCommand struct {
	Targets        []string
	TargetsFile    string
	JSONOut        string
	HTMLOut        string
	Sample         int
	MaxCollections int
	Timeout        time.Duration
	Parallel       int
	Regions        string
	Quiet          bool

	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Probers, when set, replaces the built-in probers (tests).
	Probers map[string]audit.Prober
	// Findings holds the result of Run.
	Findings []audit.Finding
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func (c *AuditCommand) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("leakguard audit", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.Var((*stringList)(&c.Targets), "target", "a store to check, repeatable: es://host:9200, opensearch://, es+https://, redis://, rediss://, postgres://host/db, mysql:// or mariadb:// (user:password@ in the URL are credentials, used only to inventory a store that refused a stranger)")
	fs.StringVar(&c.TargetsFile, "targets", "", "a YAML inventory of targets, with optional credentials per target (see leakguard.targets.example.yaml)")
	fs.StringVar(&c.JSONOut, "json", "", "write the report as JSON to this file (- for stdout)")
	fs.StringVar(&c.HTMLOut, "html", "", "write a self-contained HTML report to this file")
	fs.IntVar(&c.Sample, "sample", audit.DefaultSample, "rows, documents or values sampled per collection")
	fs.IntVar(&c.MaxCollections, "max-collections", audit.DefaultMaxCollections, "indices, tables or key patterns inventoried per target")
	fs.DurationVar(&c.Timeout, "timeout", audit.DefaultTimeout, "time limit per target")
	fs.IntVar(&c.Parallel, "parallel", 4, "targets probed at once")
	fs.StringVar(&c.Regions, "phone-regions", "CN", "comma-separated regions whose national-format phone numbers are recognised (international +NN numbers always are)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines on stderr")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: leakguard audit --target URL [--target URL...] | --targets FILE [flags]

Checks the listed data stores (only those: there is no range scanning) for
unauthenticated access and personal data, read-only, with a bounded sample.
Sampled values are masked in every output.

Exit status: 0 nothing exposed, 1 exposure found, 2 a target could not be checked
or bad usage.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: give targets with --target URL", fs.Arg(0))
	}
	switch {
	case len(c.Targets) == 0 && c.TargetsFile == "":
		return errors.New("no targets: give --target URL (repeatable) or --targets FILE")
	case c.Sample < 1 || c.Sample > 10_000:
		return errors.New("--sample: want 1 to 10000")
	case c.MaxCollections < 1:
		return errors.New("--max-collections must be positive")
	case c.Timeout <= 0:
		return errors.New("--timeout must be positive")
	case c.Parallel < 1:
		return errors.New("--parallel must be positive")
	}
	return nil
}

// Run probes the targets, writes the reports and returns the exit code.
func (c *AuditCommand) Run(ctx context.Context) (int, error) {
	getenv := c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	targets, err := audit.CollectTargets(c.Targets, c.TargetsFile, audit.Limits{Sample: c.Sample, MaxCollections: c.MaxCollections, Timeout: c.Timeout}, getenv)
	if err != nil {
		return 2, err
	}
	probers := c.Probers
	if probers == nil {
		probers = map[string]audit.Prober{
			"elasticsearch": &elastic.Prober{},
			"redis":         &auditredis.Prober{},
			"postgres":      &postgres.Prober{},
			"mysql":         &mysql.Prober{},
		}
	}
	progress := func(f audit.Finding) {
		if !c.Quiet {
			fmt.Fprintf(c.Stderr, "audit: %s: %s (%s)\n", f.Target, f.Status, time.Duration(f.Elapsed).Round(time.Millisecond))
		}
	}
	if !c.Quiet {
		fmt.Fprintf(c.Stderr, "audit: checking %d target(s), %d at a time\n", len(targets), c.Parallel)
	}
	c.Findings = audit.Run(ctx, targets, probers, audit.NewClassifier(audit.ParseRegions(c.Regions)), c.Parallel, progress)
	r := audit.NewReport(c.Findings, time.Now())
	if c.JSONOut != "-" {
		if err := r.WriteText(c.Stdout); err != nil {
			return 2, err
		}
	}
	if c.JSONOut != "" {
		if err := writeOut(c.JSONOut, c.Stdout, r.WriteJSON); err != nil {
			return 2, err
		}
	}
	if c.HTMLOut != "" {
		if err := writeOut(c.HTMLOut, c.Stdout, r.WriteHTML); err != nil {
			return 2, err
		}
	}
	return audit.ExitCode(c.Findings), nil
}

// writeOut writes a report to path ("-" is stdout) atomically.
func writeOut(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "-" {
		return write(stdout)
	}
	var b strings.Builder
	if err := write(&b); err != nil {
		return err
	}
	return atomicfile.Write(path, []byte(b.String()), 0o600)
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	c := &AuditCommand{Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}
	if err := c.ParseFlags(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	return c.Run(ctx)
}
