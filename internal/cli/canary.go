package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/admin"
	"github.com/leakguard/leakguard/internal/analyze"
	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/human"
	redismeter "github.com/leakguard/leakguard/internal/meter/redis"
	"github.com/leakguard/leakguard/internal/records"
	lgstack "github.com/leakguard/leakguard/internal/stack"
	"github.com/leakguard/leakguard/internal/state"
	"github.com/leakguard/leakguard/internal/store"
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
		c.Tracer.Batch = adminCanaryLookup(ctx, strings.TrimRight(c.Admin, "/"), token)
		c.Registry = -1
	} else if cfg.State.Redis != "" && c.StateDir == "" {
		// A fleet's registry is in Redis: collect, then resolve in batches.
		client, err := state.RedisClient(cfg.State.Redis)
		if err != nil {
			return fmt.Errorf("state.redis: %w", err)
		}
		defer client.Close()
		reg := &redismeter.Canaries{Client: client}
		c.Tracer.Batch = func(keys []records.Found) ([]canary.Issued, []bool, error) { return reg.Lookup(ctx, keys) }
		c.Registry = -1
	} else {
		dir := c.StateDir
		if dir == "" {
			dir = cfg.State.Dir
		}
		st, err := store.OpenReadOnly(dir)
		if err != nil {
			return fmt.Errorf("canary registry: %w (or trace through the running proxy: --admin http://%s)", err, cfg.Admin.Listen)
		}
		defer st.Close()
		c.Registry = st.CanaryCount()
		c.Tracer.Lookup = func(k records.Kind, hash uint64) (canary.Issued, bool) { return st.Canary(k, hash) }
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
	rs := c.Tracer.Recipients()
	t := c.Tracer
	reg := fmt.Sprintf("registry: %d issued", c.Registry)
	switch {
	case c.Admin != "":
		reg = "registry: the running proxy at " + c.Admin
	case c.Registry < 0:
		reg = "registry: redis"
	}
	fmt.Fprintf(c.Stdout, "leakguard canary trace: %d input(s), %s, %s personal values scanned in %s; %d canaries found (%s)\n",
		len(c.Inputs), human.Bytes(t.Bytes), commas(int(t.Values)), time.Since(start).Round(time.Millisecond), len(t.Matches), reg)
	if len(rs) == 0 {
		fmt.Fprintln(c.Stdout, "\nno canaries: nothing in this data was served by leakguard as a canary")
	}
	for _, r := range rs {
		var keys []string
		for _, k := range []string{"account", "ip", "net", "session", "fingerprint", "crew"} {
			if v, ok := r.Keys[k]; ok {
				keys = append(keys, k+":"+v)
			}
		}
		fmt.Fprintf(c.Stdout, "\nrecipient %s\n  %d distinct canaries (%s), issued %s to %s\n", strings.Join(keys, " "),
			r.Canaries, strings.Join(r.Kinds, ", "), r.FirstSent.Format(time.RFC3339), r.LastSent.Format(time.RFC3339))
	}
	registry := c.Registry
	if registry < 0 {
		registry = len(t.Matches) * 1000 // unknown (Redis): a generous stand-in
	}
	chance := canary.ExpectedChance(t.Values, registry)
	fmt.Fprintf(c.Stdout, "\nconfidence: each canary is one value among at least %.1e valid ones, issued to one actor. Unrelated data of this size would hold about %.2g canary matches by chance, so %d or more matches for one recipient is not chance.\n",
		canary.SmallestSpace, chance, max(2, int(chance*10)+2))
	if c.JSONOut != "" {
		out := struct {
			Bytes      int64              `json:"bytes"`
			Values     int64              `json:"values_scanned"`
			Found      int                `json:"canaries_found"`
			Registry   int                `json:"canaries_issued"`
			Chance     float64            `json:"expected_chance_matches"`
			Recipients []canary.Recipient `json:"recipients"`
		}{t.Bytes, t.Values, len(t.Matches), c.Registry, chance, rs}
		return writeOut(c.JSONOut, c.Stdout, func(w io.Writer) error {
			e := json.NewEncoder(w)
			e.SetIndent("", "  ")
			return e.Encode(out)
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

// adminCanaryLookup resolves canaries through a running proxy's admin API,
// in requests of at most admin.MaxCanaryQuery values: only kinds and keyed
// hashes travel, never the dump's values.
func adminCanaryLookup(ctx context.Context, base, token string) canary.BatchLookup {
	hc := &http.Client{Timeout: 60 * time.Second}
	return func(keys []records.Found) ([]canary.Issued, []bool, error) {
		out, found := make([]canary.Issued, len(keys)), make([]bool, len(keys))
		for lo := 0; lo < len(keys); lo += admin.MaxCanaryQuery {
			part := keys[lo:min(lo+admin.MaxCanaryQuery, len(keys))]
			q := admin.CanaryQuery{Values: make([]admin.CanaryValue, len(part))}
			for i, k := range part {
				q.Values[i] = admin.CanaryValue{Kind: k.Entity, Hash: strconv.FormatUint(k.Hash, 16)}
			}
			body, _ := json.Marshal(q)
			req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/canaries/lookup", bytes.NewReader(body))
			if err != nil {
				return nil, nil, err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				return nil, nil, err
			}
			var ans admin.CanaryAnswer
			err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&ans)
			resp.Body.Close()
			switch {
			case resp.StatusCode != http.StatusOK:
				return nil, nil, fmt.Errorf("%s: %s", base, resp.Status)
			case err != nil:
				return nil, nil, fmt.Errorf("%s: %w", base, err)
			case len(ans.Issued) != len(part):
				return nil, nil, fmt.Errorf("%s: %d answers to %d values", base, len(ans.Issued), len(part))
			}
			for i, ci := range ans.Issued {
				if ci != nil {
					out[lo+i], found[lo+i] = ci.Issued(records.Kind(part[i].Entity), part[i].Hash), true
				}
			}
		}
		return out, found, nil
	}
}
