package proxy

import (
	"bufio"
	"cmp"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/leakguard/leakguard/internal/records"
)

// coding is a content coding the proxy decodes.
type coding uint8

const (
	codingGzip coding = iota + 1
	codingDeflate
	codingBr
	codingZstd
)

// decodable lists what the proxy asks upstreams for, in the order it
// prefers when the client has no preference.
var decodable = [...]struct {
	name string
	c    coding
}{{"zstd", codingZstd}, {"br", codingBr}, {"gzip", codingGzip}, {"deflate", codingDeflate}}

// maxCodingLayers bounds stacked codings ("gzip, br"): more is no real
// server's doing, and each layer is a decoder to run.
const maxCodingLayers = 3

func codingByName(name string) (coding, bool) {
	switch name {
	case "gzip", "x-gzip":
		return codingGzip, true
	case "deflate":
		return codingDeflate, true
	case "br":
		return codingBr, true
	case "zstd":
		return codingZstd, true
	}
	return 0, false
}

// parseContentEncoding returns the codings of a Content-Encoding, in the
// order they were applied; ok is false when one is unknown or there are
// too many. identity and empty elements are no coding.
func parseContentEncoding(values []string) (cs []coding, ok bool) {
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.ToLower(strings.TrimSpace(tok))
			if tok == "" || tok == "identity" {
				continue
			}
			c, known := codingByName(tok)
			if !known || len(cs) == maxCodingLayers {
				return nil, false
			}
			cs = append(cs, c)
		}
	}
	return cs, true
}

// accept is a client's Accept-Encoding.
type accept struct {
	present bool
	q       [5]float64 // by coding; [0] is "*"
	named   [5]bool
}

// parseAcceptEncoding reads Accept-Encoding values; q-values are kept so
// that "gzip;q=0" is a refusal.
func parseAcceptEncoding(values []string) accept {
	var a accept
	for _, v := range values {
		a.present = true
		for tok := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(tok, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil || f < 0 || f > 1 {
						f = 0 // unreadable: taken as a refusal, the side that still counts
					}
					q = f
				}
			}
			i := 0
			if name != "*" {
				c, ok := codingByName(name)
				if !ok {
					continue
				}
				i = int(c)
			}
			a.q[i], a.named[i] = q, true
		}
	}
	return a
}

func (a *accept) accepts(c coding) bool {
	if a.named[c] {
		return a.q[c] > 0
	}
	return a.named[0] && a.q[0] > 0
}

// acceptsAll reports whether the client can take a body with codings cs as
// it is. A client that sent no Accept-Encoding takes any (RFC 9110 12.5.3):
// it is never sent a body inflated on its behalf.
func (a *accept) acceptsAll(cs []coding) bool {
	if !a.present {
		return true
	}
	for _, c := range cs {
		if !a.accepts(c) {
			return false
		}
	}
	return true
}

// upstream returns the Accept-Encoding to send upstream: what the client
// accepts and the proxy decodes, best first; identity when there is none.
// Go's transport would otherwise add gzip for a client that asked for
// nothing and inflate it on the client's behalf.
func (a *accept) upstream() string {
	if !a.present {
		return "identity"
	}
	var names []string
	var qs []float64
	for _, d := range decodable {
		if a.accepts(d.c) {
			q := a.q[0]
			if a.named[d.c] {
				q = a.q[d.c]
			}
			i := len(qs)
			for i > 0 && qs[i-1] < q {
				i--
			}
			names, qs = slices.Insert(names, i, d.name), slices.Insert(qs, i, q)
		}
	}
	if len(names) == 0 {
		return "identity"
	}
	return strings.Join(names, ", ")
}

// Why an upstream body was cut, for leakguard_upstream_bodies_cut_total.
const (
	cutNone int32 = iota
	cutTimeout
	cutSize
	cutDecoded
	cutEncoding
)

var cutReasons = [...]string{cutTimeout: "timeout", cutSize: "size", cutDecoded: "decoded_size", cutEncoding: "encoding"}

var (
	errBodyTimeout  = errors.New("upstream body took longer than limits.upstream_body_timeout")
	errBodyTooLarge = errors.New("upstream body larger than limits.max_upstream_body_bytes")
	errBodyDecoded  = errors.New("upstream body decodes to more than limits.max_decoded_body_bytes")
	errBodyEncoding = errors.New("upstream answered in a content coding the proxy cannot decode")
)

// cutState is shared with the body timer's goroutine: it outlives the
// pooled exchange, which the timer must never touch.
type cutState struct{ reason atomic.Int32 }

func (c *cutState) set(r int32) { c.reason.CompareAndSwap(cutNone, r) }

// upstreamBody bounds the bytes read from the upstream.
type upstreamBody struct {
	rc  io.ReadCloser
	n   int64
	max int64
	cut *cutState
}

func (u *upstreamBody) Read(b []byte) (int, error) {
	if u.n >= u.max && u.max > 0 {
		u.cut.set(cutSize)
		return 0, errBodyTooLarge
	}
	if u.max > 0 && int64(len(b)) > u.max-u.n+1 {
		b = b[:u.max-u.n+1]
	}
	n, err := u.rc.Read(b)
	u.n += int64(n)
	if u.max > 0 && u.n > u.max {
		u.cut.set(cutSize)
		return n - int(u.n-u.max), errBodyTooLarge
	}
	if err != nil && err != io.EOF && u.cut.reason.Load() == cutTimeout {
		err = errBodyTimeout
	}
	return n, err
}

func (u *upstreamBody) Close() error { return u.rc.Close() }

// capped bounds what one decoding layer produces: a decompression bomb
// stops there, in memory and in time.
type capped struct {
	r   io.Reader
	n   int64
	max int64
	cut *cutState
}

func (c *capped) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.n > c.max {
		c.cut.set(cutDecoded)
		return n - int(c.n-c.max), errBodyDecoded
	}
	return n, err
}

// decoders pools the decoders that are costly to make, and counts the
// decoded bytes held whole for inspection (held.go).
type decoders struct {
	gzip sync.Pool
	zstd sync.Pool
	held heldBudget
}

// zstdWindow bounds a zstd frame's window, the memory a stream may claim.
const zstdWindow = 8 << 20

func (d *decoders) open(c coding, r io.Reader) (io.Reader, func(), error) {
	switch c {
	case codingGzip:
		zr, _ := d.gzip.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(r)
		} else {
			err = zr.Reset(r)
		}
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { d.gzip.Put(zr) }, nil
	case codingDeflate:
		// "deflate" is zlib (RFC 9110), but servers have long sent raw
		// deflate too; browsers take both, so a scraper could.
		br := bufio.NewReaderSize(r, 512)
		h, _ := br.Peek(2)
		if len(h) == 2 && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, nil, err
			}
			return zr, func() { zr.Close() }, nil
		}
		fr := flate.NewReader(br)
		return fr, func() { fr.Close() }, nil
	case codingBr:
		return brotli.NewReader(r), func() {}, nil
	case codingZstd:
		zr, _ := d.zstd.Get().(*zstd.Decoder)
		if zr == nil {
			var err error
			// One goroutine-free decoder a stream, with bounded windows.
			zr, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(zstdWindow), zstd.WithDecoderMaxMemory(64<<20))
			if err != nil {
				return nil, nil, err
			}
		}
		if err := zr.Reset(r); err != nil {
			d.zstd.Put(zr)
			return nil, nil, err
		}
		return zr, func() { zr.Reset(nil); d.zstd.Put(zr) }, nil
	}
	return nil, nil, errBodyEncoding
}

// body is what the client is sent: the upstream's bytes as they are, or
// decoded when the client does not accept the upstream's coding. Either
// way every byte passes the inspector, decoded, before the client has it,
// so what the client gets is what is counted, whatever its size.
type body struct {
	p       *Proxy
	x       *exchange
	up      io.ReadCloser
	codings []coding
	inspect bool
	decode  bool // the client is sent the decoded body

	dec     io.Reader
	closers []func()
	pending []byte // bytes for the client, not yet read
	off     int
	scratch []byte
	ended   bool // the coded stream ended; any trailing bytes pass as they are
	err     error

	held  int64              // capacity of x.buf counted in the proxy's heldBudget
	pii   *records.PIIStream // the personal-data scan of a streamed body
	upErr bool               // reading the upstream failed (not io.EOF)
}

// recorder is what the decoders read: the upstream's bytes, also kept
// for the client when it is sent them as they are.
type recorder struct{ b *body }

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.b.up.Read(p)
	if !r.b.decode {
		r.b.pending = append(r.b.pending, p[:n]...)
	}
	if err != nil && err != io.EOF {
		r.b.upErr = true
	}
	return n, err
}

func (b *body) Read(p []byte) (int, error) {
	if len(b.codings) == 0 {
		// Identity: inspect in place, no copies.
		n, err := b.up.Read(p)
		if b.inspect {
			b.feed(p[:n])
		}
		b.see(p[:n], err != nil)
		if err == io.EOF {
			b.x.complete = true
		}
		return n, err
	}
	for b.off == len(b.pending) && b.err == nil {
		b.pending, b.off = b.pending[:0], 0
		b.step()
	}
	if b.off < len(b.pending) {
		n := copy(p, b.pending[b.off:])
		b.off += n
		return n, nil
	}
	return 0, b.err
}

// step decodes the next piece, which also reads the next encoded bytes.
func (b *body) step() {
	if b.dec == nil {
		var r io.Reader = recorder{b}
		for i := len(b.codings) - 1; i >= 0; i-- {
			d, closer, err := b.p.dec.open(b.codings[i], r)
			if err != nil {
				b.fail(err)
				return
			}
			b.closers = append(b.closers, closer)
			r = &capped{r: d, max: b.p.o.MaxDecodedBodyBytes, cut: b.x.cut}
		}
		b.dec = r
		b.scratch = b.p.scratch.Get()
	}
	if !b.inspect && !b.decode && b.x.names == nil {
		// Decoded only for the page's names, which are noted: the rest
		// passes as it came (recorder keeps every byte read).
		b.ended = true
	}
	if b.ended {
		if b.decode {
			b.err = io.EOF
			return
		}
		if _, err := (recorder{b}).Read(b.scratch); err != nil {
			b.err = err
		}
		return
	}
	n, err := b.dec.Read(b.scratch)
	if n > 0 {
		if b.inspect {
			b.feed(b.scratch[:n])
		}
		if b.decode {
			b.pending = append(b.pending, b.scratch[:n]...)
		}
	}
	b.see(b.scratch[:n], err != nil)
	switch {
	case err == io.EOF:
		b.ended, b.x.complete = true, true
	case err != nil && !b.inspect && !b.decode:
		// A page decoded for its names alone that does not decode goes
		// on as it came, as it would have without the scan: the client
		// asked for its coding.
		b.ended = true
	case err != nil:
		b.fail(err)
	}
}

// see passes a piece of a served page to its scan for the items it names
// (exchange.names), and notes them once the scan ends: at the page's end,
// the scan's limit, or the body's Close, before the client has the page
// whole and asks about one of them.
func (b *body) see(piece []byte, end bool) {
	s := b.x.names
	if s == nil {
		return
	}
	s.Write(piece)
	if end || s.Done() {
		b.x.names = nil
		b.p.o.Detector.PageNamed(&b.x.actor, &s.Names)
	}
}

func (b *body) fail(err error) {
	// Cut by a limit, or by the upstream (a connection closed before the
	// Content-Length): incomplete; else the coded stream is broken.
	if b.x.cut.reason.Load() == cutNone && !errors.Is(err, errBodyDecoded) && !b.upErr {
		b.x.broken = true
		// ReverseProxy logs it as a read error during the body copy.
		err = fmt.Errorf("%w: %w", errBodyBroken, err)
	}
	b.err = err
}

// errBodyBroken heads the error of an upstream body that does not decode
// as its Content-Encoding says. The status is sent by then (ReverseProxy
// writes it before reading the body), so the client's connection is
// aborted: see docs/matching-and-bodies.md#upstream-body-limits.
var errBodyBroken = errors.New("upstream body does not decode as its Content-Encoding says; client connection aborted")

// skipPhonesUnchecked counts a streamed body with phone candidates past
// its allowance of validations that were not counted (records.PIIStream).
const skipPhonesUnchecked = "phones_unchecked"

func (b *body) Close() error {
	b.see(nil, true)
	for _, c := range b.closers {
		c()
	}
	b.closers = nil
	if b.scratch != nil {
		b.p.scratch.Put(b.scratch)
		b.scratch = nil
	}
	if b.pii != nil {
		// Before the exchange is observed: ReverseProxy closes the body
		// before it returns, whether the copy ended or failed.
		if b.pii.Close() > 0 {
			b.p.o.Metrics.skipped.WithLabelValues(skipPhonesUnchecked).Inc()
		}
		b.pii = nil
	}
	// x.buf is read once more when the exchange is observed, which follows
	// at once and waits on no client.
	b.p.dec.held.give(b.held)
	b.held = 0
	return b.up.Close()
}

// feed inspects the next piece of a decoded body. Up to MaxBodyBytes it is
// kept whole (one gjson pass at the end, the fast path) while the proxy's
// held budget has room; past that, or without room, it is inspected as it
// streams.
func (b *body) feed(piece []byte) {
	if len(piece) == 0 {
		return
	}
	x := b.x
	if x.stream == nil {
		if n := len(x.buf) + len(piece); int64(n) <= b.p.o.MaxBodyBytes && b.hold(n) {
			x.buf = append(x.buf, piece...)
			return
		}
		b.stream()
	}
	x.stream.Write(piece)
	if b.pii != nil {
		b.pii.Write(piece)
	}
}

// hold makes room for n bytes in x.buf, its whole capacity counted in the
// held budget; false when the budget has no room for it.
func (b *body) hold(n int) bool {
	x := b.x
	c := cap(x.buf)
	if n > c {
		c = int(min(int64(max(n, 2*c, 4096)), b.p.o.MaxBodyBytes))
	}
	if int64(c) > b.held {
		if !b.p.dec.held.take(int64(c)-b.held, !x.match.Matched()) {
			b.p.dec.held.full.Add(1)
			return false
		}
		b.held = int64(c)
	}
	if c > cap(x.buf) {
		buf := make([]byte, len(x.buf), c)
		copy(buf, x.buf)
		x.buf = buf
	}
	return true
}

// stream moves the body to the streaming path: what was kept is inspected
// and let go.
func (b *body) stream() {
	x, cat := b.x, b.p.o.Catalog
	x.stream = cat.BodyStream(&x.match, x.json, x.addStreamed)
	if x.scan {
		// The personal-data scan streams apart, with one allowance of
		// phone validations for the whole body.
		b.pii = cat.PIIStream(x.addStreamed)
	}
	if len(x.buf) > 0 {
		x.stream.Write(x.buf)
		if b.pii != nil {
			b.pii.Write(x.buf)
		}
	}
	x.buf = nil
	b.p.dec.held.give(b.held)
	b.held = 0
}

// addStreamed keeps a streamed body's records, repeats folded away now and
// then so a page listing one record a million times stays small.
func (x *exchange) addStreamed(f records.Found) {
	x.streamed = append(x.streamed, f)
	if len(x.streamed) >= max(x.compactAt, 4096) {
		x.compact()
	}
}

// compact sorts the streamed records and folds repeats: each record once
// a response, as the records metric counts them.
func (x *exchange) compact() {
	slices.SortFunc(x.streamed, func(a, b records.Found) int {
		if a.Entity != b.Entity {
			return a.Entity - b.Entity
		}
		return cmp.Compare(a.Hash, b.Hash)
	})
	x.streamed = slices.Compact(x.streamed)
	x.compactAt = 2 * len(x.streamed)
}

// overrideHeaders are the method-override headers frameworks honour
// (Symfony, Laravel, Express's method-override, Google's APIs).
var overrideHeaders = [...]string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}

// overrideMethod returns the method a request asks to be taken as, in an
// override header or a _method query parameter, or "".
func overrideMethod(r *http.Request) string {
	for _, h := range overrideHeaders {
		if v := r.Header.Get(h); v != "" {
			return strings.ToUpper(strings.TrimSpace(v))
		}
	}
	if strings.Contains(r.URL.RawQuery, "_method") {
		if v := r.URL.Query().Get("_method"); v != "" {
			return strings.ToUpper(strings.TrimSpace(v))
		}
	}
	return ""
}

// stripOverrides removes what overrideMethod reads from the upstream request.
func stripOverrides(r *http.Request) {
	for _, h := range overrideHeaders {
		r.Header.Del(h)
	}
	if strings.Contains(r.URL.RawQuery, "_method") {
		q := r.URL.Query()
		q.Del("_method")
		r.URL.RawQuery = q.Encode()
	}
}
