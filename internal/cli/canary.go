package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/admin"
	"github.com/leakguard/leakguard/internal/analyze"
	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/human"
	lgstack "github.com/leakguard/leakguard/internal/stack"
	"github.com/leakguard/leakguard/internal/state"
)

// CanaryCommand is `leakguard canary trace`: find the canaries in a leaked
// dump and say who received them.
type CanaryCommand struct {
	ConfigPath string
	StateDir   string
	JSONOut    string
	Admin      string // a running proxy's admin URL: look canaries up through it
	Inputs     []string

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string // os.Getenv if nil
	Tracer         *canary.Tracer
	Registry       int
}

func (c *CanaryCommand) ParseFlags(args []string) error {
	if len(args) == 0 || args[0] != "trace" {
		return fmt.Errorf("%w: leakguard canary trace [flags] FILE...", errUsage)
	}
	fs := flag.NewFlagSet("leakguard canary trace", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.StringVar(&c.ConfigPath, "config", "", "the proxy's configuration: its secret and state directory (required)")
	fs.StringVar(&c.StateDir, "state", "", "state directory holding state.db (default: the config's state.dir); use a stopped proxy's, or a copy")
	fs.StringVar(&c.Admin, "admin", "", "look canaries up through a running proxy's admin API at this URL (e.g. http://127.0.0.1:9090), with the token in the config's admin.token_env, instead of reading a stopped proxy's state")
	fs.StringVar(&c.JSONOut, "json", "", "also write the result as JSON to this file (- for stdout)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: leakguard canary trace --config FILE [flags] DUMP... (- for stdin; .gz is read as gzip)\n\nFinds canary values (phones, emails, resident IDs, bank cards served as decoys or\nsprinkled into responses) in a leaked dump of any format and says which actor\nreceived them, and when.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c.Inputs = fs.Args()
	switch {
	case c.ConfigPath == "":
		return errors.New("--config is required: canaries are checked with its secret")
	case len(c.Inputs) == 0:
		return errors.New("no dump given: name files, or - for stdin")
	}
	return nil
}

func (c *CanaryCommand) Run(ctx context.Context) error {
	cfg, err := config.LoadOffline(c.ConfigPath)
	if err != nil {
		return err
	}
	h, _, _, err := configHasher(cfg, c.Getenv)
	if err != nil {
		return err
	}
	c.Tracer = &canary.Tracer{
		Scanner: lgstack.CanaryScanner(cfg, h).Lenient(), // hashes as the proxy did, without validating every number
		Progress: func(n int64) {
			fmt.Fprintf(c.Stderr, "canary trace: %s read\n", human.Bytes(n))
		},
	}
	getenv := c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if c.Admin != "" {
		token := getenv(cfg.Admin.TokenEnv)
		if token == "" {
			return fmt.Errorf("--admin: $%s (admin.token_env) is empty: the admin API needs its token", cfg.Admin.TokenEnv)
		}
		c.Tracer.Batch = admin.CanaryLookup(ctx, strings.TrimRight(c.Admin, "/"), token)
		c.Registry = -1
	} else {
		reg, err := state.OpenRegistry(ctx, cfg, c.StateDir)
		if err != nil {
			if cfg.State.Redis != "" && c.StateDir == "" {
				return err
			}
			return fmt.Errorf("canary registry: %w (or trace through the running proxy: --admin http://%s)", err, cfg.Admin.Listen)
		}
		defer reg.Close()
		c.Tracer.Lookup, c.Tracer.Batch, c.Registry = reg.Lookup, reg.Batch, reg.Issued
	}
	start := time.Now()
	for _, in := range c.Inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.read(in); err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
	}
	if c.Tracer.Batch != nil {
		if err := c.Tracer.Resolve(); err != nil {
			return fmt.Errorf("canary registry: %w", err)
		}
	}
	r := c.Tracer.Report(c.Registry)
	where := fmt.Sprintf("registry: %d issued", c.Registry)
	switch {
	case c.Admin != "":
		where = "registry: the running proxy at " + c.Admin
	case c.Registry < 0:
		where = "registry: redis"
	}
	if err := writeReport(c.Stdout, func(w io.Writer) { r.WriteText(w, len(c.Inputs), time.Since(start), where) }); err != nil {
		return err
	}
	if c.JSONOut != "" {
		return writeOut(c.JSONOut, c.Stdout, func(w io.Writer) error {
			e := json.NewEncoder(w)
			e.SetIndent("", "  ")
			return e.Encode(r)
		})
	}
	return nil
}

func (c *CanaryCommand) read(name string) error {
	stdin := c.Stdin
	if stdin == nil {
		stdin = os.Stdin
	}
	rc, err := analyze.Open(analyze.Input{Name: name, Stdin: stdin})
	if err != nil {
		return err
	}
	defer rc.Close()
	return c.Tracer.Read(rc)
}

func runCanary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &CanaryCommand{Stdout: stdout, Stderr: stderr}
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	return c.Run(ctx)
}
