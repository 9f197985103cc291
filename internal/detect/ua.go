package detect

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"regexp"
	"strings"
	"sync"

	"github.com/coregx/ahocorasick"
)

// UAClass is what a User-Agent claims to be.
type UAClass uint8

const (
	UABrowser    UAClass = iota // a browser (Mozilla/... and no bot pattern)
	UAOther                     // anything else: apps, unknown clients
	UAAutomation                // a scraping library, headless browser, scanner, or no User-Agent
	UASearchBot                 // claims to be a search engine's crawler (verify before trusting)
)

var uaNames = [...]string{"browser", "other", "automation", "search-bot"}

func (c UAClass) String() string { return uaNames[c] }

// The lists are data maintained by others, used as they are (see
// data/PROVENANCE): monperrus/crawler-user-agents (MIT) and the bad user
// agent list from crowdsecurity/sec-lists (MIT, Mitchell Krog).
var (
	//go:embed data/crawler-user-agents.json
	crawlerJSON []byte
	//go:embed data/bad_user_agents.txt
	badUAs []byte
)

// UAClassifier sorts User-Agent strings into classes with the lists above.
// Nearly all patterns are literals (some escaped or anchored with ^): they
// go into one Aho-Corasick automaton over the lower-cased string, one pass
// whatever the number of patterns. The 25 true regular expressions run one
// by one (an alternation of them is 50x slower in RE2). Verdicts are
// cached by a hash of the string.
type UAClassifier struct {
	ac       *ahocorasick.Automaton
	isSearch []bool    // by automaton pattern ID
	prefixes []prefix  // ^-anchored literals
	regexps  []pattern // the few true regular expressions, each on its own (an alternation of them is 50x slower in RE2)
	mu       sync.Mutex
	cache    map[uint64]UAClass
	seed     maphash.Seed
}

type prefix struct {
	s      string
	search bool
}

type pattern struct {
	re     *regexp.Regexp
	search bool
}

const uaCacheCap = 65536

// literal returns the literal text of a pattern that is one (after
// unescaping punctuation), and whether it is anchored at the start.
func literal(p string) (string, bool, bool) {
	anchored := strings.HasPrefix(p, "^")
	p = strings.TrimPrefix(p, "^")
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) && !isAlnum(p[i+1]) {
			b.WriteByte(p[i+1])
			i++
			continue
		}
		if strings.IndexByte(`[](){}.*+?^$|\`, c) >= 0 {
			return "", false, false
		}
		b.WriteByte(c)
	}
	return strings.ToLower(b.String()), anchored, true
}

func lowerPattern(p string) string {
	b := []byte(p)
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' {
			i++ // keep \d, \S, \w as they are
			continue
		}
		if b[i] >= 'A' && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// NewUAClassifier compiles the embedded lists.
func NewUAClassifier() (*UAClassifier, error) {
	var entries []struct {
		Pattern string   `json:"pattern"`
		Tags    []string `json:"tags"`
	}
	if err := json.Unmarshal(crawlerJSON, &entries); err != nil {
		return nil, fmt.Errorf("crawler-user-agents.json: %w", err)
	}
	c := &UAClassifier{cache: make(map[uint64]UAClass), seed: maphash.MakeSeed()}
	var lits []string
	litIndex := map[string]int{}
	add := func(p string, search bool) {
		if lit, anchored, ok := literal(p); ok {
			if anchored {
				c.prefixes = append(c.prefixes, prefix{lit, search})
			} else if i, dup := litIndex[lit]; dup {
				// A literal in both lists (or twice in one) is one
				// pattern; its last occurrence decides whether it is a
				// search bot's, as it did with the automaton used before.
				c.isSearch[i] = search
			} else if lit != "" {
				litIndex[lit] = len(lits)
				lits = append(lits, lit)
				c.isSearch = append(c.isSearch, search)
			}
			return
		}
		// Lower-case the pattern (not its escapes) and match the lower-cased
		// string: 10x faster than (?i), which defeats RE2's literal scans.
		re, err := regexp.Compile(lowerPattern(p))
		if err != nil {
			return // a pattern RE2 cannot take: skip it
		}
		c.regexps = append(c.regexps, pattern{re, search})
	}
	for _, e := range entries {
		search := false
		for _, t := range e.Tags {
			search = search || t == "search-engine"
		}
		add(e.Pattern, search)
	}
	sc := bufio.NewScanner(bytes.NewReader(badUAs))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			// The list escapes its spaces ("Black\ Hole"), as the nginx
			// map it comes from needs; taken as written, 56 of its
			// names could only match a backslash no User-Agent has.
			add(regexp.QuoteMeta(strings.ReplaceAll(line, `\ `, " ")), false)
		}
	}
	ac, err := ahocorasick.NewBuilder().AddStrings(lits).Build()
	if err != nil {
		return nil, fmt.Errorf("user-agent literals: %w", err)
	}
	c.ac = ac
	return c, nil
}

func (c *UAClassifier) classify(ua string) UAClass {
	lower := strings.ToLower(ua)
	search, auto := false, false
	for _, m := range c.ac.FindAllOverlapping([]byte(lower)) {
		if c.isSearch[m.PatternID] {
			search = true
			break
		}
		auto = true
	}
	for _, p := range c.prefixes {
		if strings.HasPrefix(lower, p.s) {
			search = search || p.search
			auto = auto || !p.search
		}
	}
	if !search {
		for _, p := range c.regexps {
			if (p.search || !auto) && p.re.MatchString(lower) {
				search = search || p.search
				auto = auto || !p.search
			}
		}
	}
	switch {
	case search:
		return UASearchBot
	case auto:
		return UAAutomation
	case strings.HasPrefix(ua, "Mozilla/"):
		return UABrowser
	}
	return UAOther
}

// Classify returns the class of a User-Agent.
func (c *UAClassifier) Classify(ua string) UAClass {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return UAAutomation
	}
	if len(ua) > 512 {
		ua = ua[:512]
	}
	// maphash, seeded per process: no copy of the string, and nobody
	// outside can make two User-Agents share a verdict.
	h := maphash.String(c.seed, ua)
	c.mu.Lock()
	v, ok := c.cache[h]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = c.classify(ua)
	c.mu.Lock()
	if len(c.cache) >= uaCacheCap {
		clear(c.cache) // rare; a hostile stream of fresh strings just recomputes
	}
	c.cache[h] = v
	c.mu.Unlock()
	return v
}
