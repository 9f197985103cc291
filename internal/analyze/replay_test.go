package analyze_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/analyze"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/logs"
	"github.com/leakguard/leakguard/internal/stack"
)

// The tests replay logs through an Analyzer built as `leakguard analyze`
// builds it (internal/cli/analyze.go): the config loaded offline in
// shadow mode, the stack built by internal/stack with search-bot DNS off,
// the engine metering through a Capture, and the report written as the
// command writes it (JSON, HTML, text).

// shared is where the data shared between checkouts lives, from a test's
// package directory.
const shared = "../../../shared/data"

// apacheLog is a real Apache log of 10,000 lines.
const apacheLog = shared + "/access-logs/elastic-examples-apache_logs.log"

// testGetenv gives the tests a fixed secret, so keys are stable.
func testGetenv(k string) string {
	if k == "LG_TEST_SECRET" {
		return "fleet-shared-secret-0123456789abcdef"
	}
	return ""
}

// replay is one run of the analyzer: what the command's flags would set.
type replay struct {
	config   string          // path of the config file
	inputs   []string        // log files, or "-" for stdin
	stdin    []byte          // read for "-"
	parser   logs.Parser     // default: combined
	sessions bool            // the format logs sessions
	opts     analyze.Options // Reveal, Suggest, Exact, ExactLimit, Since, Until, MaxKeys
	read     analyze.ReadOptions
	top      int // default 20
	html     bool
	// noCapture asks the meter for every peak instead of keeping the
	// engine's bounds: with read.Serial, the plainest replay.
	noCapture bool
	getenv    func(string) string
	// merge, if set, replaces the replay: the analyzer merges these
	// shard passes' partial states (opts must be theirs)
	merge []*analyze.Partial
	// after, if set, is given the analyzer after the replay (a shard
	// pass writes its partial state)
	after func(*analyze.Analyzer)
}

// result is what a replay gives: the report, and the report written as
// the command writes it.
type result struct {
	report   analyze.Report
	json     string // as --json writes it
	html     string // as --html writes it, if asked
	text     string // as the terminal shows it
	progress string // the progress lines, as on a batch job's stderr
}

// run replays r; an error is Read's (a malformed line under Strict, an
// input that cannot be read).
func (r replay) run(t testing.TB) (result, error) {
	t.Helper()
	cfg, err := config.LoadOffline(r.config)
	if err != nil {
		t.Fatal(err)
	}
	getenv := r.getenv
	if getenv == nil {
		getenv = testGetenv
	}
	h, _, _, err := stack.Hasher(cfg, getenv)
	if err != nil {
		t.Fatal(err)
	}
	o := r.opts
	o.Sessions = r.sessions
	a, err := analyze.FromConfig(cfg, h, getenv, o, r.noCapture)
	if err != nil {
		t.Fatal(err)
	}
	parser := r.parser
	if parser == nil {
		parser = logs.Combined{}
	}
	var inputs []analyze.Input
	for _, name := range r.inputs {
		inputs = append(inputs, analyze.Input{Name: name, Stdin: bytes.NewReader(r.stdin)})
	}
	var res result
	var progress bytes.Buffer
	ro := r.read
	ro.Progress, ro.ProgressEvery = analyze.ProgressPrinter(&progress, false), 5*time.Second
	if r.merge != nil {
		err = a.Merge(r.merge)
	} else {
		err = a.Read(inputs, parser, ro)
	}
	res.progress = progress.String()
	if err != nil {
		return res, err
	}
	if r.after != nil {
		r.after(a)
	}
	top := r.top
	if top == 0 {
		top = 20
	}
	res.report = a.Report(top)
	if r.opts.Suggest {
		res.report.Suggestions = a.Suggestions()
	}
	if r.html {
		tl := a.Timelines(res.report.Top)
		res.report.Timeline = &tl
		var b bytes.Buffer
		if err := res.report.WriteHTML(&b, r.opts.Reveal); err != nil {
			t.Fatal(err)
		}
		res.html = b.String()
	}
	var j bytes.Buffer
	if err := res.report.WriteJSON(&j); err != nil {
		t.Fatal(err)
	}
	res.json = j.String()
	var text bytes.Buffer
	res.report.WriteText(&text)
	res.text = text.String()
	return res, nil
}

// mustRun replays r and fails the test on an error.
func (r replay) mustRun(t testing.TB) result {
	t.Helper()
	res, err := r.run(t)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// writeConfig writes a config into dir and returns its path.
func writeConfig(t testing.TB, dir, yaml string) string {
	t.Helper()
	p := filepath.Join(dir, "lg.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// nginxFormat is the reader for an nginx log_format, with the variables
// holding the account and the session ("" for none), as --format nginx,
// --account-var and --session-var give it.
func nginxFormat(t testing.TB, format, account, session string) *logs.NginxFormat {
	t.Helper()
	f, err := logs.NewNginxFormat(format)
	if err != nil {
		t.Fatal(err)
	}
	f.Account, f.Session = account, session
	return f
}

// jsonFields is the reader for JSON lines with the field paths spec, as
// --format json --fields gives it.
func jsonFields(t testing.TB, spec string) logs.JSONLines {
	t.Helper()
	j, err := logs.ParseJSONFields(spec)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// at parses an RFC 3339 time or a date, as --since and --until take them.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if v, err := time.Parse(layout, s); err == nil {
			return v
		}
	}
	t.Fatalf("bad time %q", s)
	return time.Time{}
}
