// Package atomicfile writes the files an operator must never find half
// written (the hashing secret, the admin token, audit reports): whole or
// not at all, private, in a directory made private if it is new.
package atomicfile

import (
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// Write writes data to path through a temporary file in the same
// directory, fsynced and renamed into place (renameio), creating the
// directory (0700) first if needed.
func Write(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return renameio.WriteFile(path, data, perm)
}
