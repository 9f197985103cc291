package audit

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCollectTargets(t *testing.T) {
	lim := Limits{Sample: 7, MaxCollections: 9, Timeout: time.Second}
	ts, err := CollectTargets([]string{"redis://127.0.0.1:6379", "postgres://db.internal/app"}, "", lim, os.Getenv)
	if err != nil || len(ts) != 2 {
		t.Fatalf("%v %v", ts, err)
	}
	for _, tg := range ts {
		if tg.Sample != 7 || tg.MaxCollections != 9 || tg.Timeout != time.Second {
			t.Errorf("%s: limits %d %d %s", tg.Name, tg.Sample, tg.MaxCollections, tg.Timeout)
		}
	}
	// Every bad target is named, the file's too.
	_, err = CollectTargets([]string{"ftp://a", "gopher://b"}, filepath.Join(t.TempDir(), "missing.yaml"), lim, os.Getenv)
	if err == nil || !strings.Contains(err.Error(), "ftp://a") || !strings.Contains(err.Error(), "gopher://b") || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("errors: %v", err)
	}
}

func TestParseRegions(t *testing.T) {
	if got := ParseRegions(" cn, us ,,gb"); !slices.Equal(got, []string{"CN", "US", "GB"}) {
		t.Errorf("%q", got)
	}
	if got := ParseRegions(""); len(got) != 0 {
		t.Errorf("%q", got)
	}
}
