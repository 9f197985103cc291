package admin

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadToken(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	if _, err := LoadToken("short", "LG_TOKEN", dir, log); err == nil || !strings.Contains(err.Error(), "$LG_TOKEN") {
		t.Errorf("a short token: %v", err)
	}
	if tok, err := LoadToken("  from-the-environment-0123  ", "LG_TOKEN", dir, log); err != nil || tok != "from-the-environment-0123" {
		t.Errorf("from the environment: %q %v", tok, err)
	}
	// None set: one is generated, kept privately, and read back next start.
	first, err := LoadToken("", "LG_TOKEN", dir, log)
	if err != nil || len(first) < minTokenLen {
		t.Fatalf("generated %q: %v", first, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "admin-token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept token: %v %v", fi, err)
	}
	if again, _ := LoadToken("", "LG_TOKEN", dir, log); again != first {
		t.Errorf("restart gave %q, want %q", again, first)
	}
}
