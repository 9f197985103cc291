package records

import (
	"fmt"
	"hash/fnv"
	"path"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/leakguard/leakguard/internal/keyed"
)

// Found is one record served: its entity and keyed hash, and for a
// decimal id the item it names as a path would (Item).
type Found struct {
	Entity int
	Hash   uint64
	// Item: 1 + the id's low byte when the record's value is a decimal
	// number, as detect.PathID reads a path's id; 0 otherwise. Not the
	// value: 256 buckets, against which a session's later calls are
	// judged as about what it was shown or not (id lineage).
	Item uint16
}

// Item is what Found.Item holds for value v: 1 + its low byte when v is
// a decimal number of 1 to 18 digits, else 0.
func Item(v string) uint16 {
	if len(v) == 0 || len(v) > 18 {
		return 0
	}
	n := 0
	for j := 0; j < len(v); j++ {
		if v[j] < '0' || v[j] > '9' {
			return 0
		}
		n = n*10 + int(v[j]-'0')
	}
	return uint16(1 + n&0xff)
}

// RouteSpec says where one configured route's records are.
type RouteSpec struct {
	Route  string // "GET /api/users/{id}"
	Entity string
	Param  string // path parameter naming the record; "" = the last one; ignored when Body is set and the route has none
	Body   string // JSONPath into the response, optional
	// Lookup names the query parameter a lookup route finds a record by
	// (e.g. phone for GET /api/lookup?phone=...), optional.
	Lookup string
	// Exclude: path patterns (path.Match) the route does not match; a
	// pattern without a slash is tried on the last segment.
	Exclude []string
	// Methods, if any, are the only methods that count (see Route.Restrict).
	Methods []string
	// CaseSensitive: literal segments match only in the case written.
	CaseSensitive bool
}

// Spec is what a Catalog is built from.
type Spec struct {
	Routes       []RouteSpec
	PII          []string // detector names
	PhoneRegions []string
	// ScanAll runs the PII scan on every text-like response, not only record routes.
	ScanAll bool
}

type route struct {
	r       *Route
	name    string // r.String(), made once: analyze asks for it on every record line
	entity  int
	param   int // index into r.Params, or -1
	body    *JSONPath
	lookup  string
	exclude []string
}

// Catalog knows every entity and where its records appear.
type Catalog struct {
	entities []string
	domains  []uint64
	routes   []route
	scanner  *Scanner
	piiEnt   [numKinds]int
	scanAll  bool
	h        *keyed.Hasher
}

// NewCatalog compiles a Spec. Entities are numbered in order of first mention:
// routes first, then PII detectors.
func NewCatalog(spec Spec, h *keyed.Hasher) (*Catalog, error) {
	c := &Catalog{h: h, scanAll: spec.ScanAll}
	for _, rs := range spec.Routes {
		r, err := ParseRoute(rs.Route)
		if err != nil {
			return nil, err
		}
		if err := r.Restrict(rs.Methods); err != nil {
			return nil, err
		}
		r.CaseSensitive(rs.CaseSensitive)
		rt := route{r: r, entity: c.entity(rs.Entity), param: -1, lookup: rs.Lookup, exclude: rs.Exclude}
		for _, x := range rs.Exclude {
			if _, err := path.Match(x, ""); err != nil {
				return nil, fmt.Errorf("route %q: exclude %q: %w", rs.Route, x, err)
			}
		}
		if rs.Body != "" {
			if rt.body, err = ParseJSONPath(rs.Body); err != nil {
				return nil, err
			}
		}
		switch {
		case rs.Param != "":
			if rt.param = r.ParamIndex(rs.Param); rt.param < 0 {
				return nil, fmt.Errorf("route %q has no parameter {%s}", rs.Route, rs.Param)
			}
		case rs.Body == "" && len(r.Params) > 0:
			rt.param = len(r.Params) - 1
		case rs.Body == "":
			return nil, fmt.Errorf("route %q has neither a {param} nor a body path", rs.Route)
		}
		rt.name = r.String()
		c.routes = append(c.routes, rt)
	}
	var kinds []Kind
	var domains [numKinds]uint64
	for _, name := range spec.PII {
		k, ok := KindByName(name)
		if !ok {
			return nil, fmt.Errorf("unknown PII detector %q", name)
		}
		kinds = append(kinds, k)
		c.piiEnt[k] = c.entity(name)
		domains[k] = c.domains[c.piiEnt[k]]
	}
	if len(kinds) > 0 {
		c.scanner = NewScanner(kinds, spec.PhoneRegions, h, domains)
	}
	return c, nil
}

func (c *Catalog) entity(name string) int {
	for i, e := range c.entities {
		if e == name {
			return i
		}
	}
	f := fnv.New64a()
	f.Write([]byte(name))
	c.entities = append(c.entities, name)
	c.domains = append(c.domains, f.Sum64())
	return len(c.entities) - 1
}

// Entities returns entity names; a Found's Entity indexes this slice.
func (c *Catalog) Entities() []string { return c.entities }

// EntityIndex returns the index of a named entity, or -1.
func (c *Catalog) EntityIndex(name string) int {
	for i, e := range c.entities {
		if e == name {
			return i
		}
	}
	return -1
}

// RouteName returns the template of route i, for logs.
func (c *Catalog) RouteName(i int) string { return c.routes[i].name }

// Match is the result of matching a request against the catalog.
type Match struct {
	routes [4]int8 // matching route indexes; first n valid
	n      int8
	// path records, already hashed, one per matching route that takes one
	path [4]Found
	np   int8
	low  int16 // low 8 bits of a numeric path record id, else -1
}

// IDLow returns the low 8 bits of the request's numeric record id, or -1.
// Only these bits are kept (enough to see ids walked in order; 256 values
// cannot identify a record): the guard keeps no raw identifiers.
func (m *Match) IDLow() int { return int(m.low) }

// Routes returns how many routes matched.
func (m *Match) Matched() bool { return m.n > 0 }

// Route returns the first matched route index, or -1.
func (m *Match) Route() int {
	if m.n == 0 {
		return -1
	}
	return int(m.routes[0])
}

// Match finds the routes a request fits and hashes the records named by its path.
func (c *Catalog) Match(method, path string) Match {
	m := Match{low: -1}
	path = NormalizePath(path)
	for i := range c.routes {
		rt := &c.routes[i]
		val, ok := rt.r.match(method, path, rt.param)
		if !ok || excluded(rt.exclude, path) {
			continue
		}
		if int(m.n) < len(m.routes) {
			m.routes[m.n] = int8(i)
			m.n++
		}
		if rt.param >= 0 && val != "" && int(m.np) < len(m.path) {
			m.path[m.np] = Found{rt.entity, c.h.String(c.domains[rt.entity], val), Item(val)}
			m.np++
			if m.low < 0 {
				m.low = lowBits(val)
			}
		}
	}
	return m
}

// excluded reports whether p matches one of the patterns: on the whole
// path, or on its last segment for a pattern without a slash.
func excluded(patterns []string, p string) bool {
	if len(patterns) == 0 {
		return false
	}
	last := p[strings.LastIndexByte(p, '/')+1:]
	for _, x := range patterns {
		target := p
		if !strings.Contains(x, "/") {
			target = last
		}
		if ok, _ := path.Match(x, target); ok {
			return true
		}
	}
	return false
}

func lowBits(v string) int16 {
	if len(v) == 0 || len(v) > 18 {
		return -1
	}
	var n uint64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return -1
		}
		n = n*10 + uint64(v[i]-'0')
	}
	return int16(n & 0xff)
}

// BodyIDSpans calls fn with where each record identifier the matched
// routes' JSONPaths select lies in body (for decoys to replace them).
func (c *Catalog) BodyIDSpans(m *Match, body []byte, fn func(start, end int)) {
	for i := 0; i < int(m.n); i++ {
		if p := c.routes[m.routes[i]].body; p != nil {
			p.EachSpan(body, func(_ string, start, end int) {
				if start >= 0 && end <= len(body) {
					fn(start, end)
				}
			})
		}
	}
}

// LookupParam returns the query parameter the matched route looks a record
// up by, or "".
func (c *Catalog) LookupParam(m *Match) string {
	for i := 0; i < int(m.n); i++ {
		if l := c.routes[m.routes[i]].lookup; l != "" {
			return l
		}
	}
	return ""
}

// LookupHash returns the record hash of a looked-up value (a phone number,
// an email...) as the scanner would hash it in a response, or 0.
func (c *Catalog) LookupHash(value string) uint64 {
	if c.scanner == nil || value == "" || len(value) > 256 {
		return 0
	}
	var h uint64
	c.scanner.Scan([]byte(value), func(_ Kind, hash uint64) {
		if h == 0 {
			h = hash
		}
	})
	return h
}

// PathRecords appends the records named by the request path.
func (c *Catalog) PathRecords(m *Match, out []Found) []Found {
	return append(out, m.path[:m.np]...)
}

// BodyWant says whether a response body is worth buffering for inspection.
// On a record route the Content-Type is the upstream's word, not the
// client's, and a route's records are read whatever it says but for
// media no JSONPath or scanner can read: a download, an export, a reply
// with no type or an unregistered JSON type (application/x-json) took
// 4,800 phone numbers unread against a budget of 300 (a red team,
// 2026-12-02). Off a record route (scan_all_responses) the type decides.
func (c *Catalog) BodyWant(m *Match, contentType string) (json, scan bool) {
	for i := 0; i < int(m.n); i++ {
		if c.routes[m.routes[i]].body != nil {
			json = true
		}
	}
	switch {
	case m.n > 0:
		opaque := Opaque(contentType)
		json = json && !opaque
		scan = c.scanner != nil && !opaque
	case c.scanAll:
		scan = c.scanner != nil && TextLike(contentType)
	}
	return json, scan
}

// WantsJSON reports whether a matched route takes records from a JSON body.
func (c *Catalog) WantsJSON(m *Match) bool {
	for i := 0; i < int(m.n); i++ {
		if c.routes[m.routes[i]].body != nil {
			return true
		}
	}
	return false
}

// BodyOutcome says what inspection made of a body, for the skip counters.
type BodyOutcome uint8

const (
	BodyOK BodyOutcome = iota
	BodyMalformed
	// BodyPhonesUnchecked: read, but phone candidates past the body's
	// allowance of validations were left uncounted (phoneChecks).
	BodyPhonesUnchecked
)

// BodyRecords appends the records in a fully read body: JSONPath records of
// the matched routes (if json) and personal data found by the scanner (if scan).
func (c *Catalog) BodyRecords(m *Match, body []byte, json, scan bool, out []Found) ([]Found, BodyOutcome) {
	outcome := BodyOK
	if json {
		found := len(out)
		for i := 0; i < int(m.n); i++ {
			rt := &c.routes[m.routes[i]]
			if rt.body == nil {
				continue
			}
			dom := c.domains[rt.entity]
			rt.body.Each(body, func(v string) {
				out = append(out, Found{rt.entity, c.h.String(dom, v), Item(v)})
			})
		}
		// Validate only when nothing was found: one pass in the common case,
		// and records in a broken body were still served, so they count.
		if len(out) == found && !gjson.ValidBytes(body) {
			outcome = BodyMalformed
		}
	}
	if scan {
		// With the body's allowance of phone validations, as a streamed
		// body has: a 1 MB page of distinct numbers cost 0.45 s of CPU,
		// and 30 s at the largest max_body_bytes (found by a probe).
		checks := c.scanner.newChecks()
		c.scanner.scan(body, &checks, func(k Kind, h uint64, _, _ int) {
			out = append(out, Found{c.piiEnt[k], h, 0})
		})
		if checks.unchecked > 0 && outcome == BodyOK {
			outcome = BodyPhonesUnchecked
		}
	}
	return out, outcome
}

// mediaType returns the lower-case media type of a Content-Type without
// allocating in the common (already lower-case) case.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for i := 0; i < len(ct); i++ {
		if ct[i] >= 'A' && ct[i] <= 'Z' {
			return strings.ToLower(ct)
		}
	}
	return ct
}

// JSONLike reports whether a Content-Type is JSON.
func JSONLike(ct string) bool {
	mt := mediaType(ct)
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "application/x-ndjson"
}

// Opaque reports whether a Content-Type is media whose records no JSONPath
// or text scan can read (images, audio, video, fonts, documents, archives).
// An absent type, application/octet-stream and types not known here are
// not: they are what a JSON or text body is served as by mistake or on
// purpose.
func Opaque(ct string) bool {
	mt := mediaType(ct)
	for _, p := range []string{"image/", "audio/", "video/", "font/", "model/"} {
		if strings.HasPrefix(mt, p) {
			return true
		}
	}
	switch mt {
	case "application/pdf", "application/zip", "application/gzip", "application/x-gzip", "application/x-tar",
		"application/x-7z-compressed", "application/x-rar-compressed", "application/vnd.rar", "application/x-bzip2",
		"application/zstd", "application/wasm", "application/msword", "application/vnd.ms-excel",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/protobuf", "application/x-protobuf", "application/grpc", "application/ogg":
		return true
	}
	return false
}

// TextLike reports whether a Content-Type carries text worth scanning for personal data.
func TextLike(ct string) bool {
	mt := mediaType(ct)
	if mt == "" {
		return false
	}
	return strings.HasPrefix(mt, "text/") || JSONLike(ct) || strings.HasSuffix(mt, "+xml") ||
		mt == "application/xml" || mt == "application/javascript" || mt == "application/x-www-form-urlencoded"
}
