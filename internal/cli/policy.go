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
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/state"
)

// PolicyCommand is `leakguard policy`: the budgets a config puts in
// force, the default policy's included, as YAML that can be pasted into
// the config's budgets: to freeze them.
type PolicyCommand struct {
	ConfigPath string
	Entities   string
	// Learnt: freeze the limits the proxy learnt (kept in its state) into
	// the budgets printed, learning off; StateDir overrides state.dir.
	Learnt   bool
	StateDir string

	Stdout, Stderr io.Writer
}

func (c *PolicyCommand) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("leakguard policy", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.StringVar(&c.ConfigPath, "config", "", "configuration file: print the budgets it puts in force")
	fs.StringVar(&c.Entities, "entities", "", "without --config: the default policy for these entities (comma-separated, e.g. user,phone)")
	fs.BoolVar(&c.Learnt, "learnt", false, "with --config: freeze the limits the proxy learnt (kept in its state: state.dir's state.db, or the fleet's Redis) into the budgets, learning off")
	fs.StringVar(&c.StateDir, "state", "", "with --learnt: read this state directory instead of the config's (a copy, while the proxy runs)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: leakguard policy [--config FILE [--learnt [--state DIR]] | --entities user,phone]

Prints the budgets in force as YAML: those the config writes, and the default
policy's for every entity no budget names (unless default_policy: false).
Paste the output under budgets: to freeze the defaults into your config.
With --learnt, each budget that learns is printed at the limit the proxy
learnt (within its bounds: the written limit to ten times it), learning off.

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
	if c.Learnt && c.ConfigPath == "" {
		return errors.New("--learnt reads the state of a config's proxy: give --config FILE")
	}
	if c.StateDir != "" && !c.Learnt {
		return errors.New("--state is read only with --learnt")
	}
	return nil
}

func (c *PolicyCommand) Run(ctx context.Context) error {
	var budgets []config.Budget
	if c.ConfigPath != "" {
		cfg, err := config.LoadOffline(c.ConfigPath)
		if err != nil {
			return err
		}
		budgets = cfg.EffectiveBudgets()
		fmt.Fprintf(c.Stdout, "# budgets in force for %s: %s\n", c.ConfigPath, cfg.PolicySummary())
		if c.Learnt {
			learnt, from, err := state.ReadLearnt(ctx, cfg, c.StateDir)
			if err != nil {
				return fmt.Errorf("the learnt limits: %w", err)
			}
			n := freezeLearnt(budgets, learnt)
			fmt.Fprintf(c.Stdout, "# %d learnt limits frozen from %s; learning off\n", n, from)
		}
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

// freezeLearnt sets each learning budget's limit to what was learnt for
// it, within the bounds calibration keeps to, and turns its learning off;
// it returns how many limits moved.
func freezeLearnt(budgets []config.Budget, learnt map[string]uint64) int {
	n := 0
	for i := range budgets {
		b := &budgets[i]
		if !b.Learn {
			continue
		}
		b.Learn = false
		if v, ok := learnt[b.Name]; ok && b.Limit > 0 && v > uint64(b.Limit) {
			b.Limit = int64(engine.LearntWithin(uint64(b.Limit), v))
			n++
		}
	}
	return n
}

func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &PolicyCommand{Stdout: stdout, Stderr: stderr}
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	return c.Run(ctx)
}
