// Package cli is the leakguard command's wiring: one type per subcommand
// with ParseFlags/Open/Run/Close, so tests can run exactly what a user runs.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/leakguard/leakguard/internal/human"
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

const usage = `leakguard stops the mass harvesting of personal data from web APIs.

Usage: leakguard COMMAND [flags]

Commands:
  analyze   replay access logs: who took records, how many, when each would have been stopped
  audit     check your own data stores (Elasticsearch, Redis, PostgreSQL, MySQL) for open access to personal data
  bench     scraping campaigns vs the policy, in simulated event time: the scoreboard
  canary    trace a leaked dump's canaries back to the actor who received them
  demo      a live demo: a synthetic shop, leakguard, shoppers and scrapers (start here)
  policy    print the budgets a config puts in force (the default policy included), as YAML
  proxy     reverse proxy that meters the personal records each actor receives
  shop      a synthetic shop API with personal data (an upstream to try the proxy on)
  version   print the version

Run "leakguard COMMAND -h" for a command's flags.
`

// Main runs the leakguard command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "analyze":
		err = runAnalyze(ctx, args[1:], stdout, stderr)
	case "audit":
		// audit's exit status is its verdict: 0 clean, 1 exposed, 2 error.
		code, err := runAudit(ctx, args[1:], stdout, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "leakguard audit: %v\n", err)
		}
		return code
	case "canary":
		err = runCanary(ctx, args[1:], stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "policy":
		err = runPolicy(ctx, args[1:], stdout, stderr)
	case "proxy":
		err = runProxy(ctx, args[1:], stdout, stderr)
	case "shop":
		err = runShop(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "leakguard", Version)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "leakguard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "leakguard %s: %v\n", args[0], err)
	return 1
}

var errUsage = errors.New("usage")

func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &ProxyCommand{Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	if err := c.Open(); err != nil {
		return err
	}
	defer c.Close()
	return c.Serve(ctx)
}

// commas is human.Count for the ints the commands print.
func commas(n int) string { return human.Count(int64(n)) }
