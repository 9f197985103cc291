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
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
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
)

// Meta is the configuration state was written under. Actor state is only
// meaningful for the same windows and entities (in the same order).
type Meta struct {
	Windows  []time.Duration `json:"windows"`
	Entities []string        `json:"entities"`
}

// Store is the embedded state store.
type Store struct {
	db     *bolt.DB
	cursor []byte // where the incremental expiry sweep resumes
}

// Recovered says what Open found.
type Recovered struct {
	Path      string
	Actors    int
	Sanctions int
	Canaries  int
	LastFlush time.Time
	// Reset explains why stored actor state was discarded, if it was.
	Reset string
}

// Open opens (creating if needed) dir/state.db.
func Open(dir string, meta Meta) (*Store, Recovered, error) {
	rec := Recovered{Path: filepath.Join(dir, "state.db")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, rec, err
	}
	db, err := bolt.Open(rec.Path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, rec, fmt.Errorf("%s is locked: is another leakguard running with state.dir %s?", rec.Path, dir)
		}
		return nil, rec, fmt.Errorf("open %s: %w", rec.Path, err)
	}
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
			if err := tx.DeleteBucket(bucketActors); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
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
		rec.Actors = a.Stats().KeyN
		s, err := tx.CreateBucketIfNotExists(bucketSanctions)
		if err != nil {
			return err
		}
		rec.Sanctions = s.Stats().KeyN
		c, err := tx.CreateBucketIfNotExists(bucketCanaries)
		if err != nil {
			return err
		}
		rec.Canaries = c.Stats().KeyN
		if _, err := tx.CreateBucketIfNotExists(bucketAllow); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, rec, fmt.Errorf("%s: %w", rec.Path, err)
	}
	return &Store{db: db}, rec, nil
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

// Write commits a batch in one transaction.
func (s *Store) Write(b Batch) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bucketActors)
		for _, a := range b.Actors {
			v := make([]byte, 8+len(a.Data))
			binary.BigEndian.PutUint64(v, uint64(a.Last))
			copy(v[8:], a.Data)
			if err := ab.Put(keyBytes(a.Key), v); err != nil {
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
			v = append(v, x.Action.String()...)
			if err := sb.Put(append(keyBytes(x.Key), x.Rule...), v); err != nil {
				return err
			}
		}
		cb := tx.Bucket(bucketCanaries)
		for _, c := range b.Canaries {
			if err := cb.Put(canaryKey(c.Kind, c.Hash), encodeIssued(c)); err != nil {
				return err
			}
		}
		ts := make([]byte, 8)
		binary.BigEndian.PutUint64(ts, uint64(b.Now.UnixNano()))
		return tx.Bucket(bucketMeta).Put([]byte("last_flush"), ts)
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
	db, err := bolt.Open(p, 0o600, &bolt.Options{Timeout: 2 * time.Second, ReadOnly: true})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%s is in use by a running proxy: stop it, or trace a copy of the state directory", p)
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
			act, err := engine.ParseAction(string(v[8:]))
			if err != nil {
				return nil // written by a version with actions this one lacks
			}
			x := engine.Sanction{Key: key, Rule: string(k[9:]), Action: act, Until: int64(binary.BigEndian.Uint64(v[:8]))}
			if x.Until > now {
				out = append(out, x)
			}
			return nil
		})
	})
	return out, err
}

// Expire deletes up to max actors last seen before `before` (resuming
// where the previous call stopped) and the sanctions over at now, so the
// store does not grow with actors that will never count again.
func (s *Store) Expire(before, now int64, max int) (deleted int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketActors).Cursor()
		k, v := c.Seek(s.cursor)
		for n := 0; k != nil && n < max; n++ {
			if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) < before {
				if err := c.Delete(); err != nil {
					return err
				}
				deleted++
				k, v = c.Seek(k) // Delete moves the cursor: re-seek past the gap
				continue
			}
			k, v = c.Next()
		}
		if k == nil {
			s.cursor = nil
		} else {
			s.cursor = slices.Clone(k)
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
	return deleted, err
}
