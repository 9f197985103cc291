package decisionlog

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Open returns the log log.decisions names: "stdout" (or "-") and
// "stderr" write there, anything else is a file appended to (its directory
// made), with the closer to call at exit (nil for the standard streams).
// The file is private: decisions name actor keys.
func Open(dest string, stdout, stderr io.Writer) (*Log, io.Closer, error) {
	switch dest {
	case "stdout", "-":
		return New(stdout, nil), nil, nil
	case "stderr":
		return New(stderr, nil), nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, nil, fmt.Errorf("decision log: %w", err)
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("decision log: %w", err)
	}
	return New(f, nil), f, nil
}
