package analyze_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/analyze"
)

// shardRun replays r as N shard passes, each writing its partial state,
// reads them back (in reverse order: the merge does not care) and merges
// them; it returns the merged report and the partial files' sizes.
func shardRun(t *testing.T, r replay, n int) (result, []int) {
	t.Helper()
	var ps []*analyze.Partial
	var names []string
	var sizes []int
	files := partialFiles(t, r, n)
	for i := n - 1; i >= 0; i-- {
		sizes = append(sizes, len(files[i]))
		p, err := analyze.ReadPartial(bytes.NewReader(files[i]))
		if err != nil {
			t.Fatalf("shard %d/%d: %v", i, n, err)
		}
		ps, names = append(ps, p), append(names, fmt.Sprintf("p%d.lgp", i))
	}
	if err := analyze.CheckPartials(ps, names, nil); err != nil {
		t.Fatal(err)
	}
	m := r
	m.opts = ps[0].Options()
	m.merge = ps
	return m.mustRun(t), sizes
}

// shardsMatch checks that the merge of n shard passes of r gives the
// report want, byte for byte (JSON, HTML and the terminal's).
func shardsMatch(t *testing.T, name string, r replay, want result, ns ...int) {
	t.Helper()
	for _, n := range ns {
		got, sizes := shardRun(t, r, n)
		t.Logf("%s, %d shards: partial files of %v bytes", name, n, sizes)
		for _, out := range []struct{ what, got, want string }{{"JSON", got.json, want.json}, {"HTML", got.html, want.html}, {"text", got.text, want.text}} {
			if out.got != out.want {
				i := 0
				for i < len(out.got) && i < len(out.want) && out.got[i] == out.want[i] {
					i++
				}
				t.Errorf("%s, %d shards: the merged %s report differs from the single replay's at byte %d: %.300q vs %.300q",
					name, n, out.what, i, out.got[min(i, len(out.got)):], out.want[min(i, len(out.want)):])
			}
		}
	}
}

// smallShards writes a config with the campaign test's budgets and the
// enumerators' log (~19,000 lines: account decisions, crews, risk bands
// raised by an address's misses), and returns a replay of it.
func smallShards(t testing.TB) replay {
	t.Helper()
	dir := t.TempDir()
	cfg := writeSanctioningConfig(t, dir)
	return replay{config: cfg, inputs: []string{writeEnumerationLog(t, dir)}, top: 1000,
		parser: nginxFormat(t, campaignLogFormat, "http_x_account", "cookie_sid"), sessions: true,
		opts: analyze.Options{Reveal: true, Suggest: true, Exact: true}, html: true}
}

// partialFiles runs r's n shard passes and returns their files, in order.
func partialFiles(t testing.TB, r replay, n int) [][]byte {
	t.Helper()
	var files [][]byte
	for i := range n {
		files = append(files, partialFile(t, r, i, n))
	}
	return files
}

// partialFile runs r's shard pass i of n and returns its file.
func partialFile(t testing.TB, r replay, i, n int) []byte {
	t.Helper()
	pass := r
	pass.opts.Part, pass.opts.Parts = i, n
	var file bytes.Buffer
	pass.after = func(a *analyze.Analyzer) {
		if err := a.WritePartial(&file, sha256.Sum256([]byte(r.config)), "nginx"); err != nil {
			t.Fatal(err)
		}
	}
	pass.mustRun(t)
	return file.Bytes()
}

// The partial files: the merge of the enumerators' log in two passes is
// the single replay's report (this runs under the race detector in CI,
// the campaign log's merges in TestAnalyzeStagedReplayIsExact do not),
// and every file that is not one pass of the same run is refused with an
// error that says why: another version, cut short, changed, another
// config, another N, another log, a pass missing or given twice.
func TestAnalyzeShardMerge(t *testing.T) {
	r := smallShards(t)
	want := r.mustRun(t)
	if !want.report.Exact || want.report.Suspects == 0 {
		t.Fatalf("the small log's report: exact %v, %d suspects", want.report.Exact, want.report.Suspects)
	}
	shardsMatch(t, "enumerators", r, want, 2)
	// --exact given up part way, by the single replay and the merge but
	// by no pass (TestAnalyzeStagedReplayIsExact has counts large enough
	// for an estimate to differ)
	up := r
	up.opts.ExactLimit = 30_000 // of 42,000
	if want := up.mustRun(t); !want.report.ExactAbandoned {
		t.Error("exact counts not given up at 30,000 pairs")
	} else {
		shardsMatch(t, "exact given up", up, want, 3)
	}

	// The files refused below need only be files: the log's first 2,000
	// lines make them (the whole log under the race detector, each pass
	// of the ten, made this test 68 s).
	whole, err := os.ReadFile(r.inputs[0])
	if err != nil {
		t.Fatal(err)
	}
	cut := 0
	for range 2000 {
		cut += bytes.IndexByte(whole[cut:], '\n') + 1
	}
	r.inputs = []string{filepath.Join(t.TempDir(), "head.log")}
	if err := os.WriteFile(r.inputs[0], whole[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
	files := partialFiles(t, r, 2)
	read := func(b []byte) (*analyze.Partial, error) { return analyze.ReadPartial(bytes.NewReader(b)) }
	p0, err := read(files[0])
	if err != nil {
		t.Fatal(err)
	}
	p1, err := read(files[1])
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"p0.lgp", "p1.lgp", "p2.lgp"}
	if err := analyze.CheckPartials([]*analyze.Partial{p1, p0}, names, nil); err != nil {
		t.Fatalf("the two passes, in any order: %v", err)
	}

	// Files that cannot be read.
	refused := func(name string, b []byte, want string) {
		t.Helper()
		_, err := read(b)
		if err == nil || !errors.Is(err, analyze.ErrPartial) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, want)
		}
	}
	refused("empty", nil, "not a leakguard partial file")
	refused("a log", []byte(`1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`), "not a leakguard partial file")
	v2 := bytes.Clone(files[0])
	v2[len("leakguard partial\n")] = 2
	refused("version 2", v2, "version 2, this leakguard reads version 1")
	for _, n := range []int{len(files[0]) - 1, len(files[0]) - 32, len(files[0]) / 2, 100, 19} {
		refused(fmt.Sprintf("cut at %d bytes", n), files[0][:n], "cut short")
	}
	changed := bytes.Clone(files[0])
	changed[len(changed)/2] ^= 0x40
	if _, err := read(changed); err == nil || !errors.Is(err, analyze.ErrPartial) {
		t.Errorf("a changed byte: %v, want refused", err)
	}
	refused("data after the checksum", append(bytes.Clone(files[0]), 0), "data after the checksum")

	// Passes that are not one run's.
	mismatch := func(name string, ps []*analyze.Partial, hash *[32]byte, want string) {
		t.Helper()
		err := analyze.CheckPartials(ps, names, hash)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, want)
		}
	}
	mismatch("one pass of two", []*analyze.Partial{p0}, nil, "shard 1/2 is missing")
	mismatch("a pass twice", []*analyze.Partial{p0, p0}, nil, "p0.lgp and p1.lgp are both shard 0/2")
	mismatch("none", nil, nil, "no partial files")
	other := sha256.Sum256([]byte("another config"))
	mismatch("the merge's config", []*analyze.Partial{p0, p1}, &other, "another config file than --config")

	// A pass of another config, of another N, of another log.
	r2 := r
	r2.config = filepath.Join(t.TempDir(), "other.yaml")
	yaml, _ := os.ReadFile(r.config)
	os.WriteFile(r2.config, yaml, 0o600)
	q, err := read(partialFile(t, r, 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	mismatch("another N", []*analyze.Partial{p0, q}, nil, "different N")
	q, err = read(partialFile(t, r2, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	mismatch("another config", []*analyze.Partial{p0, q}, nil, "different config files")
	r3 := r
	r3.opts.Since = at(t, "2026-11-04T07:00:00Z")
	q, err = read(partialFile(t, r3, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	mismatch("another --since", []*analyze.Partial{p0, q}, nil, "different --since or --until")
	r4 := r
	r4.opts.Reveal = false
	q, err = read(partialFile(t, r4, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	mismatch("another --reveal", []*analyze.Partial{p0, q}, nil, "different flags")
	r5 := r
	r5.inputs = []string{r.inputs[0], r.inputs[0]}
	q, err = read(partialFile(t, r5, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	mismatch("another log", []*analyze.Partial{p0, q}, nil, "not the same log")
}

// FuzzReadPartial: a partial file comes from another machine; whatever it
// holds, reading it, and merging and reporting what was read, must not
// panic or hang. Each input is also tried with its checksum made right,
// so the fuzzer reaches past it.
func FuzzReadPartial(f *testing.F) {
	r := smallShards(f)
	r.inputs = []string{r.inputs[0]}
	files := partialFiles(f, r, 2)
	for _, b := range files {
		f.Add(b)
		f.Add(b[:len(b)/3])
	}
	f.Add([]byte("leakguard partial\n\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tries := [][]byte{b}
		if len(b) > 32 {
			fixed := bytes.Clone(b)
			sum := sha256.Sum256(fixed[:len(fixed)-32])
			copy(fixed[len(fixed)-32:], sum[:])
			tries = append(tries, fixed)
		}
		for _, b := range tries {
			p, err := analyze.ReadPartial(bytes.NewReader(b))
			if err != nil {
				if p != nil || !errors.Is(err, analyze.ErrPartial) {
					t.Fatalf("ReadPartial: %v, %v", p, err)
				}
				continue
			}
			_ = analyze.CheckPartials([]*analyze.Partial{p}, []string{"p.lgp"}, nil)
			m := r
			m.opts = p.Options()
			m.merge = []*analyze.Partial{p}
			if _, err := m.run(t); err != nil {
				continue // another config's entities or windows
			}
		}
	})
}

// The detector reads the engine: a lookalike sweeper joins the sweepers'
// crew when that crew is sanctioned, as the engine stands after the line
// before. The sharded replay's engine goroutines run behind the detector,
// and a shard pass holds only some keys; both must still answer it as the
// one-goroutine replay does. On the lookalikes' log alone (the campaign
// log's other traffic leaves them unrecruited): the report of the plain
// replay, of the sharded one at 2 and 5 workers, and of the merge of 2
// and 3 shard passes, byte for byte.
func TestAnalyzeDetectorReadsTheEngineInOrder(t *testing.T) {
	r := smallShards(t)
	r.inputs = []string{writeLookalikeLog(t, filepath.Dir(r.config))}
	r.read, r.noCapture = analyze.ReadOptions{Serial: true, Workers: 1}, true
	want := r.mustRun(t)
	joined := false
	for _, a := range want.report.Top {
		if a.Revealed != nil && strings.HasPrefix(a.Key, "crew:") && slices.Contains(a.Revealed.IPs, "203.0.113.91") && slices.Contains(a.Revealed.IPs, "198.18.9.12") {
			joined = true
		}
	}
	if !joined {
		t.Fatal("the lookalikes are not one crew: the log no longer has the detector read the engine")
	}
	r.noCapture = false
	for _, w := range []struct{ workers, shards int }{{2, 0}, {5, 3}} {
		r.read = analyze.ReadOptions{Workers: w.workers, Shards: w.shards}
		if got := r.mustRun(t); got.json != want.json || got.html != want.html {
			t.Errorf("workers %d, shards %d: the report differs from the plain replay's", w.workers, w.shards)
		}
	}
	r.read = analyze.ReadOptions{Workers: 2}
	shardsMatch(t, "lookalikes", r, want, 2, 3)
}
