package analyze

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/logs"
)

// Input is one log source: a file path, a .gz file, or "-" for stdin.
type Input struct {
	Name  string
	Stdin io.Reader // used when Name is "-"
}

// Open opens an input for reading: a file, a .gz file (decompressed), or
// "-" for Stdin.
func Open(in Input) (io.ReadCloser, error) {
	if in.Name == "-" {
		return io.NopCloser(in.Stdin), nil
	}
	f, err := os.Open(in.Name)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(in.Name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", in.Name, err)
		}
		return struct {
			io.Reader
			io.Closer
		}{zr, f}, nil
	}
	return f, nil
}

// firstTime returns the time of a source's first parseable line, to order
// rotated logs (access.log.2.gz, access.log.1, access.log) oldest first.
func firstTime(in Input, parser logs.Parser) time.Time {
	if in.Name == "-" {
		return time.Time{}
	}
	rc, err := Open(in)
	if err != nil {
		return time.Time{}
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	var e logs.Entry
	for i := 0; i < 100; i++ {
		line, err := br.ReadSlice('\n')
		if parser.Parse(line, &e) == nil {
			return e.Time
		}
		if err != nil {
			break
		}
	}
	return time.Time{}
}

// Progress is called now and then with the lines read so far.
type Progress func(lines int, rate float64, file string)

// Read parses every input, oldest first, into the analyzer. Malformed lines
// are counted; with strict, the first one is an error.
func (a *Analyzer) Read(inputs []Input, parser logs.Parser, strict bool, progress Progress) error {
	if parser == nil {
		parser = logs.Combined{}
	}
	type timed struct {
		in Input
		t  time.Time
	}
	var ts []timed
	for _, in := range inputs {
		ts = append(ts, timed{in, firstTime(in, parser)})
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].t.Before(ts[j].t) })
	start := time.Now()
	lastReport := start
	total := 0
	var e logs.Entry
	for _, t := range ts {
		rc, err := Open(t.in)
		if err != nil {
			return err
		}
		br := bufio.NewReaderSize(rc, 1<<20)
		lineNo := 0
		for {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				// a line over 1 MiB: count it malformed and skip to its end
				for errors.Is(err, bufio.ErrBufferFull) {
					_, err = br.ReadSlice('\n')
				}
				lineNo++
				a.Malformed(lineNo)
				continue
			}
			if len(bytes.TrimSpace(line)) > 0 {
				lineNo++
				if perr := parser.Parse(line, &e); perr != nil {
					if strict {
						rc.Close()
						return fmt.Errorf("%s:%d: %v (--strict)", t.in.Name, lineNo, perr)
					}
					a.Malformed(lineNo)
				} else {
					a.Entry(&e)
				}
				total++
				if progress != nil && total%65536 == 0 && time.Since(lastReport) > 2*time.Second {
					lastReport = time.Now()
					progress(total, float64(total)/time.Since(start).Seconds(), t.in.Name)
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				return fmt.Errorf("%s: %w", t.in.Name, err)
			}
		}
		if err := rc.Close(); err != nil {
			return err
		}
	}
	if progress != nil {
		progress(total, float64(total)/max(time.Since(start).Seconds(), 1e-9), "")
	}
	return nil
}
