package cli

import (
	"fmt"
	"io"
)

// reportWriter keeps the first error of writes that do not return one
// (a report's text is many Fprintf calls): a report written to a full disk
// or a closed pipe was lost while the command exited 0 (found by a probe,
// 2026-12-05).
type reportWriter struct {
	w   io.Writer
	err error
}

func (r *reportWriter) Write(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.w.Write(b)
	if err != nil {
		r.err = fmt.Errorf("writing the report: %w", err)
	}
	return n, err
}

// writeReport has write write to w, and returns the first error it met.
func writeReport(w io.Writer, write func(io.Writer)) error {
	rw := &reportWriter{w: w}
	write(rw)
	return rw.err
}
