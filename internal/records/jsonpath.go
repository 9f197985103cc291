package records

import (
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
			case len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
				name := in[1 : len(in)-1]
				if name == "" {
					return bad("empty name in ['']")
				}
				parts = append(parts, escapeGJSON(name))
			default:
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 {
					return bad(fmt.Sprintf("unsupported selector [%s]", in))
				}
				parts = append(parts, strconv.Itoa(n))
			}
		default:
			return bad(fmt.Sprintf("unexpected %q", rest[0]))
		}
	}
	p := strings.Join(parts, ".")
	if p == "" {
		p = "@this"
	}
	jp := &JSONPath{src: s, path: p}
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
func (p *JSONPath) EachSpan(doc []byte, fn func(value string, start, end int)) {
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
