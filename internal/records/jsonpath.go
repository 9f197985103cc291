package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// JSONPath is a compiled path to record identifiers in a JSON document. It
// accepts the common subset of RFC 9535 that configs need — $, .name,
// ['name'], [*] and [N] — and runs it with gjson, which queries the raw bytes
// without decoding the document into Go values.
type JSONPath struct {
	src  string
	path string // gjson syntax, for display and tests
	// segs are the gjson paths between [*] steps: each segment but the last
	// selects an array whose every element the next segment is applied to.
	// Walking arrays ourselves avoids gjson's building a new JSON array for
	// each "#" query.
	segs []string
	// sel is the same path as steps, for JSONStream.
	sel []step
}

// step is one selector: a name (which, like gjson, also indexes an array
// when it is a number), an index (which also names an object member), or
// [*].
type step struct {
	key string
	idx int // -1 when key is not a number
	any bool
}

func nameStep(name string) step {
	n, err := strconv.Atoi(name)
	if err != nil || n < 0 || strconv.Itoa(n) != name {
		n = -1
	}
	return step{key: name, idx: n}
}

// ParseJSONPath compiles a path such as "$.reviews[*].user.id".
func ParseJSONPath(s string) (*JSONPath, error) {
	bad := func(why string) (*JSONPath, error) {
		return nil, fmt.Errorf("JSONPath %q: %s (supported: $, .name, ['name'], [*], [N])", s, why)
	}
	if !strings.HasPrefix(s, "$") {
		return bad("must start with $")
	}
	var parts []string
	var sel []step
	rest := s[1:]
	for len(rest) > 0 {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			if strings.HasPrefix(rest, ".") {
				return bad("recursive descent (..) is not supported")
			}
			n := 0
			for n < len(rest) && rest[n] != '.' && rest[n] != '[' {
				n++
			}
			if n == 0 {
				return bad("empty name after .")
			}
			name := rest[:n]
			if name == "*" {
				return bad(".* is not supported; use [*] on arrays")
			}
			parts = append(parts, escapeGJSON(name))
			sel = append(sel, nameStep(name))
			rest = rest[n:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return bad("unclosed [")
			}
			in := strings.TrimSpace(rest[1:end])
			rest = rest[end+1:]
			switch {
			case in == "*":
				parts = append(parts, "#")
				sel = append(sel, step{idx: -1, any: true})
			case len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
				name := in[1 : len(in)-1]
				if name == "" {
					return bad("empty name in ['']")
				}
				parts = append(parts, escapeGJSON(name))
				sel = append(sel, nameStep(name))
			default:
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 {
					return bad(fmt.Sprintf("unsupported selector [%s]", in))
				}
				parts = append(parts, strconv.Itoa(n))
				sel = append(sel, step{key: strconv.Itoa(n), idx: n})
			}
		default:
			return bad(fmt.Sprintf("unexpected %q", rest[0]))
		}
	}
	p := strings.Join(parts, ".")
	if p == "" {
		p = "@this"
	}
	jp := &JSONPath{src: s, path: p, sel: sel}
	var cur []string
	for _, part := range parts {
		if part == "#" {
			jp.segs = append(jp.segs, strings.Join(cur, "."))
			cur = cur[:0]
			continue
		}
		cur = append(cur, part)
	}
	jp.segs = append(jp.segs, strings.Join(cur, "."))
	return jp, nil
}

func (p *JSONPath) String() string { return p.src }

// escapeGJSON escapes the characters gjson gives meaning to in a path.
func escapeGJSON(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '.', '*', '?', '|', '#', '@', '\\', '!', '=', '<', '>', '%', '(', ')', ',', '[', ']', '{', '}', ':', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Each calls fn with every scalar the path selects in doc, flattening arrays.
// Strings are given unquoted, numbers and booleans as written. Objects and
// nulls are skipped. It never fails: on malformed JSON it finds what it can.
func (p *JSONPath) Each(doc []byte, fn func(value string)) {
	p.EachSpan(doc, func(v string, _, _ int) { fn(v) })
}

// EachSpan is Each that also says where each scalar's text is in doc:
// doc[start:end] (string contents without quotes). Values whose position
// gjson cannot give, or strings with escapes, come with start -1.
//
// An NDJSON body (a first line that is a document of its own, and more
// lines after it) is read line by line, as the streaming path reads it:
// gjson alone reads its first document, and a page of ten lines counted
// one line's records (a red team, 2026-12-02).
func (p *JSONPath) EachSpan(doc []byte, fn func(value string, start, end int)) {
	if !ndjson(doc) {
		p.eachSpan(doc, fn)
		return
	}
	for off := 0; off < len(doc); {
		line := doc[off:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		}
		if len(bytes.TrimSpace(line)) > 0 {
			base := off
			p.eachSpan(line, func(v string, start, end int) {
				if start >= 0 {
					start, end = start+base, end+base
				}
				fn(v, start, end)
			})
		}
		off += len(line)
	}
}

// ndjson reports whether doc is newline-delimited JSON: its first line a
// valid document, and more than white space after it. A document printed
// over several lines opens with a line that is not one ("{").
func ndjson(doc []byte) bool {
	i := bytes.IndexByte(doc, '\n')
	if i < 0 || len(bytes.TrimSpace(doc[i+1:])) == 0 {
		return false
	}
	first := bytes.TrimSpace(doc[:i])
	return len(first) > 0 && (first[0] == '{' || first[0] == '[') && gjson.ValidBytes(first)
}

func (p *JSONPath) eachSpan(doc []byte, fn func(value string, start, end int)) {
	var root gjson.Result
	if p.segs[0] == "" {
		root = gjson.ParseBytes(doc)
	} else {
		root = gjson.GetBytes(doc, p.segs[0])
	}
	walkSpan(root, p.segs[1:], fn, 0)
}

func walkSpan(r gjson.Result, segs []string, fn func(string, int, int), depth int) {
	if len(segs) == 0 {
		eachSpan(r, fn, depth)
		return
	}
	if !r.IsArray() || depth > 32 {
		return
	}
	next := segs[0]
	r.ForEach(func(_, v gjson.Result) bool {
		if next != "" {
			v = v.Get(next)
		}
		walkSpan(v, segs[1:], fn, depth+1)
		return true
	})
}

func eachSpan(r gjson.Result, fn func(string, int, int), depth int) {
	switch r.Type {
	case gjson.String:
		if r.Str == "" {
			return
		}
		if r.Index > 0 && len(r.Raw) == len(r.Str)+2 {
			fn(r.Str, r.Index+1, r.Index+1+len(r.Str))
		} else {
			fn(r.Str, -1, -1)
		}
	case gjson.Number:
		if r.Index > 0 {
			fn(r.Raw, r.Index, r.Index+len(r.Raw))
		} else {
			fn(r.Raw, -1, -1)
		}
	case gjson.True, gjson.False:
		fn(r.Raw, -1, -1)
	case gjson.JSON:
		if depth > 32 || !r.IsArray() {
			return
		}
		r.ForEach(func(_, v gjson.Result) bool {
			eachSpan(v, fn, depth+1)
			return true
		})
	}
}

// JSONStream finds what a JSONPath selects in a document given in pieces,
// holding only the nesting stack and the value being read, so a body of
// any size is inspected in bounded memory. It selects what Each selects
// on the whole document and more where gjson stops early: every member of
// a duplicated key, and every value of an NDJSON stream.
type JSONStream struct {
	sel []step
	fn  func(value string)

	stack []frame
	state uint8
	valAt int // selectors consumed on the way to the value about to start
	// the scalar or key being read: kept only when it is wanted
	tok    []byte
	keep   bool
	esc    bool
	isKey  bool
	seen   bool // a whole top-level value was read
	failed bool
}

type frame struct {
	array bool
	at    int // selectors consumed to reach this container; -1: off the path
	index int // arrays: the element being read
	child int // objects: selectors consumed by the current member's value
}

// Bounds on what a hostile document can make the stream hold.
const (
	maxStreamDepth = 1024
	maxValueBytes  = 64 << 10
)

const (
	jsValue = iota
	jsKeyOrEnd
	jsKey
	jsColon
	jsValueOrEnd
	jsAfter
	jsString
	jsScalar
)

// Stream returns a JSONStream calling fn with each selected scalar, as Each does.
func (p *JSONPath) Stream(fn func(value string)) *JSONStream {
	return &JSONStream{sel: p.sel, fn: fn, state: jsValue}
}

// Failed reports whether the document broke off or broke JSON's grammar.
// What was selected before that point was still reported.
func (s *JSONStream) Failed() bool { return s.failed }

// Complete reports whether at least one whole value was read and nothing
// is left open.
func (s *JSONStream) Complete() bool {
	return s.seen && !s.failed && len(s.stack) == 0 && (s.state == jsAfter || s.state == jsValue)
}

// Close ends the document: a number at its very end is complete.
func (s *JSONStream) Close() {
	if s.state == jsScalar && !s.failed {
		s.endScalar()
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// Write feeds the next piece of the document. It never fails: after a
// syntax error it ignores the rest.
func (s *JSONStream) Write(b []byte) {
	for i := 0; i < len(b) && !s.failed; {
		c := b[i]
		switch s.state {
		case jsString:
			if !s.keep && !s.esc {
				// fast path: skip to the next quote or backslash
				j := i
				for j < len(b) && b[j] != '"' && b[j] != '\\' {
					j++
				}
				i = j
				if i == len(b) {
					return
				}
				c = b[i]
			}
			switch {
			case s.esc:
				s.esc = false
			case c == '\\':
				s.esc = true
			case c == '"':
				i++
				s.endString()
				continue
			}
			if s.keep {
				if len(s.tok) < maxValueBytes {
					s.tok = append(s.tok, c)
				} else if s.isKey {
					s.keep = false // longer than any name it could match
				}
			}
			i++
		case jsScalar:
			if isSpace(c) || c == ',' || c == ']' || c == '}' {
				s.endScalar()
				continue // the delimiter is read in jsAfter
			}
			if len(s.tok) < maxValueBytes { // kept or not: it is validated
				s.tok = append(s.tok, c)
			}
			i++
		default:
			if isSpace(c) {
				i++
				continue
			}
			s.structural(c)
			i++
		}
	}
}

func (s *JSONStream) fail() { s.failed = true }

// structural handles a non-space byte outside strings and scalars.
func (s *JSONStream) structural(c byte) {
	switch s.state {
	case jsValue:
		s.startValue(c)
	case jsValueOrEnd:
		if c == ']' {
			s.pop(true)
			return
		}
		s.startValue(c)
	case jsKeyOrEnd, jsKey:
		switch {
		case c == '}' && s.state == jsKeyOrEnd:
			s.pop(false)
		case c == '"':
			top := &s.stack[len(s.stack)-1]
			s.isKey, s.esc, s.tok = true, false, s.tok[:0]
			// a name is worth reading only where the path names members
			s.keep = top.at >= 0 && top.at < len(s.sel) && !s.sel[top.at].any
			s.state = jsString
		default:
			s.fail()
		}
	case jsColon:
		if c != ':' {
			s.fail()
			return
		}
		s.valAt = s.stack[len(s.stack)-1].child
		s.state = jsValue
	case jsAfter:
		if len(s.stack) == 0 {
			s.startValue(c) // the next value of an NDJSON stream
			return
		}
		top := &s.stack[len(s.stack)-1]
		switch {
		case c == ',' && top.array:
			top.index++
			s.valAt = s.elementAt(top)
			s.state = jsValue
		case c == ',':
			s.state = jsKey
		case c == ']' && top.array, c == '}' && !top.array:
			s.pop(top.array)
		default:
			s.fail()
		}
	}
}

// elementAt is how many selectors the current element of array f consumes.
func (s *JSONStream) elementAt(f *frame) int {
	switch {
	case f.at < 0:
		return -1
	case f.at == len(s.sel):
		return f.at // the selected array is flattened
	}
	if st := s.sel[f.at]; st.any || st.idx == f.index {
		return f.at + 1
	}
	return -1
}

func (s *JSONStream) startValue(c byte) {
	if len(s.stack) == 0 {
		s.valAt = 0 // a document, or the next one of an NDJSON stream
	}
	at := s.valAt
	switch {
	case c == '{' || c == '[':
		if len(s.stack) >= maxStreamDepth {
			s.fail()
			return
		}
		if at == len(s.sel) && c == '{' {
			at = -1 // objects are not identifiers
		}
		s.stack = append(s.stack, frame{array: c == '[', at: at, child: -1})
		if c == '[' {
			s.valAt = s.elementAt(&s.stack[len(s.stack)-1])
			s.state = jsValueOrEnd
		} else {
			s.state = jsKeyOrEnd
		}
	case c == '"':
		s.isKey, s.esc, s.tok = false, false, s.tok[:0]
		s.keep = at == len(s.sel)
		s.state = jsString
	case c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n':
		s.keep = at == len(s.sel) && c != 'n'
		s.tok = append(s.tok[:0], c)
		s.state = jsScalar
	default:
		s.fail()
	}
}

func (s *JSONStream) pop(array bool) {
	top := s.stack[len(s.stack)-1]
	if top.array != array {
		s.fail()
		return
	}
	s.stack = s.stack[:len(s.stack)-1]
	s.endValue()
}

// endValue moves past a complete value.
func (s *JSONStream) endValue() {
	s.state = jsAfter
	if len(s.stack) == 0 {
		s.seen = true
	}
}

func (s *JSONStream) endScalar() {
	t := s.tok
	if !validScalar(t) {
		s.fail()
		return
	}
	if s.keep && t[0] != 'n' {
		s.fn(string(t))
	}
	s.keep = false
	s.endValue()
}

func validScalar(t []byte) bool {
	switch t[0] {
	case 't':
		return string(t) == "true"
	case 'f':
		return string(t) == "false"
	case 'n':
		return string(t) == "null"
	}
	for _, c := range t {
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return false
		}
	}
	return true
}

func (s *JSONStream) endString() {
	if s.isKey {
		top := &s.stack[len(s.stack)-1]
		top.child = -1
		switch {
		case top.at < 0 || top.at == len(s.sel):
		case s.keep && unescape(s.tok) == s.sel[top.at].key:
			top.child = top.at + 1
		}
		s.keep = false
		s.state = jsColon
		return
	}
	if s.keep && len(s.tok) > 0 {
		s.fn(unescape(s.tok))
	}
	s.keep = false
	s.endValue()
}

// unescape decodes a JSON string's contents as gjson does; escapes are
// rare in identifiers, so the common case is a plain copy.
func unescape(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var v string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	if json.Unmarshal(q, &v) != nil {
		return string(raw)
	}
	return v
}

// BodyStream inspects a response body as it streams past for the JSONPath
// records of the matched routes, as BodyRecords does on a whole body, in
// memory that does not grow with the body. The personal data in it is
// PIIStream's: it scans with the body's allowance of phone validations.
// (BodyStream's own scan carried a body with no separator but one whole,
// in quadratic time: 4.6 MB after a 4 MiB string.)
type BodyStream struct {
	json  []*JSONStream
	found bool
}

// maxCarry bounds what waits for a separator: past it the scan cuts
// anywhere (a run of 64 KiB without a quote, comma or newline is no
// phone number or address).
const maxCarry = 64 << 10

// BodyStream returns a BodyStream that calls emit with each record found.
func (c *Catalog) BodyStream(m *Match, json bool, emit func(Found)) *BodyStream {
	b := &BodyStream{}
	if json {
		for i := 0; i < int(m.n); i++ {
			rt := &c.routes[m.routes[i]]
			if rt.body == nil {
				continue
			}
			ent, dom := rt.entity, c.domains[rt.entity]
			b.json = append(b.json, rt.body.Stream(func(v string) {
				b.found = true
				emit(Found{ent, c.h.String(dom, v), Item(v)})
			}))
		}
	}
	return b
}

// Write inspects the next piece of the body.
func (b *BodyStream) Write(p []byte) {
	for _, j := range b.json {
		j.Write(p)
	}
}

// Close inspects what is left and says whether the JSON was malformed
// (only when it yielded nothing, as BodyRecords).
func (b *BodyStream) Close() BodyOutcome {
	for _, j := range b.json {
		j.Close()
	}
	if !b.found {
		for _, j := range b.json {
			if !j.Complete() {
				return BodyMalformed
			}
		}
	}
	return BodyOK
}

// lastSeparator returns the index of the last byte that the scanner never
// reads as part of a value, or -1. Scanning up to it and then from it is
// scanning the whole: the scanner's look-behind at the next piece's
// start sees that same byte.
func lastSeparator(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		switch b[i] {
		case '"', '<', '>', '\n', '\r', '\t', ',', ':', '{', '}', '[', ']', '(', ')':
			return i
		}
	}
	return -1
}
