package decisionlog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestOpen(t *testing.T) {
	var out, errs bytes.Buffer
	for dest, want := range map[string]*bytes.Buffer{"stdout": &out, "-": &out, "stderr": &errs} {
		out.Reset()
		errs.Reset()
		l, closer, err := Open(dest, &out, &errs)
		if err != nil || closer != nil {
			t.Fatalf("%s: %v %v", dest, closer, err)
		}
		l.Operator("test")
		if want.Len() == 0 {
			t.Errorf("%s: nothing written where it should be", dest)
		}
	}
	// A file: its directory made, appended to across opens, private.
	file := filepath.Join(t.TempDir(), "logs", "decisions.jsonl")
	for range 2 {
		l, closer, err := Open(file, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		l.Operator("test")
		closer.Close()
	}
	b, err := os.ReadFile(file)
	fi, _ := os.Stat(file)
	if err != nil || bytes.Count(b, []byte("\n")) != 2 || fi.Mode().Perm() != 0o600 {
		t.Errorf("file: %q %v %v", b, fi.Mode(), err)
	}
}
