//go:build !unix

package cli

// openFilesLimit is unknown here: limits.max_conns stands as written.
func openFilesLimit() uint64 { return 0 }
