package records

import (
	"slices"
	"sync"

	"github.com/nyaruka/phonenumbers"

	"github.com/leakguard/leakguard/internal/keyed"
)

// Kind is a type of personal data the scanner recognises.
type Kind uint8

const (
	Phone Kind = iota
	Email
	CNID
	BankCard
	numKinds
)

var kindNames = [numKinds]string{"phone", "email", "cn_id", "bank_card"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// KindByName returns the Kind for a detector name from the config.
func KindByName(name string) (Kind, bool) {
	for i, n := range kindNames {
		if n == name {
			return Kind(i), true
		}
	}
	return 0, false
}

// Scanner finds personal data in raw bytes of any format. It is a single
// pass over the bytes that picks out candidates by shape (digit runs,
// addresses around an @) and validates them: resident IDs by check digit,
// bank cards by issuer prefix and Luhn, phone numbers by libphonenumber.
//
// libphonenumber costs ~6-15µs a number, so its verdicts are cached under the
// keyed hash of the candidate — the cache holds no raw number.
type Scanner struct {
	on      [numKinds]bool
	regions []string
	h       *keyed.Hasher
	domains [numKinds]uint64
	cache   [16]phoneShard
	lenient bool
	// cacheCap bounds each cache shard: phoneCacheShardCap, smaller in a
	// test that fills every shard (libphonenumber's parse, a few hundred
	// µs a number under the race detector, made the full size 40 s).
	cacheCap int
	// maxChecks is a body's allowance of libphonenumber validations
	// (MaxPhoneChecks; smaller in tests).
	maxChecks int
}

// MaxPhoneChecks bounds the phone numbers one body sends to
// libphonenumber when it is scanned with an allowance (phoneChecks): at
// 20-25µs a number, a 10 MB page of distinct numbers cost 3.8 s of CPU,
// and a body may decode to limits.max_decoded_body_bytes (1 GiB). 1024
// numbers are about 25 ms; a page of people rarely shows more.
const MaxPhoneChecks = 1024

// phoneChecks is one body's allowance of phone validations. Past it a
// candidate is settled without libphonenumber: a verdict already cached
// holds; a number in a plain form (+CC..., and a CN mobile 1[3-9]
// followed by 9 digits when CN is a region) counts unvalidated, hashed
// as its E.164 form, which is what validation gives a valid one (the
// Lenient rule), so a body carrying more numbers than the allowance still
// counts them; any other (a fixed line, another region's national form)
// is not counted, and is counted in unchecked.
type phoneChecks struct {
	left      int
	unchecked int
}

func (s *Scanner) newChecks() phoneChecks { return phoneChecks{left: s.maxChecks} }

// Lenient makes the scanner skip libphonenumber's validation for numbers
// whose E.164 form is plain (+CC..., and CN mobiles 1xxxxxxxxxx): it still
// hashes them as a validating scanner would, so a value found valid when
// served hashes the same when traced. For tracing dumps, where speed
// matters and an invalid number just finds no canary.
func (s *Scanner) Lenient() *Scanner { s.lenient = true; return s }

type phoneShard struct {
	mu sync.Mutex
	m  map[uint64]uint64 // candidate hash -> record hash, 0 if invalid
}

const phoneCacheShardCap = 8192

// NewScanner returns a scanner for the given kinds. regions are the phone
// regions whose national-format numbers are recognised (e.g. "CN");
// numbers written with + and a country code are recognised for any region.
// domains gives the hash domain of each kind's records.
func NewScanner(kinds []Kind, regions []string, h *keyed.Hasher, domains [numKinds]uint64) *Scanner {
	s := &Scanner{regions: regions, h: h, domains: domains, cacheCap: phoneCacheShardCap, maxChecks: MaxPhoneChecks}
	for _, k := range kinds {
		s.on[k] = true
	}
	for i := range s.cache {
		s.cache[i].m = make(map[uint64]uint64)
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// Scan calls fn with the kind and keyed record hash of every piece of personal
// data found in b. The same value found twice is reported twice.
func (s *Scanner) Scan(b []byte, fn func(k Kind, hash uint64)) {
	s.ScanSpans(b, func(k Kind, hash uint64, _, _ int) { fn(k, hash) })
}

// ScanSpans is Scan that also says where each value is: b[start:end].
func (s *Scanner) ScanSpans(b []byte, fn func(k Kind, hash uint64, start, end int)) {
	s.scan(b, nil, fn)
}

// scan is ScanSpans; with an allowance, at most checks.left phone numbers
// go to libphonenumber (phoneChecks says what becomes of the rest).
// Scan and ScanSpans validate every number: decoys and canaries must
// find each value, and a tracer must hash it as served.
func (s *Scanner) scan(b []byte, checks *phoneChecks, fn func(k Kind, hash uint64, start, end int)) {
	var digits [24]byte
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '@' && s.on[Email]:
			if v, st, en, ok := email(b, i); ok {
				fn(Email, s.h.Sum64(s.domains[Email], v), st, en)
			}
			i++
		case isDigit(c) || (c == '+' && i+1 < len(b) && isDigit(b[i+1])):
			st := i
			if i > 0 && (isAlnum(b[i-1]) || b[i-1] == '.' || b[i-1] == '+') {
				// inside a word, a decimal or a longer token: skip the whole run
				i++
				for i < len(b) && (isAlnum(b[i]) || b[i] == '.') {
					i++
				}
				continue
			}
			plus := c == '+'
			j := i
			if plus {
				j++
			}
			n := 0
			overflow := false
			for j < len(b) {
				if isDigit(b[j]) {
					if n < len(digits) {
						digits[n] = b[j]
					} else {
						overflow = true
					}
					n++
					j++
					continue
				}
				// a single separator between digits: '-' always, ' ' only in +numbers
				if (b[j] == '-' || (plus && b[j] == ' ')) && j+1 < len(b) && isDigit(b[j+1]) && isDigit(b[j-1]) {
					j++
					continue
				}
				break
			}
			end := j
			// resident IDs end in a check character that may be X
			x := false
			if !plus && n == 17 && end < len(b) && (b[end] == 'X' || b[end] == 'x') {
				x = true
				end++
			}
			if end < len(b) && (isAlnum(b[end]) || (b[end] == '.' && end+1 < len(b) && isDigit(b[end+1]))) {
				for end < len(b) && (isAlnum(b[end]) || b[end] == '.') {
					end++
				}
				i = end
				continue
			}
			i = end
			if overflow {
				continue
			}
			d := digits[:n]
			if !plus {
				if s.on[CNID] && (n == 18 || x) {
					id := digits[:18]
					if x {
						id[17] = 'X'
					}
					if ValidCNID(id) {
						fn(CNID, s.h.Sum64(s.domains[CNID], id), st, end)
						continue
					}
					if x {
						continue
					}
				}
				if s.on[BankCard] && ValidCard(d) {
					fn(BankCard, s.h.Sum64(s.domains[BankCard], d), st, end)
					continue
				}
			}
			if s.on[Phone] {
				if h, ok := s.phone(d, plus, checks); ok {
					fn(Phone, h, st, end)
				}
			}
		default:
			i++
		}
	}
}

// phone validates a digit run as a phone number and returns its record hash
// (of the E.164 form, so every way of writing a number is one record).
// c, if not nil, is the body's allowance of validations.
func (s *Scanner) phone(d []byte, plus bool, c *phoneChecks) (uint64, bool) {
	if s.lenient {
		if h, ok := s.plainPhone(d, plus); ok {
			return h, true
		}
	}
	if plus && (len(d) < 8 || len(d) > 15) {
		return 0, false
	}
	if c != nil && c.left <= 0 {
		return s.uncheckedPhone(d, plus, c)
	}
	if plus {
		return s.cachedPhone(d, "+", "ZZ", c)
	}
	for _, region := range s.regions {
		if !plausibleNational(region, d) {
			continue
		}
		if h, ok := s.cachedPhone(d, "", region, c); ok {
			return h, true
		}
	}
	return 0, false
}

// plainPhone hashes a number whose E.164 form is plain (+CC..., a CN
// mobile) as validation would hash it if valid, without validating it.
func (s *Scanner) plainPhone(d []byte, plus bool) (uint64, bool) {
	var buf [24]byte
	switch {
	case plus && len(d) >= 8 && len(d) <= 15:
		return s.h.Sum64(s.domains[Phone], append(append(buf[:0], '+'), d...)), true
	case !plus && len(d) == 11 && d[0] == '1' && d[1] >= '3' && slices.Contains(s.regions, "CN"):
		return s.h.Sum64(s.domains[Phone], append(append(buf[:0], "+86"...), d...)), true
	}
	return 0, false
}

// uncheckedPhone settles a candidate past the body's allowance (see
// phoneChecks) without libphonenumber.
func (s *Scanner) uncheckedPhone(d []byte, plus bool, c *phoneChecks) (uint64, bool) {
	if plus {
		if rh, hit := s.cacheGet(s.cacheKey(d, "+", "ZZ")); hit {
			return rh, rh != 0
		}
		return s.plainPhone(d, true)
	}
	unknown, cnUnknown := false, false
	for _, region := range s.regions {
		if !plausibleNational(region, d) {
			continue
		}
		rh, hit := s.cacheGet(s.cacheKey(d, "", region))
		switch {
		case hit && rh != 0:
			return rh, true
		case !hit:
			unknown, cnUnknown = true, cnUnknown || region == "CN"
		}
	}
	if !unknown {
		return 0, false // no candidate, or known to be no number
	}
	if cnUnknown {
		if h, ok := s.plainPhone(d, false); ok {
			return h, true
		}
	}
	c.unchecked++
	return 0, false
}

// plausibleNational is a cheap shape filter applied before libphonenumber:
// most digit runs in JSON (ids, prices, timestamps) are not phone numbers.
func plausibleNational(region string, d []byte) bool {
	if region == "CN" {
		// mobiles: 11 digits from 13x-19x; fixed lines: 0 + area code + number
		return (len(d) == 11 && d[0] == '1' && d[1] >= '3') || (d[0] == '0' && len(d) >= 10 && len(d) <= 12)
	}
	return len(d) >= 9 && len(d) <= 12
}

// cacheKey is the phone cache's key of a candidate in a region: a
// keyed hash, so the cache holds no raw number.
func (s *Scanner) cacheKey(d []byte, prefix, region string) uint64 {
	var buf [40]byte
	key := append(append(append(buf[:0], region...), prefix...), d...)
	return s.h.Sum64(0x70686f6e65, key) // "phone": the cache's own domain
}

// cacheGet returns a cached verdict: the record hash, 0 if invalid.
func (s *Scanner) cacheGet(ch uint64) (uint64, bool) {
	sh := &s.cache[ch&15]
	sh.mu.Lock()
	rh, hit := sh.m[ch]
	sh.mu.Unlock()
	return rh, hit
}

func (s *Scanner) cachedPhone(d []byte, prefix, region string, c *phoneChecks) (uint64, bool) {
	ch := s.cacheKey(d, prefix, region)
	if rh, hit := s.cacheGet(ch); hit {
		return rh, rh != 0
	}
	if c != nil {
		c.left--
	}
	var rh uint64
	num, err := phonenumbers.Parse(prefix+string(d), region)
	if err == nil && phonenumbers.IsValidNumber(num) {
		e164 := phonenumbers.Format(num, phonenumbers.E164)
		rh = s.h.String(s.domains[Phone], e164)
		if rh == 0 {
			rh = 1
		}
	}
	sh := &s.cache[ch&15]
	sh.mu.Lock()
	if len(sh.m) >= s.cacheCap {
		clear(sh.m) // bounded: start over rather than grow
	}
	sh.m[ch] = rh
	sh.mu.Unlock()
	return rh, rh != 0
}

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// CNIDCheck is the ISO 7064 MOD 11-2 check character of a resident ID's
// first 17 digits.
func CNIDCheck(id17 []byte) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(id17[i]-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11]
}

// ValidCNID checks an 18-character mainland resident identity number
// (GB 11643-1999): area code, a plausible birth date and the ISO 7064
// MOD 11-2 check character.
func ValidCNID(id []byte) bool {
	if len(id) != 18 || id[0] < '1' || id[0] > '8' {
		return false
	}
	for i := 0; i < 17; i++ {
		if !isDigit(id[i]) {
			return false
		}
	}
	year := atoi(id[6:10])
	month := atoi(id[10:12])
	day := atoi(id[12:14])
	if year < 1900 || year > 2100 || month < 1 || month > 12 || day < 1 || day > 31 {
		return false
	}
	want := CNIDCheck(id[:17])
	last := id[17]
	if last == 'x' {
		last = 'X'
	}
	return last == want
}

func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}

// ValidCard reports whether d is a payment card number: a known issuer
// prefix with a length that issuer uses, and a correct Luhn check digit.
// The prefix test matters: one random digit string in ten passes Luhn alone.
func ValidCard(d []byte) bool {
	n := len(d)
	if n < 13 || n > 19 {
		return false
	}
	p2 := atoi(d[:2])
	p4 := atoi(d[:4])
	ok := false
	switch {
	case d[0] == '4': // Visa
		ok = n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		ok = n == 16
	case p2 == 34 || p2 == 37: // American Express
		ok = n == 15
	case p2 == 62: // UnionPay
		ok = n >= 16
	case p4 >= 3528 && p4 <= 3589: // JCB
		ok = n >= 16
	case p4 == 6011, p2 == 65, p4 >= 6440 && p4 <= 6499: // Discover
		ok = n >= 16
	case p2 == 36 || p2 == 38 || (p2 == 30 && d[2] <= '5'): // Diners
		ok = n == 14
	}
	return ok && luhn(d)
}

func luhn(d []byte) bool {
	return len(d) > 1 && LuhnDigit(d[:len(d)-1]) == d[len(d)-1]
}

// LuhnDigit is the check digit that makes digits followed by it pass Luhn.
func LuhnDigit(digits []byte) byte {
	sum := 0
	double := true // the digit left of the check digit is doubled
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// email extracts and lower-cases the address around the @ at b[at].
func email(b []byte, at int) ([]byte, int, int, bool) {
	isLocal := func(c byte) bool {
		return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
	}
	isDomain := func(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }
	start := at
	for start > 0 && isLocal(b[start-1]) && at-start < 64 {
		start--
	}
	for start < at && (b[start] == '.' || b[start] == '+' || b[start] == '-') {
		start++
	}
	end := at + 1
	for end < len(b) && isDomain(b[end]) && end-at < 255 {
		end++
	}
	for end > at+1 && (b[end-1] == '.' || b[end-1] == '-') {
		end--
	}
	if start == at || end <= at+1 {
		return nil, 0, 0, false
	}
	dom := b[at+1 : end]
	dot := -1
	for i, c := range dom {
		if c == '.' {
			if i == 0 || dom[i-1] == '.' {
				return nil, 0, 0, false
			}
			dot = i
		}
	}
	if dot < 0 {
		return nil, 0, 0, false
	}
	tld := dom[dot+1:]
	if len(tld) < 2 {
		return nil, 0, 0, false
	}
	for _, c := range tld {
		if !isAlpha(c) {
			return nil, 0, 0, false
		}
	}
	out := make([]byte, end-start)
	for i, c := range b[start:end] {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out, start, end, true
}
