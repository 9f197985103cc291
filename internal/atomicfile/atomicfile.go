// Package atomicfile writes the files an operator must never find half
// written (the hashing secret, the admin token, audit reports): whole or
// not at all, private, in a directory made private if it is new.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// Write writes data to path through a temporary file in the same
// directory, fsynced and renamed into place (renameio), creating the
// directory (0700) first if needed. A path that is there and is no
// regular file (a device, a pipe) is written to as it is: the rename put
// a private empty file in the place of /dev/null (`analyze --json
// /dev/null`, 2026-12-06), and every program on the machine that wrote
// to it failed from then on.
func Write(path string, data []byte, perm os.FileMode) error {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return errors.Join(err, f.Close())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return renameio.WriteFile(path, data, perm)
}
