package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestWriteReplacesWholeAndPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "secret")
	for _, data := range []string{"first\n", "second, longer\n"} {
		if err := Write(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("read %q %v, want %q", got, err, data)
		}
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != want {
			t.Fatalf("%s: mode %v %v, want %v", p, st.Mode().Perm(), err, want)
		}
	}
	left, _ := os.ReadDir(filepath.Dir(path))
	if len(left) != 1 {
		t.Fatalf("%d files in the directory, want only the file (no temporary left)", len(left))
	}
}

// `analyze --json /dev/null` renamed a private empty file over /dev/null,
// and every program on the machine that wrote to it failed from then on
// (2026-12-06). A path that is no regular file is written to as it is:
// here a named pipe, which must still be one, its reader given the data.
func TestWriteToAPipeOrDeviceLeavesItInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipe here: %v", err)
	}
	got := make(chan string, 1)
	go func() {
		b, err := os.ReadFile(path)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(b)
	}()
	if err := Write(path, []byte("report\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "report\n" {
			t.Errorf("the pipe's reader got %q, want the data", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pipe's reader got nothing in 10 s")
	}
	st, err := os.Lstat(path)
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("%s is no longer a named pipe: %v %v", path, st.Mode(), err)
	}
}
