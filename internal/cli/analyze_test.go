package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

const analyzeConfig = `
upstream: http://127.0.0.1:1
records:
  - route: GET /api/users/{id}
    entity: user
budgets:
  - {entity: user, per: ip, window: 1h, limit: 300, action: block}
state: {dir: %s}
`

// A real Apache log as background, with a scraper and a slow reader merged
// in by time, split over a .gz and a plain file given in the wrong order.
func TestAnalyzeFindsTheScraperInARealLog(t *testing.T) {
	real, err := os.ReadFile("../../../shared/data/access-logs/elastic-examples-apache_logs.log")
	if err != nil {
		t.Skipf("shared data not present (%v)", err)
	}
	type line struct {
		t time.Time
		s string
	}
	var all []line
	for _, l := range strings.Split(strings.TrimSpace(string(real)), "\n") {
		ts, _ := time.Parse("02/Jan/2006:15:04:05 -0700", l[strings.Index(l, "[")+1:strings.Index(l, "]")])
		all = append(all, line{ts, l})
	}
	start := time.Date(2015, 5, 18, 12, 0, 0, 0, time.UTC)
	stamp := func(t time.Time) string { return t.Format("02/Jan/2006:15:04:05 -0700") }
	for i := 1; i <= 2000; i++ { // one profile a second, in order
		at := start.Add(time.Duration(i) * time.Second)
		all = append(all, line{at, fmt.Sprintf(`203.0.113.66 - - [%s] "GET /api/users/%d HTTP/1.1" 200 312 "-" "python-requests/2.31"`, stamp(at), i)})
	}
	for i := 1; i <= 200; i++ { // a person reading 200 profiles over a day: under budget
		at := start.Add(time.Duration(i) * 7 * time.Minute)
		all = append(all, line{at, fmt.Sprintf(`198.51.100.9 - - [%s] "GET /api/users/%d?ref=x HTTP/1.1" 200 312 "-" "Mozilla/5.0"`, stamp(at), 50000+i)})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	dir := t.TempDir()
	half := len(all) / 2
	var older bytes.Buffer
	zw := gzip.NewWriter(&older)
	for _, l := range all[:half] {
		fmt.Fprintln(zw, l.s)
	}
	zw.Close()
	os.WriteFile(filepath.Join(dir, "access.log.1.gz"), older.Bytes(), 0o600)
	var newer strings.Builder
	for _, l := range all[half:] {
		fmt.Fprintln(&newer, l.s)
	}
	os.WriteFile(filepath.Join(dir, "access.log"), []byte(newer.String()), 0o600)
	cfg := filepath.Join(dir, "lg.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(analyzeConfig, filepath.Join(dir, "state"))), 0o600)

	var out, errb bytes.Buffer
	c := &AnalyzeCommand{Stdout: &out, Stderr: &errb}
	// the newer file first: analyze must order them by time
	if err := c.ParseFlags([]string{"--config", cfg, "--reveal", filepath.Join(dir, "access.log"), filepath.Join(dir, "access.log.1.gz")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	r := c.Report
	if r.Lines != 12200 || r.Malformed != 0 || r.TruncatedUA != 1 || r.OutOfOrder != 0 {
		t.Fatalf("lines %d malformed %d truncated %d out of order %d", r.Lines, r.Malformed, r.TruncatedUA, r.OutOfOrder)
	}
	if r.Suspects != 1 {
		t.Fatalf("%d suspects, want the scraper alone", r.Suspects)
	}
	top := r.Top[0]
	if !top.Suspect || top.Address != "203.0.113.66" || top.Records["user"] < 1960 || top.Records["user"] > 2040 {
		t.Fatalf("top actor %+v", top)
	}
	if top.RecordsBefore["user"] != 300 || !top.DetectedAt.Equal(start.Add(300*time.Second)) {
		t.Fatalf("stopped at %v after %d, want %v after 300", top.DetectedAt, top.RecordsBefore["user"], start.Add(300*time.Second))
	}
	if s := r.BreachScope["user"]; s < 1960 || s > 2040 {
		t.Fatalf("breach scope %d, want ≈2000", s)
	}
	var slow bool
	for _, a := range r.Top {
		if a.Records["user"] == 200 && !a.Suspect {
			slow = true
		}
	}
	if !slow {
		t.Error("the slow reader (200 profiles, under budget) is missing or suspected")
	}
}

func TestAnalyzeStrictAndErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lg.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(analyzeConfig, filepath.Join(dir, "state"))), 0o600)
	log := "1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] \"GET /api/users/1 HTTP/1.1\" 200 1 \"-\" \"ua\"\nnot a log line\n"
	for _, strict := range []bool{false, true} {
		var out bytes.Buffer
		c := &AnalyzeCommand{Stdin: strings.NewReader(log), Stdout: &out, Stderr: &out}
		args := []string{"--config", cfg, "-"}
		if strict {
			args = append([]string{"--strict"}, args...)
		}
		if err := c.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		err := c.Run(context.Background())
		if strict && (err == nil || !strings.Contains(err.Error(), "-:2")) {
			t.Errorf("strict: %v, want an error naming line 2", err)
		}
		if !strict && (err != nil || c.Report.Malformed != 1 || c.Report.Lines != 2) {
			t.Errorf("lenient: %v, report %+v", err, c.Report)
		}
	}
	for _, args := range [][]string{{"x.log"}, {"--config", cfg}, {"--config", cfg, "--format", "w3c", "x"}} {
		c := &AnalyzeCommand{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		if err := c.ParseFlags(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
