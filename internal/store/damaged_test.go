package store

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

// A damaged state.db is an error that names it, not a crash: cut short,
// bbolt's read of its freelist was a SIGBUS; with pages overwritten, one of
// its assertions panicked (found by a probe, 2026-12-05). Either took the
// proxy down at start with a Go trace and no word of what to do.
func TestADamagedStateFileIsAnErrorNotACrash(t *testing.T) {
	good := filepath.Join(t.TempDir(), "state.db")
	{
		dir := t.TempDir()
		s, _, err := Open(dir, meta, Options{})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1_800_000_000, 0)
		var b Batch
		for i := range 5000 {
			b.Actors = append(b.Actors, memory.Saved{Key: identity.Key{Kind: identity.Session, Hash: uint64(i) * 0x9e3779b97f4a7c15}, Last: now.UnixNano(), Data: []byte(strings.Repeat("x", 200))})
		}
		b.Now = now
		if err := s.Write(b); err != nil {
			t.Fatal(err)
		}
		s.Close()
		data, err := os.ReadFile(filepath.Join(dir, "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(good, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// The file grows in steps, ahead of its pages: damage past the pages
	// in use harms nothing, and is not what this is about.
	var inUse int
	{
		s, err := OpenReadOnly(filepath.Dir(good))
		if err == nil {
			s.db.View(func(tx *bolt.Tx) error { inUse = int(tx.Size()); return nil })
			s.Close()
		}
		if inUse < 64*4096 || inUse > len(data) {
			t.Fatalf("%d bytes in use of the file's %d: not the store this test needs", inUse, len(data))
		}
	}
	mid := inUse / 2 / 4096 * 4096
	overwrite := func(seed uint64, offsets ...int) func([]byte) []byte {
		return func(b []byte) []byte {
			r := rand.New(rand.NewPCG(seed, 1))
			for _, off := range offsets {
				for i := range 512 {
					b[off+i] = byte(r.Uint32())
				}
			}
			return b
		}
	}
	tests := []struct {
		name   string
		damage func([]byte) []byte
		want   string // "" for a file that must open
	}{
		{"whole", func(b []byte) []byte { return b }, ""},
		{"cut to 8 KiB", func(b []byte) []byte { return b[:8192] }, "is damaged"},
		{"cut to what it uses", func(b []byte) []byte { return b[:inUse] }, ""},
		{"cut to half what it uses", func(b []byte) []byte { return b[:mid] }, "is damaged"},
		{"cut by a page of what it uses", func(b []byte) []byte { return b[:inUse-4096] }, "is damaged"},
		{"pages 2, 3, 4 and 6 overwritten", overwrite(7, 8192, 12288, 16484, 24576), "is damaged"},
		{"a page in the middle overwritten", overwrite(8, mid), "is damaged"},
		{"a page in the middle zeroed", func(b []byte) []byte { clear(b[mid:][:4096]); return b }, "is damaged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.db")
			if err := os.WriteFile(path, tt.damage(append([]byte(nil), data...)), 0o600); err != nil {
				t.Fatal(err)
			}
			ro, err := OpenReadOnly(dir)
			if err == nil {
				ro.Close()
			}
			if !matches(err, tt.want) {
				t.Errorf("OpenReadOnly: %v, want an error with %q", err, tt.want)
			}
			s, _, err := Open(dir, meta, Options{})
			if err == nil {
				s.Close()
			}
			if !matches(err, tt.want) {
				t.Fatalf("Open: %v, want an error with %q", err, tt.want)
			}
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move it aside") {
				t.Errorf("the error does not name the file and what to do: %v", err)
			}
			// What the error says to do works, and the process is whole.
			if err := os.Rename(path, path+".damaged"); err != nil {
				t.Fatal(err)
			}
			s, _, err = Open(dir, meta, Options{})
			if err != nil {
				t.Fatalf("after moving it aside: %v", err)
			}
			s.Close()
		})
	}
}

func matches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}
