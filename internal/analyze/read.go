package analyze

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/logs"
	"github.com/leakguard/leakguard/internal/records"
)

// Input is one log source: a file path, a .gz file, or "-" for stdin.
type Input struct {
	Name  string
	Stdin io.Reader // used when Name is "-"
}

// Open opens an input for reading: a file, a .gz file (decompressed), or
// "-" for Stdin.
func Open(in Input) (io.ReadCloser, error) {
	rc, _, err := open(in, nil)
	return rc, err
}

// open is Open, counting the raw (compressed) bytes read into *n if n is
// not nil, for progress against the files' sizes.
func open(in Input, n *int64) (io.ReadCloser, int64, error) {
	if in.Name == "-" {
		r, err := sniffGzip(in.Stdin)
		if err != nil {
			return nil, 0, fmt.Errorf("stdin: %w", err)
		}
		return io.NopCloser(r), 0, nil
	}
	f, err := os.Open(in.Name)
	if err != nil {
		return nil, 0, err
	}
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	var r io.Reader = f
	if n != nil {
		r = &counter{r: f, n: n}
	}
	if named := strings.HasSuffix(in.Name, ".gz"); named || startsGzip(f) {
		zr, err := gzip.NewReader(r)
		if err == io.EOF && size == 0 {
			// An empty file named .gz (logrotate's, when there was
			// nothing to compress) is an empty log, not the end of the
			// replay.
			return f, 0, nil
		}
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("%s: %w", in.Name, err)
		}
		r = zr
	}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, size, nil
}

// sniffGzip reads r as gzip when it starts as gzip does: a log piped in
// compressed (zcat forgotten) or rotated without the .gz name was read
// as text, every line of it malformed. No text log starts with 0x1f 0x8b.
func sniffGzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(2); !isGzip(head) {
		return br, nil
	}
	return gzip.NewReader(br)
}

// startsGzip is sniffGzip for a file, read at its start without a buffer
// between: most files are text, read a megabyte at a time.
func startsGzip(f *os.File) bool {
	var head [2]byte
	n, _ := f.ReadAt(head[:], 0)
	return isGzip(head[:n])
}

func isGzip(head []byte) bool { return len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b }

type counter struct {
	r io.Reader
	n *int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
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
		if parser.Parse(lineOf(line, i+1), &e) == nil {
			return e.Time
		}
		if err != nil {
			break
		}
	}
	return time.Time{}
}

// lineOf is line n of an input as the parsers read it: without the
// UTF-8 byte order mark an editor or a Windows tool puts before the
// first, and without the NUL bytes a log truncated in place while the
// server writes on (logrotate's copytruncate) holds before the next line
// it writes. Each made the line after it malformed.
func lineOf(line []byte, n int) []byte {
	if n == 1 {
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
	}
	if len(line) > 0 && line[0] == 0 {
		line = bytes.TrimLeft(line, "\x00")
	}
	return line
}

// Progress is where a long replay stands.
type Progress struct {
	Lines    int
	Rate     float64 // lines per second so far
	File     string  // being read ("" when done)
	Done     int64   // input bytes read (compressed bytes for .gz)
	Total    int64   // all inputs' sizes; 0 when unknown (stdin)
	Elapsed  time.Duration
	Finished bool
}

// ReadOptions tune Read.
type ReadOptions struct {
	// Strict makes the first malformed line an error instead of a count.
	Strict bool
	// CutShort, if set, is told of an input that ended early (a .gz cut
	// off or damaged), at the line where it ends: the lines before are
	// replayed, and the cut counts as a malformed line.
	CutShort func(name string, line int, err *CutShortError)
	// Progress is called about every ProgressEvery, and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration // default 2s
	// Workers parse lines in parallel (default: GOMAXPROCS).
	Workers int
	// Files is how many inputs are read and decompressed at once
	// (default: Workers, at most 4).
	Files int
	// Serial replays each line whole on the reading goroutine, instead of
	// the two-stage pipeline: the same report (tested), for comparison.
	Serial bool
	// Shards is how many goroutines run the engine's stage, each for the
	// keys of its partitions (shard.go); default Workers. Below 2, one
	// goroutine runs it for every key. The analyzer's stage runs on as
	// many (tally.go), unless OneTally keeps it on one: the same report
	// (tested), for comparison.
	Shards   int
	OneTally bool
}

const (
	chunkBytes  = 256 << 10 // lines handed to a worker at a time
	chunkLines  = 4096
	maxLineSize = 1 << 20 // longer lines are counted malformed and skipped
)

var errLongLine = errors.New("line longer than 1 MiB")

// chunk is a run of consecutive lines of one input, parsed by a worker and
// then replayed in order.
type chunk struct {
	name  string
	buf   []byte
	lines []span
	evs   []event
	recs  []records.Found
	err   error // reading the input failed after these lines
	done  chan struct{}
	stage stageBuf    // the replay's first stage's decisions and bounds, for the second
	sh    shardBuf    // the same, in a sharded replay
	pool  chan *chunk // where it goes back when replayed
	// the analyzer's goroutines yet to tally it, in a sharded replay
	tallying atomic.Int32
	pos      int64 // input bytes read when the chunk was cut
}

type span struct {
	start, end int32 // start < 0: a line too long to keep (spanLong), or the input's cut (spanCut)
	line       int
	err        error // spanCut: why the input ended early
}

const (
	spanLong = -1
	spanCut  = -2
)

// Read parses every input, oldest first, into the analyzer. Workers parse
// and prepare lines in parallel, a chunk at a time; this goroutine replays
// them in their order, because the engine runs in event time. Malformed
// lines are counted; with Strict the first one is an error.
func (a *Analyzer) Read(inputs []Input, parser logs.Parser, o ReadOptions) error {
	if parser == nil {
		parser = logs.Combined{}
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 2 * time.Second
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
	var total int64
	for _, t := range ts {
		if t.in.Name != "-" {
			if st, err := os.Stat(t.in.Name); err == nil && st.Mode().IsRegular() {
				total += st.Size()
			}
		}
	}

	// Up to Files inputs are read (and decompressed) at once, each into
	// chunks of its own pool, so memory is bounded by the pools however
	// long the inputs; the merger hands their chunks on in input order.
	files := o.Files
	if files <= 0 {
		files = min(o.Workers, 4)
	}
	files = max(1, min(files, len(ts)))
	perFile := max(4, 4*o.Workers/files)
	inflight := files * perFile
	pools := make(chan chan *chunk, files)
	for range files {
		pool := make(chan *chunk, perFile)
		for range perFile {
			pool <- &chunk{done: make(chan struct{}), pool: pool}
		}
		pools <- pool
	}
	order := make(chan *chunk, inflight)
	work := make(chan *chunk, inflight)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	feeds := make(chan chan *chunk, files)
	wg.Add(2)
	go func() { // the merger: each input's chunks in turn, inputs in order
		defer wg.Done()
		defer close(order)
		for feed := range feeds {
			for c := range feed {
				select {
				case order <- c:
				case <-stop:
					return
				}
			}
		}
	}()
	var readers sync.WaitGroup
	go func() { // starts a reader per input, up to files at once
		defer wg.Done()
		defer func() {
			close(feeds)
			readers.Wait()
			close(work)
		}()
		var base int64 // the sizes of the inputs before
		for _, t := range ts {
			var pool chan *chunk
			select {
			case pool = <-pools:
			case <-stop:
				return
			}
			feed := make(chan *chunk, perFile)
			select {
			case feeds <- feed:
			case <-stop:
				return
			}
			readers.Add(1)
			go func(in Input, base int64) {
				defer readers.Done()
				defer func() { pools <- pool }()
				defer close(feed)
				a.readInput(in, base, pool, feed, work, stop)
			}(t.in, base)
			if t.in.Name != "-" {
				if st, err := os.Stat(t.in.Name); err == nil && st.Mode().IsRegular() {
					base += st.Size()
				}
			}
		}
	}()
	for i := 0; i < o.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var e logs.Entry
			uas := map[uint64]detect.UAClass{}
			for c := range work {
				c.evs = c.evs[:0]
				c.recs = c.recs[:0]
				for _, sp := range c.lines {
					c.evs = append(c.evs, event{line: sp.line})
					ev := &c.evs[len(c.evs)-1]
					switch {
					case sp.start == spanCut:
						ev.err = sp.err
					case sp.start < 0:
						ev.err = errLongLine
					case len(bytes.TrimSpace(lineOf(c.buf[sp.start:sp.end], sp.line))) == 0:
						ev.skip = true
					default:
						if err := parser.Parse(lineOf(c.buf[sp.start:sp.end], sp.line), &e); err != nil {
							ev.err = err
						} else {
							c.recs = a.prepare(&e, ev, c.recs, uas)
						}
					}
				}
				close(c.done)
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	start := time.Now()
	last := start
	lines := 0
	report := func(file string, pos int64, finished bool) {
		if o.Progress == nil {
			return
		}
		el := time.Since(start)
		o.Progress(Progress{Lines: lines, Rate: float64(lines) / max(el.Seconds(), 1e-9), File: file,
			Done: pos, Total: total, Elapsed: el, Finished: finished})
	}
	var pos int64
	// A sharded replay's engine goroutines, each with a queue of chunks for
	// its address keys and one for its other keys.
	shards := o.Shards
	if shards == 0 {
		shards = o.Workers
	}
	shards = min(shards, 64)
	sharded := shards >= 2 && !o.Serial && a.o.Engine != nil
	var pass *passEngine // a shard pass's engine, on this goroutine (shard.go)
	if a.o.Parts > 0 {
		if a.o.Engine == nil || a.o.Parts > 64 || a.o.Part < 0 || a.o.Part >= a.o.Parts {
			return fmt.Errorf("shard %d/%d: want 0 <= i < N <= 64, and an engine", a.o.Part, a.o.Parts)
		}
		sharded, o.Serial = false, false
		pass = &passEngine{a.newWorker(0, 1), a.newWorker(0, 1)}
		if a.o.Capture != nil {
			a.o.Capture.off = true // the pass keeps the bounds itself
		}
		a.peakWins()
	}
	var toAddr, toOthers []chan *chunk
	var syn *syncer
	if sharded {
		syn = &syncer{a: a, shards: shards, x: a.newWorker(0, 1), y: a.newWorker(0, 1)}
		if d := a.o.Detector; d != nil {
			d.SetCrewSanctioned(syn.crewSanctioned)
			defer d.SetCrewSanctioned(a.crewSanctioned)
		}
		if a.o.Capture != nil {
			a.o.Capture.off = true // not safe for several goroutines; the workers keep the bounds
		}
		a.peakWins() // made once here, read by every goroutine
		var engines sync.WaitGroup
		for w := range shards {
			x := a.newWorker(w, shards)
			qa, qo := make(chan *chunk, inflight), make(chan *chunk, inflight)
			toAddr, toOthers = append(toAddr, qa), append(toOthers, qo)
			engines.Add(2)
			go func() {
				defer engines.Done()
				for c := range qa {
					x.addresses(c)
				}
			}()
			// others runs on a worker of its own: it waits for the
			// addresses of its chunk, while the addresses of the next go on
			y := a.newWorker(w, shards)
			go func() {
				defer engines.Done()
				for c := range qo {
					y.others(c)
				}
			}()
		}
		defer func() {
			for w := range toAddr {
				close(toAddr[w])
				close(toOthers[w])
			}
			engines.Wait()
		}()
	}
	// The second stage: the analyzer's own totals, a chunk behind the
	// first, on a goroutine of its own (Serial: on this one, line by line),
	// or, sharded, on one for each engine goroutine's partitions, each
	// holding their keys (tally.go).
	var tallies chan *chunk
	tallied := make(chan struct{})
	var subs []*Analyzer
	var toTally []chan *chunk
	if sharded && !o.OneTally {
		subs = a.split(shards)
		var tallying sync.WaitGroup
		for _, s := range subs {
			q := make(chan *chunk, inflight)
			toTally = append(toTally, q)
			tallying.Add(1)
			go func() {
				defer tallying.Done()
				for c := range q {
					c.sh.metered.Wait()
					s.tallySharded(c)
					if c.tallying.Add(-1) == 0 {
						c.pool <- c
					}
				}
			}()
		}
		defer func() {
			for _, q := range toTally {
				close(q)
			}
			tallying.Wait()
			a.join(subs)
		}()
	} else if !o.Serial {
		tallies = make(chan *chunk, inflight)
		go func() {
			defer close(tallied)
			for c := range tallies {
				if sharded || pass != nil {
					c.sh.metered.Wait()
					a.tallySharded(c)
				} else {
					a.tallyChunk(c)
				}
				c.pool <- c
			}
		}()
		defer func() {
			if tallies != nil {
				close(tallies)
				<-tallied
			}
		}()
	}
	for c := range order {
		<-c.done
		st := &c.stage
		st.decs, st.bounds, st.pos = st.decs[:0], st.bounds[:0], 0
		slots := 0
		if pass != nil {
			pass.begin(c)
		}
		for i := range c.evs {
			ev := &c.evs[i]
			switch {
			case ev.skip:
				continue
			case ev.err != nil:
				if o.Strict {
					return fmt.Errorf("%s:%d: %v (--strict)", c.name, ev.line, ev.err)
				}
				if cut := (*CutShortError)(nil); o.CutShort != nil && errors.As(ev.err, &cut) {
					o.CutShort(c.name, ev.line, cut)
				}
			case o.Serial:
				if !a.outsideWindow(ev) && a.learn.due(ev.t.UnixNano()) {
					a.learn.calibrate(ev.t.UnixNano())
				}
				a.apply(ev)
			case pass != nil:
				if !a.outsideWindow(ev) {
					a.detect(ev, &slots)
					pass.line(c, i, slots)
				}
			case sharded:
				if !a.outsideWindow(ev) {
					syn.cur, syn.line, syn.slots = c, i, &slots
					if a.learn.due(ev.t.UnixNano()) {
						syn.settle() // the engine as it stands after the line before
						a.learn.calibrate(ev.t.UnixNano())
					}
					a.detect(ev, &slots) // the engine's goroutines do the rest
					if syn.inline {
						syn.catchUp(i+1, slots) // ... unless the detector asked the engine (syncer)
					}
				}
			case !a.outsideWindow(ev):
				// the first stage: detector, engine and meter, in order
				if a.learn.due(ev.t.UnixNano()) {
					a.learn.calibrate(ev.t.UnixNano())
				}
				ev.decs[0] = len(st.decs)
				a.stage = st
				a.replay(ev, st)
				a.stage = nil
				ev.decs[1] = len(st.decs)
			}
			lines++
		}
		if c.err != nil {
			return c.err
		}
		pos = c.pos
		if now := time.Now(); now.Sub(last) >= o.ProgressEvery {
			last = now
			report(c.name, pos, false)
		}
		if o.Serial {
			for i := range c.evs {
				if ev := &c.evs[i]; ev.err != nil {
					a.malformed(c.name+":"+strconv.Itoa(ev.line), ev.err)
				}
			}
			c.pool <- c
			continue
		}
		if sharded && syn.inline {
			syn.catchUp(len(c.evs), slots) // replayed here, in order
			syn.inline, syn.cur = false, nil
		} else if sharded {
			syn.last = c
			sh := &c.sh
			sh.bounds = append(sh.bounds[:0], make([]uint32, slots)...)
			if len(sh.decs) != 2*shards {
				sh.decs = make([][]lineDecision, 2*shards)
			}
			sh.addressed.Add(shards)
			sh.metered.Add(shards)
			for w := range shards {
				toAddr[w] <- c
				toOthers[w] <- c
			}
		}
		if subs != nil {
			c.tallying.Store(int32(len(subs)))
			for _, q := range toTally {
				q <- c
			}
			continue
		}
		tallies <- c
	}
	if tallies != nil {
		close(tallies)
		<-tallied
		tallies = nil
	}
	report("", pos, true)
	return nil
}

// tallyChunk is the second stage of the replay for one chunk: every line's
// totals, decisions and peaks, and the malformed lines' count, in order.
func (a *Analyzer) tallyChunk(c *chunk) {
	st := &c.stage
	for i := range c.evs {
		ev := &c.evs[i]
		switch {
		case ev.skip:
		case ev.err != nil:
			a.malformed(c.name+":"+strconv.Itoa(ev.line), ev.err)
		case a.outsideWindow(ev):
			a.lines++
			a.outside++
		default:
			st.pos = a.tally(ev, st.decs[ev.decs[0]:ev.decs[1]], st.bounds, st.pos)
		}
	}
}

// CutShortError is the malformed line an input cut short ends with.
type CutShortError struct{ Err error }

func (e *CutShortError) Error() string {
	return fmt.Sprintf("the input ends here, cut short (%v): what follows in it is not read", e.Err)
}

func (e *CutShortError) Unwrap() error { return e.Err }

// cutShort reports whether err ends an input early in a way that leaves
// what was read before it good: a compressed stream cut off or damaged
// past that point.
func cutShort(err error) bool {
	var corrupt flate.CorruptInputError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt)
}

// readInput cuts one input into chunks of lines from pool, sending each to
// feed (its place in the replay's order) and to work (the parse workers).
// base is the size of the inputs before it, for progress.
func (a *Analyzer) readInput(in Input, base int64, pool chan *chunk, feed, work chan<- *chunk, stop <-chan struct{}) {
	name := in.Name
	var n int64
	send := func(c *chunk) bool {
		c.pos = base + n
		select {
		case feed <- c:
		case <-stop:
			return false
		}
		select {
		case work <- c:
			return true
		case <-stop:
			return false
		}
	}
	get := func() *chunk {
		select {
		case c := <-pool:
			c.name, c.buf, c.lines, c.err = name, c.buf[:0], c.lines[:0], nil
			c.done = make(chan struct{})
			return c
		case <-stop:
			return nil
		}
	}
	c := get()
	if c == nil {
		return
	}
	rc, _, err := open(in, &n)
	if err != nil {
		c.err = err
		send(c)
		return
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, maxLineSize)
	lineNo := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			lineNo++
			c.lines = append(c.lines, span{start: spanLong, line: lineNo})
		} else if len(line) > 0 {
			lineNo++
			start := len(c.buf)
			c.buf = append(c.buf, line...)
			c.lines = append(c.lines, span{start: int32(start), end: int32(len(c.buf)), line: lineNo})
		}
		if err != nil && err != io.EOF {
			if cutShort(err) {
				// A .gz cut short (rotated or copied while written), or
				// one whose end is damaged: what came before is the log,
				// counted and replayed; the cut is a malformed line of
				// its own, in the report, and an error under --strict.
				// It failed the whole replay, losing every input's lines
				// with one word (2026-12-05).
				c.lines = append(c.lines, span{start: spanCut, line: lineNo + 1, err: &CutShortError{Err: err}})
				send(c)
				return
			}
			c.err = fmt.Errorf("%s: %w", name, err)
			send(c)
			return
		}
		if err == io.EOF || len(c.buf) >= chunkBytes || len(c.lines) >= chunkLines {
			if err == io.EOF {
				if cerr := rc.Close(); cerr != nil {
					c.err = fmt.Errorf("%s: %w", name, cerr)
				}
			}
			if !send(c) || c.err != nil || err == io.EOF {
				return
			}
			if c = get(); c == nil {
				return
			}
		}
	}
}
