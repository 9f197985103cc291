// Package store keeps the proxy's state on local disk with bbolt: actor
// meter state (so a 30-day budget survives a restart) and the sanctions in
// force. bbolt commits are atomic and fsynced (copy-on-write B+tree), so a
// kill -9 at any moment leaves the last committed flush intact; what is
// lost is at most what changed since that flush.
//
// Memory stays the working set: the meter loads an actor from here the
// first time it sees it after a restart or an eviction, and a Syncer
// writes changed actors back in batches, off the request path.
package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

var (
	bucketMeta      = []byte("meta")
	bucketActors    = []byte("actors")
	bucketSanctions = []byte("sanctions")
	bucketCanaries  = []byte("canaries")
	bucketAllow     = []byte("allow")
	bucketLearnt    = []byte("learnt")
	// bucketPopularity holds one value, the behaviour tracker's snapshot
	// (KeepSnapshot's "popularity", where it was before the others).
	bucketPopularity = []byte("popularity")
	// bucketByLast indexes actors by when they were last seen, so expiry
	// and the size bound delete the oldest without walking every actor.
	bucketByLast = []byte("actors_by_last")
)

// Meta is the configuration state was written under. Actor state is only
// meaningful for the same windows and entities (in the same order).
type Meta struct {
	Windows  []time.Duration `json:"windows"`
	Entities []string        `json:"entities"`
}

// Store is the embedded state store.
type Store struct {
	db *bolt.DB
	// maxActors bounds the actors kept (0: expiry alone bounds them).
	maxActors int
	// actors is how many actor states the file holds, kept in the meta
	// bucket too, so that opening a large file does not walk (and map
	// into memory) every page to count them.
	actors int
	// wmu makes this process's writes one at a time, so the count above
	// can be rolled back with its transaction.
	wmu     sync.Mutex
	trimmed atomic.Uint64
	// canaries is the registry's size and canaryLevel its thinning (see
	// KeepsCanary), both kept in the meta bucket.
	canaries    int
	canaryLevel int
	maxCanaries int
}

// DefaultMaxCanaries bounds the canary registry (state.db, or a fleet's
// Redis) when Options say nothing: 524,288 receipts, measured at 256 bytes
// a receipt in state.db (about 130 MiB) and 175 in Redis (about 90 MiB);
// tens of canaries for each of ten thousand recipients.
const DefaultMaxCanaries = 1 << 19

// MaxCanaryLevel is the deepest thinning: 1 receipt in 4,096 kept. The
// fleet's registry is 4,096 hash keys by the hash's top 12 bits, so each
// level drops whole keys there.
const MaxCanaryLevel = 12

// KeepsCanary reports whether a registry thinned to level keeps the
// canary with hash h: its top level bits are zero. A registry past its
// bound goes one level deeper, halving itself, rather than forgetting its
// oldest receipts: a dump surfaces months after the scrape, and what
// traces it is tens of one recipient's canaries among the values in it,
// not all of them. Thinning by hash keeps the same share of every
// recipient's canaries, old or new, so a scraper that took thousands is
// still named by a dump of them, whereas oldest-first pruning forgets the
// old recipients first, whom a late dump names. Every backend keeps the
// same receipts at a level (the state conformance suite checks it).
func KeepsCanary(level int, h uint64) bool {
	return level <= 0 || h>>(64-min(level, MaxCanaryLevel)) == 0
}

// Options bound the store.
type Options struct {
	// MaxActors bounds the actor states kept: past it, each write deletes
	// the least recently seen. The meter holds meter.max_actors in memory;
	// keeping a few times that on disk lets evicted actors come back with
	// their counts, without a flood of fresh addresses growing the file
	// for as long as the longest window. 0: no bound but expiry.
	MaxActors int
	// CompactRatio: at Open, a file whose free pages exceed this share of
	// it (and MinCompact bytes) is rewritten to its live data first
	// (default 0.5). A flood's deleted actors leave free pages that bbolt
	// reuses but never returns, and the whole file is mapped.
	CompactRatio float64
	// MinCompact is the smallest free space worth compacting (default 8 MiB).
	MinCompact int64
	// MaxCanaries bounds the canary registry (default DefaultMaxCanaries);
	// see KeepsCanary for how it is kept under it.
	MaxCanaries int
	Log         *slog.Logger
}

// Recovered says what Open found.
type Recovered struct {
	Path      string
	Actors    int
	Sanctions int
	LastFlush time.Time
	// Reset explains why stored actor state was discarded, if it was.
	Reset string
	// Compacted says how the file shrank at Open, if it was compacted.
	Compacted string
}

// Open opens (creating if needed) dir/state.db. A damaged file (cut
// short, or pages that are not what they should be) is an error that says
// so, before the proxy serves: read as it is, bbolt would crash the
// process, at start or at some later flush.
func Open(dir string, meta Meta, o Options) (s *Store, rec Recovered, err error) {
	rec = Recovered{Path: filepath.Join(dir, "state.db")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, rec, err
	}
	if o.CompactRatio <= 0 {
		o.CompactRatio = 0.5
	}
	if o.MinCompact <= 0 {
		o.MinCompact = 8 << 20
	}
	err = guard(rec.Path, func() error {
		s, err = open(dir, meta, o, &rec)
		return err
	})
	return s, rec, err
}

func open(dir string, meta Meta, o Options, rec *Recovered) (*Store, error) {
	db, err := openBolt(rec.Path, dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			db.Close() // unlocked for the next open; guard reports the panic
			panic(r)
		}
	}()
	if err := check(db, rec.Path); err != nil {
		db.Close()
		return nil, err
	}
	if db, rec.Compacted, err = compactIfSparse(db, rec.Path, dir, o); err != nil {
		return nil, err
	}
	if o.MaxCanaries <= 0 {
		o.MaxCanaries = DefaultMaxCanaries
	}
	s := &Store{db: db, maxActors: o.MaxActors, maxCanaries: o.MaxCanaries}
	want, _ := json.Marshal(meta)
	err = db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if old := m.Get([]byte("config")); old != nil && string(old) != string(want) {
			var was Meta
			json.Unmarshal(old, &was)
			rec.Reset = fmt.Sprintf("the metered windows or entities changed (were %v %v): stored meter state was discarded; blocks are kept", was.Windows, was.Entities)
			for _, b := range [][]byte{bucketActors, bucketByLast} {
				if err := tx.DeleteBucket(b); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
					return err
				}
			}
			if err := m.Delete([]byte("actors_n")); err != nil {
				return err
			}
		}
		if err := m.Put([]byte("config"), want); err != nil {
			return err
		}
		if v := m.Get([]byte("last_flush")); len(v) == 8 {
			rec.LastFlush = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		}
		a, err := tx.CreateBucketIfNotExists(bucketActors)
		if err != nil {
			return err
		}
		if err := s.ensureIndex(tx, m, a); err != nil {
			return err
		}
		rec.Actors = s.actors
		sb, err := tx.CreateBucketIfNotExists(bucketSanctions)
		if err != nil {
			return err
		}
		rec.Sanctions = sb.Stats().KeyN // sanctions are few: expired ones are swept
		cb, err := tx.CreateBucketIfNotExists(bucketCanaries)
		if err != nil {
			return err
		}
		if err := s.loadCanaryBound(m, cb); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketAllow); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketLearnt); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketPopularity); err != nil {
			return err
		}
		n, err := s.trim(tx) // meter.max_actors may have been lowered
		if err != nil || n == 0 {
			return err
		}
		s.trimmed.Add(uint64(n))
		return s.putCount(m)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", rec.Path, err)
	}
	return s, nil
}

// guard runs fn, turning a fault on the mapped file (one cut short: a read
// past its end is a SIGBUS, fatal in Go unless asked otherwise) and a
// panic of bbolt's (its assertions on a page) into an error naming path.
func guard(path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			cause := fmt.Errorf("%v", r)
			if re, ok := r.(runtime.Error); ok && strings.Contains(re.Error(), "invalid memory address") {
				cause = fmt.Errorf("a read of its pages faulted: cut short? (%w)", re)
			}
			err = damaged(path, cause)
		}
	}()
	return fn()
}

func damaged(path string, cause error) error {
	return fmt.Errorf("%s is damaged (%w): move it aside (the proxy then starts with no stored counts or blocks) or put back a copy", path, cause)
}

// check reads every page of db's file once: a damaged page fails the
// start, not a flush minutes later (whose panic no one could recover).
// The file's size is checked first, so that no page read is past its end.
func check(db *bolt.DB, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return db.View(func(tx *bolt.Tx) error {
		if fi.Size() < tx.Size() {
			return damaged(path, fmt.Errorf("%d bytes, where its pages take %d", fi.Size(), tx.Size()))
		}
		var first error
		for err := range tx.Check() { // drained: the check reads the transaction until it is done
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return damaged(path, first)
		}
		return nil
	})
}

func openBolt(path, dir string) (*bolt.DB, error) {
	// The file is mapped 1 GiB at once (address space, not memory: pages
	// are read in as used, and the file grows only as written). bbolt maps
	// it anew each time it outgrows the map, doubling: a flush that grows
	// the file then copies every page it has read out of the old map
	// first, and every request that loads an actor waits for it.
	// In a profile of BenchmarkDefaultPolicyPeopleStored (ten flushes of a
	// new file) the remaps took 0.33 s of the flushes' 1.99 s.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, InitialMmapSize: 1 << 30})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%s is locked: is another leakguard running with state.dir %s?", path, dir)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// ensureIndex loads the actor count and builds the last-seen index of a
// file written before either existed (one walk, once).
func (s *Store) ensureIndex(tx *bolt.Tx, m, a *bolt.Bucket) error {
	if v := m.Get([]byte("actors_n")); len(v) == 8 && tx.Bucket(bucketByLast) != nil {
		s.actors = int(binary.BigEndian.Uint64(v))
		return nil
	}
	idx, err := tx.CreateBucketIfNotExists(bucketByLast)
	if err != nil {
		return err
	}
	n := 0
	err = a.ForEach(func(k, v []byte) error {
		n++
		if len(v) < 8 {
			return nil
		}
		return idx.Put(lastKey(int64(binary.BigEndian.Uint64(v)), k), nil)
	})
	if err != nil {
		return err
	}
	s.actors = n
	return s.putCount(m)
}

func (s *Store) putCount(m *bolt.Bucket) error {
	return m.Put([]byte("actors_n"), binary.BigEndian.AppendUint64(nil, uint64(s.actors)))
}

// lastKey orders the index by last seen, then actor key.
func lastKey(last int64, key []byte) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(key)), uint64(max(last, 0))), key...)
}

// compactIfSparse rewrites the file to its live data when most of it is
// free pages: after a flood is expired or trimmed, a restart would
// otherwise map the flood's size. The copy is written beside the file and
// renamed over it, so a crash leaves one or the other whole.
func compactIfSparse(db *bolt.DB, path, dir string, o Options) (*bolt.DB, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		db.Close()
		return nil, "", err
	}
	size := fi.Size()
	free := int64(db.Stats().FreePageN) * int64(db.Info().PageSize)
	if free < o.MinCompact || float64(free) < o.CompactRatio*float64(size) {
		return db, "", nil
	}
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err == nil {
		err = bolt.Compact(dst, db, 64<<20)
		if err == nil {
			err = dst.Sync()
		}
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		// Not fatal: the sparse file is still a good store.
		os.Remove(tmp)
		if o.Log != nil {
			o.Log.Warn("state: could not compact state.db; using it as it is", "err", err)
		}
		return db, "", nil
	}
	db.Close()
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		db, oerr := openBolt(path, dir)
		return db, "", errors.Join(err, oerr)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable
		d.Close()
	}
	db, err = openBolt(path, dir)
	if err != nil {
		return nil, "", err
	}
	after := size
	if fi, err := os.Stat(path); err == nil {
		after = fi.Size()
	}
	return db, fmt.Sprintf("%.1f MiB -> %.1f MiB", float64(size)/(1<<20), float64(after)/(1<<20)), nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func keyBytes(k identity.Key) []byte {
	b := make([]byte, 9)
	b[0] = byte(k.Kind)
	binary.BigEndian.PutUint64(b[1:], k.Hash)
	return b
}

func parseKey(b []byte) (identity.Key, bool) {
	if len(b) < 9 || identity.Kind(b[0]) >= identity.NumKinds {
		return identity.Key{}, false
	}
	return identity.Key{Kind: identity.Kind(b[0]), Hash: binary.BigEndian.Uint64(b[1:9])}, true
}

// Load returns k's stored meter state, or nil. It is the meter's Load hook.
func (s *Store) Load(k identity.Key) []byte {
	var out []byte
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketActors).Get(keyBytes(k)); len(v) > 8 {
			out = slices.Clone(v[8:]) // bbolt's bytes live only for the transaction
		}
		return nil
	})
	return out
}

// Batch is one flush.
type Batch struct {
	Actors    []memory.Saved
	Sanctions []engine.Sanction
	Unblocked []identity.Key
	Canaries  []canary.Issued
	Now       time.Time
}

// inKeyOrder returns actors sorted by their keys as stored, with only the
// last of those that share a key (the newest: a retried flush comes before
// what was drained since). In key order each put walks down to a page the
// last one just read: a busy proxy's flush is tens of thousands of actors
// keyed by hashes, spread over every page of the file
// (BenchmarkFlushOfManyActors).
func inKeyOrder(actors []memory.Saved) []memory.Saved {
	out := slices.Clone(actors)
	slices.SortStableFunc(out, func(a, b memory.Saved) int {
		if c := cmp.Compare(a.Key.Kind, b.Key.Kind); c != 0 {
			return c
		}
		return cmp.Compare(a.Key.Hash, b.Key.Hash)
	})
	w := 0
	for i := range out {
		if i+1 < len(out) && out[i+1].Key == out[i].Key {
			continue
		}
		out[w] = out[i]
		w++
	}
	return out[:w]
}

// Write commits a batch in one transaction.
func (s *Store) Write(b Batch) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	n, cn, cl := s.actors, s.canaries, s.canaryLevel
	var trimmed int
	actors := inKeyOrder(b.Actors)
	err := s.db.Update(func(tx *bolt.Tx) error {
		ab, idx := tx.Bucket(bucketActors), tx.Bucket(bucketByLast)
		// The index's old entries and new ones, each changed in its own
		// order afterwards: a page of bbolt's takes a key in the middle by
		// moving those after it, and a flush's new entries all go to the
		// index's last pages (0.76 s of the flushes' 2.5 s in a 15 s
		// profile under 20,000 people, some 18,000 actors a flush).
		stale := make([][]byte, 0, len(actors))
		for _, a := range actors {
			k := keyBytes(a.Key)
			if old := ab.Get(k); len(old) >= 8 {
				stale = append(stale, lastKey(int64(binary.BigEndian.Uint64(old)), k))
			} else if old == nil {
				s.actors++
			}
			v := make([]byte, 8+len(a.Data))
			binary.BigEndian.PutUint64(v, uint64(a.Last))
			copy(v[8:], a.Data)
			if err := ab.Put(k, v); err != nil {
				return err
			}
		}
		slices.SortFunc(stale, bytes.Compare)
		for _, k := range stale {
			if err := idx.Delete(k); err != nil {
				return err
			}
		}
		fresh := make([][]byte, len(actors))
		for i, a := range actors {
			fresh[i] = lastKey(a.Last, keyBytes(a.Key))
		}
		slices.SortFunc(fresh, bytes.Compare)
		for _, k := range fresh {
			if err := idx.Put(k, nil); err != nil {
				return err
			}
		}
		if len(b.Actors) > 0 {
			var err error
			if trimmed, err = s.trim(tx); err != nil {
				return err
			}
			if err := s.putCount(tx.Bucket(bucketMeta)); err != nil {
				return err
			}
		}
		sb := tx.Bucket(bucketSanctions)
		for _, k := range b.Unblocked {
			prefix := keyBytes(k)
			c := sb.Cursor()
			for key, _ := c.Seek(prefix); key != nil && string(key[:9]) == string(prefix); key, _ = c.Seek(prefix) {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		for _, x := range b.Sanctions {
			// until, then the action by name: numbering may change, names do not
			v := binary.BigEndian.AppendUint64(nil, uint64(x.Until))
			v = append(v, x.ActionName()...)
			if err := sb.Put(append(keyBytes(x.Key), x.Rule...), v); err != nil {
				return err
			}
		}
		if len(b.Canaries) > 0 {
			if err := s.putCanaries(tx, b.Canaries); err != nil {
				return err
			}
		}
		if b.Now.IsZero() {
			return nil // an operator's write between flushes, not a flush
		}
		ts := make([]byte, 8)
		binary.BigEndian.PutUint64(ts, uint64(b.Now.UnixNano()))
		return tx.Bucket(bucketMeta).Put([]byte("last_flush"), ts)
	})
	if err != nil {
		s.actors = n // the transaction rolled back
		s.canaries, s.canaryLevel = cn, cl
		return err
	}
	s.trimmed.Add(uint64(trimmed))
	return nil
}

// loadCanaryBound reads the registry's size and level; a file written
// before they were kept is counted once.
func (s *Store) loadCanaryBound(m, cb *bolt.Bucket) error {
	if v := m.Get([]byte("canary_level")); len(v) == 1 {
		s.canaryLevel = int(v[0])
	}
	if v := m.Get([]byte("canaries_n")); len(v) == 8 {
		s.canaries = int(binary.BigEndian.Uint64(v))
		return nil
	}
	s.canaries = cb.Stats().KeyN
	return m.Put([]byte("canaries_n"), binary.BigEndian.AppendUint64(nil, uint64(s.canaries)))
}

// putCanaries writes receipts the registry's level keeps, and thins it
// a level deeper while it holds more than its bound.
func (s *Store) putCanaries(tx *bolt.Tx, xs []canary.Issued) error {
	cb, m := tx.Bucket(bucketCanaries), tx.Bucket(bucketMeta)
	for _, c := range xs {
		if !KeepsCanary(s.canaryLevel, c.Hash) {
			continue
		}
		k := canaryKey(c.Kind, c.Hash)
		if cb.Get(k) == nil {
			s.canaries++
		}
		if err := cb.Put(k, encodeIssued(c)); err != nil {
			return err
		}
	}
	for s.canaries > s.maxCanaries && s.canaryLevel < MaxCanaryLevel {
		s.canaryLevel++
		// At a level the receipts dropped are, per kind, one range of keys:
		// those whose hash is at least 2^(64-level).
		from := uint64(1) << (64 - s.canaryLevel)
		c := cb.Cursor()
		for k, _ := c.First(); k != nil; {
			kind := k[0]
			start := canaryKey(records.Kind(kind), from)
			for k, _ = c.Seek(start); k != nil && k[0] == kind; k, _ = c.Seek(start) {
				if err := c.Delete(); err != nil {
					return err
				}
				s.canaries--
			}
			if kind == 0xff {
				break
			}
			k, _ = c.Seek([]byte{kind + 1})
		}
	}
	if err := m.Put([]byte("canary_level"), []byte{byte(s.canaryLevel)}); err != nil {
		return err
	}
	return m.Put([]byte("canaries_n"), binary.BigEndian.AppendUint64(nil, uint64(s.canaries)))
}

// CanaryLevel is how far the canary registry is thinned: it keeps 1 in
// 2^level of the canaries issued (see KeepsCanary).
func (s *Store) CanaryLevel() int {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.canaryLevel
}

// SetMaxCanaries changes the registry's bound from the next write.
func (s *Store) SetMaxCanaries(n int) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.maxCanaries = n
}

// trim deletes the least recently seen actors past maxActors.
func (s *Store) trim(tx *bolt.Tx) (int, error) {
	if s.maxActors <= 0 || s.actors <= s.maxActors {
		return 0, nil
	}
	return s.deleteOldest(tx, func(int64) bool { return true }, s.actors-s.maxActors)
}

// deleteOldest deletes up to max actors, oldest first, while ok(last).
func (s *Store) deleteOldest(tx *bolt.Tx, ok func(last int64) bool, max int) (int, error) {
	ab, c := tx.Bucket(bucketActors), tx.Bucket(bucketByLast).Cursor()
	n := 0
	for k, _ := c.First(); k != nil && n < max && len(k) >= 8 && ok(int64(binary.BigEndian.Uint64(k))); k, _ = c.First() {
		if err := ab.Delete(k[8:]); err != nil {
			return n, err
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		s.actors--
		n++
	}
	return n, nil
}

// Actors returns how many actor states the store holds.
func (s *Store) Actors() int {
	var n int
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte("actors_n")); len(v) == 8 {
			n = int(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return n
}

// Trimmed returns how many actor states the size bound deleted.
func (s *Store) Trimmed() uint64 { return s.trimmed.Load() }

// ErrSecretMismatch is returned by CheckSecret when the store was written
// under another hashing secret.
var ErrSecretMismatch = errors.New("hashing secret differs from the one state.db was written under")

// CheckSecret pins the fingerprint of the hashing secret on first use (a
// keyed MAC, never the secret) and fails if another is pinned: the actor
// keys of the counts and blocks stored are hashes under that secret, and
// would silently belong to nobody under another.
func (s *Store) CheckSecret(fingerprint string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		have := m.Get([]byte("secret_fingerprint"))
		if have == nil {
			return m.Put([]byte("secret_fingerprint"), []byte(fingerprint))
		}
		if string(have) != fingerprint {
			return fmt.Errorf("%w: stored %.8s…, this proxy's %.8s…", ErrSecretMismatch, have, fingerprint)
		}
		return nil
	})
}

func canaryKey(k records.Kind, h uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{byte(k)}, h)
}

// A canary's receipt: when, and the recipient's keys (hashes only).
func encodeIssued(c canary.Issued) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+8*int(identity.NumKinds)), uint64(c.At))
	for _, k := range c.Actor.Keys {
		v = binary.BigEndian.AppendUint64(v, k.Hash)
	}
	return v
}

// Canary looks up who received the canary value with this kind and hash.
func (s *Store) Canary(k records.Kind, h uint64) (canary.Issued, bool) {
	var out canary.Issued
	found := false
	s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCanaries)
		if b == nil {
			return nil
		}
		v := b.Get(canaryKey(k, h))
		if len(v) < 8 {
			return nil
		}
		found = true
		out = canary.Issued{Kind: k, Hash: h, At: int64(binary.BigEndian.Uint64(v))}
		for i := 0; i < int(identity.NumKinds) && 8+8*i+8 <= len(v); i++ {
			if x := binary.BigEndian.Uint64(v[8+8*i:]); x != 0 {
				out.Actor.Keys[i] = identity.Key{Kind: identity.Kind(i), Hash: x}
			}
		}
		return nil
	})
	return out, found
}

// CanaryCount is how many canaries the registry holds.
func (s *Store) CanaryCount() int {
	n := 0
	s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketCanaries); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n
}

// OpenReadOnly opens dir/state.db for reading, e.g. to trace canaries. The
// proxy holds the file while it runs: trace a stopped proxy's state, or a
// copy.
func OpenReadOnly(dir string) (*Store, error) {
	p := filepath.Join(dir, "state.db")
	if _, err := os.Stat(p); err != nil {
		return nil, err
	}
	var db *bolt.DB
	err := guard(p, func() (err error) {
		db, err = bolt.Open(p, 0o600, &bolt.Options{Timeout: 2 * time.Second, ReadOnly: true})
		if err != nil {
			return err
		}
		if err := check(db, p); err != nil {
			db.Close()
			return err
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%s is in use by a running proxy: stop it, or give a copy of the state directory (--state)", p)
		}
		return nil, err
	}
	return &Store{db: db}, nil
}

// AddAllow keeps an allowlist entry an operator added at run time (the
// config's detect.allow is read at start; these would be lost otherwise).
// The value is when it was added, for the record. Written at once: it is
// a rare operator action, and must not wait for a flush.
func (s *Store) AddAllow(p netip.Prefix, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
		return tx.Bucket(bucketAllow).Put([]byte(p.Masked().String()), b)
	})
}

// RemoveAllow forgets a run-time allowlist entry.
func (s *Store) RemoveAllow(p netip.Prefix) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAllow).Delete([]byte(p.Masked().String()))
	})
}

// Allows returns the allowlist entries added at run time.
func (s *Store) Allows() ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAllow)
		if b == nil { // a read-only open of a store written before allowlists were kept
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			if p, err := netip.ParsePrefix(string(k)); err == nil {
				out = append(out, p)
			}
			return nil
		})
	})
	return out, err
}

// Sanctions returns the stored sanctions still in force at now.
func (s *Store) Sanctions(now int64) ([]engine.Sanction, error) {
	var out []engine.Sanction
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSanctions).ForEach(func(k, v []byte) error {
			key, ok := parseKey(k)
			if !ok || len(v) < 9 {
				return nil
			}
			act, shadow, err := engine.ParseSanctionAction(string(v[8:]))
			if err != nil {
				return nil // written by a version with actions this one lacks
			}
			x := engine.Sanction{Key: key, Rule: string(k[9:]), Action: act, Until: int64(binary.BigEndian.Uint64(v[:8])), Shadow: shadow}
			if x.Until > now {
				out = append(out, x)
			}
			return nil
		})
	})
	return out, err
}

// Expire deletes up to max actors last seen before `before` (oldest
// first, by the last-seen index) and the sanctions over at now, so the
// store does not grow with actors that will never count again.
func (s *Store) Expire(before, now int64, max int) (deleted int, err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	n := s.actors
	err = s.db.Update(func(tx *bolt.Tx) error {
		var err error
		deleted, err = s.deleteOldest(tx, func(last int64) bool { return last < before }, max)
		if err != nil {
			return err
		}
		if deleted > 0 {
			if err := s.putCount(tx.Bucket(bucketMeta)); err != nil {
				return err
			}
		}
		sc := tx.Bucket(bucketSanctions).Cursor()
		for k, v := sc.First(); k != nil; {
			if len(v) >= 8 && int64(binary.BigEndian.Uint64(v[:8])) <= now {
				if err := sc.Delete(); err != nil {
					return err
				}
				k, v = sc.Seek(k)
				continue
			}
			k, v = sc.Next()
		}
		return nil
	})
	if err != nil {
		s.actors, deleted = n, 0
	}
	return deleted, err
}

// KeepLearnt replaces the kept learnt limits (budget id → limit) with
// learnt, so a restarted proxy starts from what it had learnt rather than
// from the written limits.
func (s *Store) KeepLearnt(learnt map[string]uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketLearnt); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
			return err
		}
		b, err := tx.CreateBucket(bucketLearnt)
		if err != nil {
			return err
		}
		for id, v := range learnt {
			if err := b.Put([]byte(id), binary.BigEndian.AppendUint64(nil, v)); err != nil {
				return err
			}
		}
		return nil
	})
}

// snapshotKey is the one key of a snapshot's bucket.
var snapshotKey = []byte("snapshot")

// snapshotBucket is the bucket of the snapshot of name: a bucket named so,
// which must not be one of the store's own (the popularity snapshot's is
// bucketPopularity, as it was before there were others).
func snapshotBucket(name string) ([]byte, error) {
	for _, own := range [][]byte{bucketMeta, bucketActors, bucketSanctions, bucketCanaries, bucketAllow, bucketLearnt, bucketByLast} {
		if name == string(own) || name == "" {
			return nil, fmt.Errorf("store: no snapshot can be named %q", name)
		}
	}
	return []byte(name), nil
}

// KeepSnapshot replaces the kept snapshot of name (the behaviour tracker's
// popularity, the partners' histories) with p.
func (s *Store) KeepSnapshot(name string, p []byte) error {
	bucket, err := snapshotBucket(name)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.Put(snapshotKey, p)
	})
}

// Snapshot returns the kept snapshot of name, nil if none is.
func (s *Store) Snapshot(name string) ([]byte, error) {
	bucket, err := snapshotBucket(name)
	if err != nil {
		return nil, err
	}
	var p []byte
	err = s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucket); b != nil {
			// bbolt's bytes are valid only within the transaction.
			p = bytes.Clone(b.Get(snapshotKey))
		}
		return nil
	})
	return p, err
}

// Learnt returns the kept learnt limits.
func (s *Store) Learnt() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLearnt)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				out[string(k)] = binary.BigEndian.Uint64(v)
			}
			return nil
		})
	})
	return out, err
}
