package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/leakguard/leakguard/internal/config"
)

// PolicyCommand is `leakguard policy`: the budgets a config puts in
// force, the default policy's included, as YAML that can be pasted into
// the config's budgets: to freeze them.
type PolicyCommand struct {
	ConfigPath string
	Entities   string

	Stdout, Stderr io.Writer
}

func (c *PolicyCommand) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("leakguard policy", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.StringVar(&c.ConfigPath, "config", "", "configuration file: print the budgets it puts in force")
	fs.StringVar(&c.Entities, "entities", "", "without --config: the default policy for these entities (comma-separated, e.g. user,phone)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: leakguard policy [--config FILE | --entities user,phone]

Prints the budgets in force as YAML: those the config writes, and the default
policy's for every entity no budget names (unless default_policy: false).
Paste the output under budgets: to freeze the defaults into your config.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (c.ConfigPath == "") == (c.Entities == "") {
		return errors.New("give --config FILE or --entities LIST")
	}
	return nil
}

func (c *PolicyCommand) Run(context.Context) error {
	var budgets []config.Budget
	if c.ConfigPath != "" {
		cfg, err := config.LoadOffline(c.ConfigPath)
		if err != nil {
			return err
		}
		budgets = cfg.EffectiveBudgets()
		fmt.Fprintf(c.Stdout, "# budgets in force for %s: %s\n", c.ConfigPath, cfg.PolicySummary())
	} else {
		budgets = config.DefaultBudgetsFor(strings.Split(c.Entities, ",")...)
		fmt.Fprintf(c.Stdout, "# the default policy for %s\n", c.Entities)
	}
	out, err := yaml.Marshal(map[string]any{"budgets": budgets})
	if err != nil {
		return err
	}
	_, err = c.Stdout.Write(out)
	return err
}

func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &PolicyCommand{Stdout: stdout, Stderr: stderr}
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	return c.Run(ctx)
}
