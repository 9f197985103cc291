package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/records"
)

// Classifier finds personal data in sampled values with the proxy's own
// detectors (phone numbers by libphonenumber, emails, CN resident IDs by
// check digit, bank cards by issuer and Luhn) plus hints from field names.
type Classifier struct {
	scan *records.Scanner
}

// NewClassifier returns a classifier recognising national-format phone
// numbers of regions (e.g. "CN") and international ones of any region.
func NewClassifier(regions []string) *Classifier {
	// The scanner hashes what it finds; the audit keeps no hashes, so a
	// throwaway key does.
	key := make([]byte, 16)
	rand.Read(key)
	all := []records.Kind{records.Phone, records.Email, records.CNID, records.BankCard}
	var domains [4]uint64
	return &Classifier{scan: records.NewScanner(all, regions, keyed.New(key), domains)}
}

// KV is one sampled field value; Name is a dotted path for nested data.
type KV struct {
	Name, Value string
}

// Collection is one index, table or key pattern and what its sample held.
type Collection struct {
	Name       string `json:"name"`
	Count      int64  `json:"count"`
	CountExact bool   `json:"count_exact"`
	Sampled    int    `json:"sampled"`
	WithPII    int    `json:"sampled_with_pii"`
	// RecordsAtRisk is Count × WithPII/Sampled: the personal records the
	// collection is estimated to hold.
	RecordsAtRisk int64   `json:"records_at_risk"`
	Fields        []Field `json:"fields,omitempty"`
	Note          string  `json:"note,omitempty"`

	acc   map[string]*fieldAcc
	order []string
}

// Field is a field that holds, or is named for, personal data.
type Field struct {
	Name  string   `json:"name"`
	Types []string `json:"types"`
	// Confidence: "high" when most sampled values validate as the type,
	// "medium" when some do (or an address field has values), "low" for a
	// name hint alone.
	Confidence string `json:"confidence"`
	Matched    int    `json:"matched"`
	NonEmpty   int    `json:"non_empty"`
	// Example is one sampled value, masked (138****5678).
	Example string `json:"example,omitempty"`
}

type fieldAcc struct {
	hint     string
	nonEmpty int
	matched  int
	kinds    map[string]int
	example  string
}

// NewCollection starts a collection of count items (exact or estimated).
func NewCollection(name string, count int64, exact bool) Collection {
	return Collection{Name: name, Count: count, CountExact: exact}
}

// Declare registers fields known from a schema (a mapping, a table's
// columns), so fields named for personal data are reported even when the
// sample holds no values for them.
func (c *Collection) Declare(names ...string) {
	for _, n := range names {
		c.field(n)
	}
}

func (c *Collection) field(name string) *fieldAcc {
	if c.acc == nil {
		c.acc = map[string]*fieldAcc{}
	}
	a := c.acc[name]
	if a == nil {
		a = &fieldAcc{hint: NameHint(name), kinds: map[string]int{}}
		c.acc[name] = a
		c.order = append(c.order, name)
	}
	return a
}

// AddRow classifies one sampled row, document or value.
func (cl *Classifier) AddRow(c *Collection, row []KV) {
	c.Sampled++
	personal := false
	for _, kv := range row {
		a := c.field(kv.Name)
		v := strings.TrimSpace(kv.Value)
		if v == "" || v == "null" {
			continue
		}
		a.nonEmpty++
		found := cl.Kinds(v)
		if len(found) > 0 {
			a.matched++
			for _, k := range found {
				a.kinds[k]++
			}
			personal = true
			if a.example == "" {
				a.example = Mask(v)
			}
		} else if a.hint != "" && a.example == "" && a.matched == 0 && a.hint != "name" {
			a.example = Mask(v)
		}
		// Addresses cannot be validated; a filled field named for one is
		// personal data. A "name" alone is not (products have names too).
		if a.hint == "address" || a.hint == "national_id" {
			personal = true
		}
	}
	if personal {
		c.WithPII++
	}
}

// Kinds returns the personal-data types found in v.
func (cl *Classifier) Kinds(v string) []string {
	var out []string
	cl.scan.Scan([]byte(v), func(k records.Kind, _ uint64) {
		n := k.String()
		for _, o := range out {
			if o == n {
				return
			}
		}
		out = append(out, n)
	})
	return out
}

func (c *Collection) finish() {
	if c.acc != nil {
		c.Fields = c.Fields[:0]
		for _, name := range c.order {
			a := c.acc[name]
			if a.matched == 0 && a.hint == "" {
				continue
			}
			f := Field{Name: name, Matched: a.matched, NonEmpty: a.nonEmpty, Example: a.example}
			for k := range a.kinds {
				f.Types = append(f.Types, k)
			}
			sort.Strings(f.Types)
			if a.hint != "" && !contains(f.Types, a.hint) {
				f.Types = append(f.Types, a.hint)
			}
			switch {
			case a.matched > 0 && a.matched*2 >= a.nonEmpty:
				f.Confidence = "high"
			case a.matched > 0, a.hint == "address" && a.nonEmpty > 0:
				f.Confidence = "medium"
			default:
				f.Confidence = "low"
			}
			if a.matched == 0 && a.nonEmpty == 0 {
				f.Confidence = "low"
			}
			c.Fields = append(c.Fields, f)
		}
	}
	if c.Sampled > 0 {
		c.RecordsAtRisk = int64(float64(c.Count)*float64(c.WithPII)/float64(c.Sampled) + 0.5)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// hints maps field-name tokens to the personal data they suggest.
var hints = map[string]string{
	"phone": "phone", "mobile": "phone", "tel": "phone", "telephone": "phone", "cellphone": "phone",
	"msisdn": "phone", "phonenumber": "phone", "mobileno": "phone", "cell": "phone",
	"email": "email", "mail": "email", "emailaddress": "email",
	"address": "address", "addr": "address", "street": "address", "postcode": "address", "zipcode": "address",
	"name": "name", "fullname": "name", "firstname": "name", "lastname": "name", "surname": "name",
	"realname": "name", "givenname": "name", "familyname": "name", "consignee": "name", "receiver": "name",
	"idcard": "national_id", "idno": "national_id", "sfz": "national_id", "ssn": "national_id",
	"passport": "national_id", "idnumber": "national_id", "nationalid": "national_id",
	"bankcard": "bank_card", "cardno": "bank_card", "iban": "bank_card", "cardnumber": "bank_card",
	"birthday": "birth_date", "dob": "birth_date", "birthdate": "birth_date",
}

var cjkHints = []struct{ sub, hint string }{
	{"手机", "phone"}, {"电话", "phone"}, {"邮箱", "email"}, {"地址", "address"},
	{"姓名", "name"}, {"身份证", "national_id"}, {"银行卡", "bank_card"}, {"生日", "birth_date"},
}

// NameHint returns the personal-data type a field's name suggests, or "".
// It looks at the last path segment, whole and split into words
// (snake_case, kebab-case, camelCase): "shipping.receiverPhone" → phone.
func NameHint(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSuffix(name, "[]")
	for _, h := range cjkHints {
		if strings.Contains(name, h.sub) {
			return h.hint
		}
	}
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			flush()
		}
		cur = append(cur, r)
		prevLower = unicode.IsLower(r)
	}
	flush()
	if h := hints[strings.Join(words, "")]; h != "" {
		return h
	}
	// The last word decides: "user_phone" is a phone, "phone_verified" is not.
	for i := len(words) - 1; i >= 0; i-- {
		if h := hints[words[i]]; h != "" {
			if i == len(words)-1 || (i == len(words)-2 && (words[i+1] == "no" || words[i+1] == "number" || words[i+1] == "num")) {
				return h
			}
		}
	}
	if len(words) >= 2 && words[len(words)-2] == "id" && (words[len(words)-1] == "card" || words[len(words)-1] == "no") {
		return "national_id"
	}
	return ""
}

// Mask hides a sampled value, keeping enough to recognise its shape:
// 13812345678 → 138****5678, alice@example.com → a***@example.com.
func Mask(v string) string {
	if at := strings.LastIndexByte(v, '@'); at > 0 && !strings.ContainsAny(v, " \t") {
		r, _ := utf8.DecodeRuneInString(v)
		return string(r) + "***" + v[at:]
	}
	rs := []rune(v)
	n := len(rs)
	switch {
	case n <= 1:
		return "*"
	case n <= 3:
		return string(rs[0]) + strings.Repeat("*", n-1)
	case n < 8:
		return string(rs[0]) + strings.Repeat("*", n-2) + string(rs[n-1])
	default:
		return string(rs[:3]) + "****" + string(rs[n-4:])
	}
}

// Flatten turns a JSON document into dotted-path values (array elements
// under their field's name), at most max values and depth 8, for classification.
func Flatten(doc []byte, max int) ([]KV, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber() // phone numbers stored as JSON numbers keep their digits
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return flatten("", v, nil, max, 0), nil
}

func flatten(prefix string, v any, out []KV, max, depth int) []KV {
	if len(out) >= max || depth > 8 {
		return out
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			out = flatten(name, x[k], out, max, depth+1)
		}
	case []any:
		for _, e := range x {
			out = flatten(prefix, e, out, max, depth+1) // arrays share their field's name, as in a mapping
		}
	case nil:
	case string:
		out = append(out, KV{prefix, x})
	case json.Number:
		out = append(out, KV{prefix, x.String()})
	default:
		out = append(out, KV{prefix, fmt.Sprint(x)})
	}
	return out
}
