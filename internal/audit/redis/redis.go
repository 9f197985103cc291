// Package redis probes Redis servers as a stranger would: PING without
// AUTH, INFO, and a bounded SCAN of each database with a sample of values
// per key pattern. It sends read-only commands only.
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/resplimit"
)

// Prober probes Redis targets.
type Prober struct {
	// MaxScan bounds the keys scanned per database to learn its key
	// patterns (default 10,000).
	MaxScan int
}

var _ audit.Prober = (*Prober)(nil)

var fixes = []string{
	"Require authentication: set requirepass, or with ACLs disable the default user (ACL SETUSER default off) and give named users passwords.",
	"Bind to 127.0.0.1 or a private address (bind in redis.conf) and keep protected-mode yes; firewall port 6379.",
	"Use TLS (tls-port) when clients reach it across a network.",
}

// replyLimits bound the replies the probe reads, so that a server run by a
// stranger cannot take the audit down with a reply header (go-redis
// allocates what one announces). The probe reads INFO (kilobytes), SCAN
// pages of about 1,000 keys, 64 KiB of a string (GETRANGE) and pages of
// Sample elements of hashes, lists, sets, sorted sets and streams. Redis
// answers an HSCAN or SSCAN of a small hash or set whole, whatever COUNT,
// but "small" is 128 fields or 512 integers unless reconfigured: 100,000
// elements leave room for a server configured far past that, and 16 MiB
// for long keys and values (of which the probe keeps 64 KiB). The deepest
// reply it reads is XRANGE's: entries of an ID and fields, 3 levels.
// What one header can make a probe allocate is so about 18 MiB a
// connection, and a probe has at most two at once.
func replyLimits() resplimit.Limits {
	return resplimit.Limits{MaxBulk: 16 << 20, MaxElems: 100_000, MaxDepth: 8, Name: "the audit"}
}

func (p *Prober) client(t audit.Target, db int, user, pass string, seen *refusals) *goredis.Client {
	o := &goredis.Options{
		Addr: t.Host, DB: db, Username: user, Password: pass,
		DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		MaxRetries: -1, PoolSize: 1, Protocol: 2,
		// No CLIENT SETINFO: the audit sends read-only commands only.
		DisableIdentity: true,
	}
	if t.TLS {
		o.TLSConfig = &tls.Config{InsecureSkipVerify: true, ServerName: hostOnly(t.Host)}
	}
	// A Dialer of our own replaces go-redis's, which is the one that does
	// TLS: it wraps that one.
	l := replyLimits()
	l.Refused = seen.note
	o.Dialer = resplimit.Dialer(l, goredis.NewDialer(o))
	// go-redis prints its complaints to stderr itself ("redis: ... failed
	// to dial after 5 attempts"), between the audit's lines, when the
	// finding says the same for the target. It has one logger a process,
	// and the audit is a process of its own.
	goredis.SetLogger(quiet{})
	return goredis.NewClient(o)
}

// quiet is go-redis's logger in an audit: what it would say, the probe
// returns as the target's error.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// refusals remember the replies a probe's connections refused for being
// beyond its limits. go-redis reports one as a broken connection on the
// command that read it, which the inventory skips as it skips any failed
// command; the finding says so once.
type refusals struct {
	mu    sync.Mutex
	first *resplimit.Error
	n     int
}

func (r *refusals) note(err *resplimit.Error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil {
		r.first = err
	}
	r.n++
}

func (r *refusals) said() (n int, first error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil {
		return 0, nil // not a nil *resplimit.Error in an error
	}
	return r.n, r.first
}

// beyond tells a reply refused for being beyond limits.
func beyond(err error) bool {
	var e *resplimit.Error
	return errors.As(err, &e)
}

// refused is why a command failed, if a reply beyond limits is: go-redis
// may report instead what it made of the bytes before the refused ones
// (say "can't parse reply" of a nested array's first header), as the
// connection passes those on.
func (r *refusals) refused(err error) error {
	if err == nil || beyond(err) {
		return err
	}
	if _, first := r.said(); first != nil {
		return first
	}
	return err
}

// unreadable makes f an Error: the server answered cmd as no Redis would,
// so what it holds and whether a stranger can read it cannot be told.
func unreadable(f audit.Finding, cmd string, err error) audit.Finding {
	if f.Status == audit.Exposed {
		f.Notes = append(f.Notes, "it answered PING without authentication first: if it is a Redis server, a stranger can reach it")
	}
	f.Status, f.Access, f.Error = audit.Error, "", cmd+": "+firstLine(err.Error())
	return f
}

func hostOnly(hp string) string {
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		return strings.Trim(hp[:i], "[]")
	}
	return hp
}

// Probe implements audit.Prober.
func (p *Prober) Probe(ctx context.Context, t audit.Target, cl *audit.Classifier) (f audit.Finding) {
	seen := &refusals{}
	defer func() {
		if n, err := seen.said(); err != nil && f.Status != audit.Error {
			more := ""
			if n > 1 {
				more = fmt.Sprintf(" (and %d more replies refused)", n-1)
			}
			f.Notes = append(f.Notes, "the inventory is partial: "+firstLine(err.Error())+more)
		}
		f.SetFix(fixes[:2], fixes[2])
	}()
	f.TLS = "no"
	if t.TLS {
		f.TLS = "yes"
	}
	c := p.client(t, 0, "", "", seen)
	defer c.Close()
	err := seen.refused(c.Ping(ctx).Err())
	user, pass := "", ""
	switch {
	case beyond(err):
		return unreadable(f, "PING", err)
	case err == nil:
		f.Status = audit.Exposed
		who, err := c.Do(ctx, "ACL", "WHOAMI").Text()
		if err := seen.refused(err); beyond(err) {
			return unreadable(f, "ACL WHOAMI", err)
		}
		if who != "" {
			f.Access = fmt.Sprintf("no authentication: a stranger is ACL user %q, which has no password", who)
		} else {
			f.Access = "no authentication: PING answered without AUTH"
		}
	case isRefusal(err):
		f.Status = audit.Closed
		f.Access = "refused an unauthenticated client: " + firstLine(err.Error())
		if t.Password == "" {
			return f
		}
		user, pass = t.User, t.Password
		c.Close()
		c = p.client(t, 0, user, pass, seen)
		if err := seen.refused(c.Ping(ctx).Err()); beyond(err) {
			return f // noted as partial
		} else if err != nil {
			f.Notes = append(f.Notes, "the given credentials were refused too: "+firstLine(err.Error()))
			return f
		}
		f.WithCredentials = true
	default:
		f.Status, f.Error = audit.Error, firstLine(err.Error())
		return f
	}
	info, err := c.Info(ctx, "server", "keyspace").Result()
	switch err = seen.refused(err); {
	case beyond(err) && !f.WithCredentials:
		return unreadable(f, "INFO", err)
	case beyond(err):
		return f // noted as partial
	case err != nil:
		f.Notes = append(f.Notes, "INFO refused: "+firstLine(err.Error()))
		return f
	}
	fields := parseInfo(info)
	if v := fields["redis_version"]; v != "" {
		f.Version = v
	}
	dbs := keyspace(fields)
	for _, db := range dbs {
		if ctx.Err() != nil || len(f.Collections) >= t.MaxCollections {
			f.Truncated = f.Truncated || len(f.Collections) >= t.MaxCollections
			break
		}
		dc := p.client(t, db.n, user, pass, seen)
		cols, trunc := p.inventory(ctx, dc, db, t, cl, t.MaxCollections-len(f.Collections))
		dc.Close()
		f.Collections = append(f.Collections, cols...)
		f.Truncated = f.Truncated || trunc
	}
	return f
}

// isRefusal tells an authentication refusal from a broken connection.
func isRefusal(err error) bool {
	s := err.Error()
	for _, p := range []string{"NOAUTH", "WRONGPASS", "DENIED", "NOPERM", "invalid password", "Authentication required"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m
}

type dbInfo struct {
	n    int
	keys int64
}

// keyspace reads "db0:keys=12,expires=0,avg_ttl=0" lines.
func keyspace(info map[string]string) []dbInfo {
	var out []dbInfo
	for k, v := range info {
		if !strings.HasPrefix(k, "db") {
			continue
		}
		n, err := strconv.Atoi(k[2:])
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			if name, val, ok := strings.Cut(kv, "="); ok && name == "keys" {
				keys, _ := strconv.ParseInt(val, 10, 64)
				out = append(out, dbInfo{n, keys})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	return out
}

type pattern struct {
	name    string
	scanned int
	keys    []string // up to the sample size
}

func (p *Prober) inventory(ctx context.Context, c *goredis.Client, db dbInfo, t audit.Target, cl *audit.Classifier, room int) ([]audit.Collection, bool) {
	maxScan := p.MaxScan
	if maxScan <= 0 {
		maxScan = 10_000
	}
	pats := map[string]*pattern{}
	var cursor uint64
	scanned := 0
	complete := false
	for scanned < maxScan && ctx.Err() == nil {
		keys, next, err := c.Scan(ctx, cursor, "*", 1000).Result()
		if err != nil {
			break
		}
		for _, k := range keys {
			name := Pattern(k)
			pt := pats[name]
			if pt == nil {
				pt = &pattern{name: name}
				pats[name] = pt
			}
			pt.scanned++
			if len(pt.keys) < t.Sample {
				pt.keys = append(pt.keys, k)
			}
		}
		scanned += len(keys)
		if cursor = next; cursor == 0 {
			complete = true
			break
		}
	}
	list := make([]*pattern, 0, len(pats))
	for _, pt := range pats {
		list = append(list, pt)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].scanned != list[j].scanned {
			return list[i].scanned > list[j].scanned
		}
		return list[i].name < list[j].name
	})
	trunc := false
	if len(list) > room {
		list, trunc = list[:room], true
	}
	var out []audit.Collection
	for _, pt := range list {
		if ctx.Err() != nil {
			break
		}
		keys := int64(pt.scanned)
		if !complete && scanned > 0 {
			keys = db.keys * int64(pt.scanned) / int64(scanned)
		}
		out = append(out, p.sample(ctx, c, db.n, pt, keys, complete, t.Sample, cl))
	}
	return out, trunc
}

// sample classifies a pattern's sampled keys. For strings and hashes a key
// is a record; for lists, sets, sorted sets and streams each element is.
func (p *Prober) sample(ctx context.Context, c *goredis.Client, db int, pt *pattern, keys int64, exact bool, n int, cl *audit.Classifier) audit.Collection {
	col := audit.NewCollection(fmt.Sprintf("db%d %s", db, pt.name), keys, exact)
	var elems, containers int64
	for _, k := range pt.keys {
		typ, err := c.Type(ctx, k).Result()
		if err != nil {
			continue
		}
		keyKV := audit.KV{Name: "(key)", Value: k}
		switch typ {
		case "string":
			v, err := c.GetRange(ctx, k, 0, 64<<10).Result()
			if err != nil {
				continue
			}
			row := []audit.KV{keyKV}
			if kvs, err := audit.Flatten([]byte(v), 500); err == nil && len(kvs) > 0 && strings.HasPrefix(strings.TrimSpace(v), "{") {
				row = append(row, kvs...)
			} else {
				row = append(row, audit.KV{Name: "(value)", Value: v})
			}
			cl.AddRow(&col, row)
		case "hash":
			kv, _, err := c.HScan(ctx, k, 0, "*", 200).Result()
			if err != nil {
				continue
			}
			row := []audit.KV{keyKV}
			for i := 0; i+1 < len(kv); i += 2 {
				row = append(row, audit.KV{Name: kv[i], Value: kv[i+1]})
			}
			cl.AddRow(&col, row)
		case "list", "set", "zset", "stream":
			card, vals := p.elements(ctx, c, typ, k, n)
			containers++
			elems += card
			for _, v := range vals {
				cl.AddRow(&col, v)
			}
		}
	}
	if containers > 0 {
		// Count elements, not keys: one set of a million phone numbers is
		// a million records.
		col.Count = keys * elems / containers
		col.CountExact = exact && containers == keys
		col.Note = "counted in elements of lists/sets/sorted sets/streams"
	}
	return col
}

func (p *Prober) elements(ctx context.Context, c *goredis.Client, typ, k string, n int) (int64, [][]audit.KV) {
	var card int64
	var vals []string
	var rows [][]audit.KV
	switch typ {
	case "list":
		card, _ = c.LLen(ctx, k).Result()
		vals, _ = c.LRange(ctx, k, 0, int64(n-1)).Result()
	case "set":
		card, _ = c.SCard(ctx, k).Result()
		vals, _, _ = c.SScan(ctx, k, 0, "*", int64(n)).Result()
	case "zset":
		card, _ = c.ZCard(ctx, k).Result()
		vals, _ = c.ZRange(ctx, k, 0, int64(n-1)).Result()
	case "stream":
		card, _ = c.XLen(ctx, k).Result()
		msgs, _ := c.XRangeN(ctx, k, "-", "+", int64(n)).Result()
		for _, m := range msgs {
			var row []audit.KV
			for f, v := range m.Values {
				row = append(row, audit.KV{Name: f, Value: fmt.Sprint(v)})
			}
			rows = append(rows, row)
		}
	}
	for _, v := range vals {
		if len(v) > 64<<10 {
			v = v[:64<<10]
		}
		row := []audit.KV{{Name: "(element)", Value: v}}
		if kvs, err := audit.Flatten([]byte(v), 500); err == nil && strings.HasPrefix(strings.TrimSpace(v), "{") {
			row = kvs
		}
		rows = append(rows, row)
	}
	return card, rows
}

// Pattern generalises a key name into its family: "user:13912345678" and
// "user:42" are both "user:*"; "session:9f86d081884c7d65" is "session:*".
// Segments that could identify a person (digits, hex ids, emails) never
// reach the report.
func Pattern(key string) string {
	if key == "" {
		return "(empty)"
	}
	parts := splitKeep(key)
	for i, s := range parts {
		if len(s) == 1 && strings.ContainsAny(s, ":/|#") {
			continue
		}
		digits, hex := 0, 0
		for _, r := range s {
			switch {
			case r >= '0' && r <= '9':
				digits++
				hex++
			case r >= 'a' && r <= 'f', r >= 'A' && r <= 'F':
				hex++
			}
		}
		switch {
		case digits >= 4, strings.ContainsRune(s, '@'), len(s) >= 8 && hex == len(s),
			len(s) >= 16 && digits > 0, digits > 0 && digits == len(s):
			parts[i] = "*"
		case digits > 0:
			parts[i] = digitRuns(s)
		}
	}
	return strings.Join(parts, "")
}

// splitKeep splits on the separators keys use, keeping them.
func splitKeep(s string) []string {
	var out []string
	start := 0
	for i, r := range s {
		if strings.ContainsRune(":/|#", r) {
			if i > start {
				out = append(out, s[start:i])
			}
			out = append(out, string(r))
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func digitRuns(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		if r >= '0' && r <= '9' {
			if !in {
				b.WriteByte('*')
			}
			in = true
			continue
		}
		in = false
		b.WriteRune(r)
	}
	return b.String()
}
