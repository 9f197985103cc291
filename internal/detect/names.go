package detect

import (
	"bytes"
	"strings"
)

// Names is the set of items (PathID) an HTML page named: the paths in its
// links, sources and data attributes. A session that landed on a page and
// asks first about an item no page it loaded named was not shown that
// item (id lineage): people who land on the home page ask about what it
// recommends, or open an item's page first.
type Names [4]uint64

// Add puts item pathID (1..256) in n.
func (n *Names) Add(pathID int) {
	if pathID < 1 || pathID > 256 {
		return
	}
	n[(pathID-1)>>6] |= 1 << ((pathID - 1) & 63)
}

// Has reports whether item pathID is in n (none in a nil n).
func (n *Names) Has(pathID int) bool {
	if n == nil || pathID < 1 || pathID > 256 {
		return false
	}
	return n[(pathID-1)>>6]&(1<<((pathID-1)&63)) != 0
}

// union adds o's items to n.
func (n *Names) union(o *Names) {
	for i, w := range o {
		n[i] |= w
	}
}

// Empty reports whether n names no item.
func (n *Names) Empty() bool { return *n == Names{} }

// Count is the number of items in n.
func (n *Names) Count() int {
	c := 0
	for _, w := range n {
		for ; w != 0; w &= w - 1 {
			c++
		}
	}
	return c
}

// NameScanner reads an HTML page as it streams and collects the items
// its quoted paths name (Names): href="/items/12", data-src="/api/items/12
// /reviews", a script's "/items/12". Only the first NameScanLimit bytes
// are read: what a page names past them is not seen, and a call about it
// is judged as one about an item the page did not name.
type NameScanner struct {
	Names Names
	read  int
	quote byte // the open quote, 0 none
	val   []byte
	long  bool // the open value outgrew maxNameValue
}

// NameScanLimit: the bytes of a page NameScanner reads.
const NameScanLimit = 512 << 10

// maxNameValue: a quoted value longer is no path of an item's.
const maxNameValue = 1024

// Done reports whether the scanner has read all it will.
func (s *NameScanner) Done() bool { return s.read >= NameScanLimit }

// Write scans the next piece of the page. It never fails.
func (s *NameScanner) Write(p []byte) (int, error) {
	n := len(p)
	if room := NameScanLimit - s.read; len(p) > room {
		p = p[:max(room, 0)]
	}
	s.read += len(p)
	for len(p) > 0 {
		if s.quote == 0 {
			i := bytes.IndexAny(p, `"'`)
			if i < 0 {
				break
			}
			s.quote, s.val, s.long = p[i], s.val[:0], false
			p = p[i+1:]
			continue
		}
		// The value ends at its quote. An apostrophe in text opened none:
		// a path has no '<', '>' or line break, and the tag that follows
		// is read as it should be.
		end := `"<>` + "\n"
		if s.quote == '\'' {
			end = `'<>` + "\n"
		}
		i := bytes.IndexAny(p, end)
		part := p
		if i >= 0 {
			part = p[:i]
		}
		if !s.long && len(s.val)+len(part) <= maxNameValue {
			s.val = append(s.val, part...)
		} else {
			s.long = true
		}
		if i < 0 {
			break
		}
		if p[i] == s.quote && !s.long {
			s.name(s.val)
		}
		s.quote = 0
		p = p[i+1:]
	}
	return n, nil
}

// name adds the item a quoted value names, if it is a path: absolute
// ("/items/12") or a URL's ("https://shop.example/items/12").
func (s *NameScanner) name(v []byte) {
	if bytes.IndexByte(v, '/') < 0 {
		return // most of a page's quoted values: classes, titles
	}
	path := string(v) // short: at most maxNameValue
	switch {
	case strings.HasPrefix(path, "//"):
		path = path[2:]
		fallthrough
	case strings.Contains(path, "://"):
		if i := strings.Index(path, "://"); i >= 0 {
			path = path[i+3:]
		}
		i := strings.IndexByte(path, '/')
		if i < 0 {
			return
		}
		path = path[i:]
	case !strings.HasPrefix(path, "/"):
		return
	}
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	s.Names.Add(PathID(path))
}
