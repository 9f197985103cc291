package engine

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// A partner (detect.allow, detect.allow_accounts) meets the budgets
// written for allowlisted actors, the same for every partner: 400 users in
// 10 minutes by default. One that syncs 30 in 10 minutes and turns
// harvester at 300 stays under that, 43,000 records a day (a red team's
// log replay, 2026-12-07). Its own history says more: once a day of it is
// known, a partner is held to ownNormalFactor times the most it took in
// the budget's window in any hour of the 8 days before this one, never
// below ownNormalFloor of the written limit and never above it. Search
// bots verified by DNS are not held so: their addresses' volumes swing
// from day to day with the crawl, and refusing them costs an operator its
// search listings.
const (
	ownNormalHours  = 8 * 24 // how far back a partner's normal looks (a weekly sync is in it)
	ownNormalAfter  = 24     // hours of its history before its normal is known
	ownNormalFactor = 4
	ownNormalFloor  = 8 // the own limit is at least the written limit / this
	maxOwnNormals   = 4096
	hourNs          = int64(3600e9)
)

// ownNormalSuffix marks the rule of a decision whose limit was the
// partner's own (the sanction's rule is the budget's).
const ownNormalSuffix = "/own-normal"

type ownKey struct {
	k  identity.Key
	bi int
}

// ownNormal is one allowlisted key's history under one budget: the most
// it took in the budget's window during each hour, hours since the epoch
// in event time.
type ownNormal struct {
	first, last int64
	most        [ownNormalHours]uint32
	// normal is the most over the hours before hour at, kept because a
	// partner's requests ask for it many times an hour.
	at, normal int64
}

// ownNormals holds the partners' histories, at most maxOwnNormals of
// them: past that, a new key meets the written limits only.
type ownNormals struct {
	mu sync.Mutex
	m  map[ownKey]*ownNormal
	// notes counts note's changes, so that what keeps the histories
	// (PartnersChanged) writes them only when they moved.
	notes uint64
}

// note records that key k took v in budget bi's window at t (unix ns).
func (o *ownNormals) note(k identity.Key, bi int, t int64, v uint64) {
	h := t / hourNs
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.m[ownKey{k, bi}]
	if n == nil {
		if o.m == nil {
			o.m = map[ownKey]*ownNormal{}
		}
		if len(o.m) >= maxOwnNormals {
			return
		}
		n = &ownNormal{first: h, last: h, at: -1}
		o.m[ownKey{k, bi}] = n
	}
	if h > n.last {
		for x := n.last + 1; x <= h && x <= n.last+ownNormalHours; x++ {
			n.most[slot(x)] = 0
		}
		n.last = h
	} else if h <= n.last-ownNormalHours {
		return // older than the history kept
	}
	n.first = min(n.first, h)
	i := slot(h)
	if m := uint32(min(v, math.MaxUint32)); m > n.most[i] {
		n.most[i] = m
		o.notes++
	}
	if h < n.at {
		n.at = -1 // an event out of order changed an hour before: count again
	}
}

// limit is key k's limit under budget bi at t given the budget's limit
// lim, and the normal it rests on (0: none known, lim stands).
func (o *ownNormals) limit(k identity.Key, bi int, t int64, lim uint64) (uint64, uint64) {
	h := t / hourNs
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.m[ownKey{k, bi}]
	if n == nil || h-n.first < ownNormalAfter {
		return lim, 0
	}
	if n.at != h {
		n.at, n.normal = h, 0
		// the hours before this one that are still kept
		for x := max(h, n.last) - ownNormalHours + 1; x <= min(h-1, n.last); x++ {
			n.normal = max(n.normal, int64(n.most[slot(x)]))
		}
	}
	if n.normal == 0 {
		return lim, 0 // it took nothing in a week: unknown, not none
	}
	own := max(uint64(n.normal)*ownNormalFactor, lim/ownNormalFloor)
	return min(own, lim), uint64(n.normal)
}

// slot is hour h's place in a history.
func slot(h int64) int64 { return (h%ownNormalHours + ownNormalHours) % ownNormalHours }

// The partners' histories outlive the process (state: the store's, or the
// fleet's in Redis): a proxy deployed every day never held a day of a
// partner's history, so never its own normal, and a partner that turned
// harvester after a deploy met only the written limits.

// partnersMagic opens a snapshot of the partners' histories.
const partnersMagic = "lgown1\n"

// Partners returns the partners' histories as a snapshot that
// RestorePartners reads: per partner key and allowlisted budget (by id),
// the most it took in each hour of the last ownNormalHours.
func (e *Engine) Partners() []byte {
	o := &e.own
	o.mu.Lock()
	defer o.mu.Unlock()
	out := binary.AppendUvarint([]byte(partnersMagic), uint64(len(o.m)))
	for k, n := range o.m {
		id := e.budgets[k.bi].ID
		out = binary.AppendUvarint(out, uint64(len(id)))
		out = append(out, id...)
		out = append(out, byte(k.k.Kind))
		out = binary.LittleEndian.AppendUint64(out, k.k.Hash)
		out = binary.AppendVarint(out, n.first)
		out = binary.AppendVarint(out, n.last)
		for x := n.last - ownNormalHours + 1; x <= n.last; x++ {
			out = binary.AppendUvarint(out, uint64(n.most[slot(x)]))
		}
	}
	return out
}

// PartnersChanged counts the changes to the partners' histories so far:
// what keeps them need not write them again while it stands still.
func (e *Engine) PartnersChanged() uint64 {
	e.own.mu.Lock()
	defer e.own.mu.Unlock()
	return e.own.notes
}

// errPartners is what a snapshot RestorePartners cannot read is.
var errPartners = errors.New("partners' histories: not a snapshot of this build's")

// RestorePartners adds the histories of snapshot p (Partners) to the
// engine's, the most of the two in each hour, and returns how many
// partner histories it restored. Histories of budgets no longer in force,
// or no longer for partners, are skipped: a config changed since. A
// snapshot it cannot read whole restores nothing.
func (e *Engine) RestorePartners(p []byte) (int, error) {
	if len(p) < len(partnersMagic) || string(p[:len(partnersMagic)]) != partnersMagic {
		return 0, errPartners
	}
	p = p[len(partnersMagic):]
	uv := func() uint64 {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			p = nil
			return 0
		}
		p = p[n:]
		return v
	}
	sv := func() int64 { // binary.Varint's zigzag, over uv
		ux := uv()
		if ux&1 != 0 {
			return ^int64(ux >> 1)
		}
		return int64(ux >> 1)
	}
	ids := map[string]int{}
	for bi, b := range e.budgets {
		if b.Allowlisted {
			ids[b.ID] = bi
		}
	}
	count := uv()
	if p == nil || count > maxOwnNormals {
		return 0, fmt.Errorf("%w: %d histories", errPartners, count)
	}
	got := map[ownKey]*ownNormal{}
	for i := range count {
		l := uv()
		if p == nil || l > uint64(len(p)) {
			return 0, fmt.Errorf("%w: history %d cut short", errPartners, i)
		}
		id := string(p[:l])
		p = p[l:]
		if len(p) < 9 {
			return 0, fmt.Errorf("%w: history %d cut short", errPartners, i)
		}
		kind, hash := identity.Kind(p[0]), binary.LittleEndian.Uint64(p[1:9])
		p = p[9:]
		n := &ownNormal{first: sv(), last: sv(), at: -1}
		for x := n.last - ownNormalHours + 1; x <= n.last; x++ {
			v := uv()
			if v > math.MaxUint32 {
				p = nil
			}
			n.most[slot(x)] = uint32(v)
		}
		if p == nil || kind >= identity.NumKinds || hash == 0 || n.first > n.last {
			return 0, fmt.Errorf("%w: history %d unreadable", errPartners, i)
		}
		if bi, ok := ids[id]; ok {
			got[ownKey{identity.Key{Kind: kind, Hash: hash}, bi}] = n
		}
	}
	if len(p) != 0 {
		return 0, fmt.Errorf("%w: %d bytes past its end", errPartners, len(p))
	}
	o := &e.own
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[ownKey]*ownNormal{}
	}
	restored := 0
	for k, n := range got {
		have := o.m[k]
		if have == nil {
			if len(o.m) >= maxOwnNormals {
				continue
			}
			o.m[k] = n
			restored++
			continue
		}
		// Both: the hours either holds, the most of the two in each.
		merged := &ownNormal{first: min(have.first, n.first), last: max(have.last, n.last), at: -1}
		for x := merged.last - ownNormalHours + 1; x <= merged.last; x++ {
			var v uint32
			for _, h := range []*ownNormal{have, n} {
				if x <= h.last && x > h.last-ownNormalHours {
					v = max(v, h.most[slot(x)])
				}
			}
			merged.most[slot(x)] = v
		}
		o.m[k] = merged
		restored++
	}
	return restored, nil
}

// PartnerNormal is one partner's own normal under one allowlisted budget,
// as the admin API shows it.
type PartnerNormal struct {
	Key    string `json:"key"` // its kind and keyed hash, as the decision log names it
	Budget string `json:"budget"`
	// OwnNormal is the most it took in the budget's window in an hour of
	// the 8 days before now; 0 while a day of its history is not known, or
	// it took nothing in them (the written limit holds it then).
	OwnNormal uint64 `json:"own_normal"`
	// Limit is what it is held to now.
	Limit uint64 `json:"limit"`
	// Since is the first hour of its history kept.
	Since time.Time `json:"since"`
}

// PartnerNormals lists the partners' own normals at now, by key and
// budget: what an operator checks before a partner's planned re-sync (a
// burst of more than 4 times its normal is refused).
func (e *Engine) PartnerNormals(now time.Time) []PartnerNormal {
	t := now.UnixNano()
	e.own.mu.Lock()
	keys := make([]ownKey, 0, len(e.own.m))
	since := make(map[ownKey]int64, len(e.own.m))
	for k, n := range e.own.m {
		keys = append(keys, k)
		since[k] = n.first
	}
	e.own.mu.Unlock()
	out := make([]PartnerNormal, 0, len(keys))
	for _, k := range keys {
		b := &e.budgets[k.bi]
		limit, normal := e.own.limit(k.k, k.bi, t, max(b.Limit, e.learned[k.bi].Load()))
		out = append(out, PartnerNormal{Key: k.k.String(), Budget: b.ID, OwnNormal: normal, Limit: limit,
			Since: time.Unix(since[k]*3600, 0).UTC()})
	}
	slices.SortFunc(out, func(x, y PartnerNormal) int {
		return cmp.Or(cmp.Compare(x.Key, y.Key), cmp.Compare(x.Budget, y.Budget))
	})
	return out
}
