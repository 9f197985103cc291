//go:build unix

package cli

import "syscall"

// openFilesLimit is the process's soft limit on open files (which Go
// raises to the hard limit at start), 0 when unknown.
func openFilesLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}
