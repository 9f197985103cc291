package records

// PIIStream scans a body for personal data as it streams past, as
// BodyRecords scans a whole body, with one allowance of phone
// validations for the whole body (MaxPhoneChecks; see phoneChecks): a
// page of a million distinct numbers costs what a page of a thousand
// does in libphonenumber, and the rest of it no more than the scan.
// Pieces are scanned where they lie; only what follows the last
// separator is copied, to wait for the next piece.
type PIIStream struct {
	s      *Scanner
	ent    *[numKinds]int
	emit   func(Found)
	work   []byte
	checks phoneChecks
}

// PIIStream returns a PIIStream that calls emit with each value found,
// or nil when the catalog scans for nothing.
func (c *Catalog) PIIStream(emit func(Found)) *PIIStream {
	if c.scanner == nil {
		return nil
	}
	return &PIIStream{s: c.scanner, ent: &c.piiEnt, emit: emit, checks: c.scanner.newChecks()}
}

// Write scans the next piece of the body.
func (p *PIIStream) Write(b []byte) {
	if len(p.work) > 0 {
		// The carried tail starts at a separator and holds no other: it
		// ends at b's first.
		i := 0
		for i < len(b) && !isSeparator(b[i]) {
			i++
		}
		p.work = append(p.work, b[:i]...)
		if i == len(b) {
			if len(p.work) >= maxCarry {
				p.flush() // no separator for 64 KiB: cut anywhere
			}
			return
		}
		p.flush()
		b = b[i:]
	}
	cut := lastSeparator(b)
	if cut < 0 {
		if len(b) >= maxCarry {
			p.scan(b)
			return
		}
		cut = 0
	}
	p.scan(b[:cut])
	p.work = append(p.work, b[cut:]...)
	if len(p.work) >= maxCarry {
		p.flush()
	}
}

// Close scans what is left and returns how many phone candidates past the
// body's allowance were neither validated nor counted.
func (p *PIIStream) Close() (unchecked int) {
	p.flush()
	p.work = nil
	return p.checks.unchecked
}

func (p *PIIStream) flush() {
	p.scan(p.work)
	p.work = p.work[:0]
}

func (p *PIIStream) scan(b []byte) {
	if len(b) == 0 {
		return
	}
	p.s.scan(b, &p.checks, func(k Kind, h uint64, _, _ int) { p.emit(Found{p.ent[k], h, 0}) })
}

// isSeparator is a byte lastSeparator cuts at.
func isSeparator(c byte) bool {
	switch c {
	case '"', '<', '>', '\n', '\r', '\t', ',', ':', '{', '}', '[', ']', '(', ')':
		return true
	}
	return false
}
