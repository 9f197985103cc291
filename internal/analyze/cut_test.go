package analyze_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/analyze"
)

// A .gz cut short (rotated or copied while written) or damaged at its end
// failed the whole replay with one word, "unexpected EOF", and every input's
// lines were lost (2026-12-05). What came before the cut is the log: it is
// replayed, the cut is a malformed line of its own that the command is told
// of, and --strict makes it an error.
func TestAnInputCutShortKeepsWhatCameBefore(t *testing.T) {
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	logLines := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			at := start.Add(time.Duration(i) * time.Second)
			fmt.Fprintf(&b, "203.0.113.%d - - [%s] \"GET /api/users/%d HTTP/1.1\" 200 312 \"-\" \"Mozilla/5.0\"\n", i%50, at.Format("02/Jan/2006:15:04:05 -0700"), i*7919%100000)
		}
		return b.String()
	}
	var whole bytes.Buffer
	zw := gzip.NewWriter(&whole)
	zw.Write([]byte(logLines(2000, 4000)))
	zw.Close()
	z := whole.Bytes()
	tests := []struct {
		name string
		gz   []byte
	}{
		{"cut in half", z[:len(z)/2]},
		{"cut before its trailer", z[:len(z)-8]},
		{"its checksum damaged", append(append([]byte(nil), z[:len(z)-8]...), 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			older, newer := filepath.Join(dir, "access.log.1.gz"), filepath.Join(dir, "access.log")
			os.WriteFile(older, tt.gz, 0o600)
			os.WriteFile(newer, []byte(logLines(0, 2000)), 0o600)
			cfg := writeConfig(t, dir, fmt.Sprintf(analyzeConfig, filepath.Join(dir, "state")))
			var told []string
			cut := func(name string, line int, err *analyze.CutShortError) {
				told = append(told, fmt.Sprintf("%s:%d", filepath.Base(name), line))
			}
			res := replay{config: cfg, inputs: []string{newer, older}, read: analyze.ReadOptions{CutShort: cut}}.mustRun(t)
			if r := res.report; r.Lines < 2001 || r.Malformed < 1 || r.Malformed > 2 {
				t.Errorf("%d lines, %d malformed: want the plain file's 2,000, what the cut one gave, and the cut", r.Lines, r.Malformed)
			}
			if len(told) != 1 || !strings.HasPrefix(told[0], "access.log.1.gz:") {
				t.Errorf("told of cuts %v, want access.log.1.gz's", told)
			}
			if _, err := (replay{config: cfg, inputs: []string{newer, older}, read: analyze.ReadOptions{Strict: true}}).run(t); err == nil || !strings.Contains(err.Error(), "access.log.1.gz") {
				t.Errorf("--strict: %v, want an error at the cut file", err)
			}
		})
	}
}
