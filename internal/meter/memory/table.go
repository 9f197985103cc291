package memory

// table maps a key's hash to the first actor with that hash (the others
// chain through alias): open addressing with linear probing, each slot
// the hash and the actor side by side. A lookup reads one slot, mostly in
// one cache line, where a Go map read a group's control word, then its
// slot, and past a table's size a directory first: the meter looks a key
// up on every request, and on a log of many keys each lookup misses the
// caches.
type table struct {
	slots []slot // a power of two, at most 3/4 used
	used  int
}

type slot struct {
	h uint64
	a *actor // nil: empty
}

const minSlots = 16

// home is where h's probe starts. Key hashes are uniform keyed hashes in
// production, but the shard index took the top bits of a product of the
// same hash, so its bits are mixed again first.
func (t *table) home(h uint64) int { return int(fmix(h)) & (len(t.slots) - 1) }

func (t *table) len() int { return t.used }

func (t *table) get(h uint64) *actor {
	if len(t.slots) == 0 {
		return nil
	}
	mask := len(t.slots) - 1
	for i := t.home(h); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.a == nil || s.h == h {
			return s.a
		}
	}
}

// set makes a the actor of h (a is not nil).
func (t *table) set(h uint64, a *actor) {
	if 4*(t.used+1) > 3*len(t.slots) {
		t.grow()
	}
	mask := len(t.slots) - 1
	for i := t.home(h); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.a == nil {
			*s = slot{h, a}
			t.used++
			return
		}
		if s.h == h {
			s.a = a
			return
		}
	}
}

func (t *table) grow() {
	old := t.slots
	t.slots = make([]slot, max(minSlots, 2*len(old)))
	mask := len(t.slots) - 1
	for _, s := range old {
		if s.a == nil {
			continue
		}
		i := t.home(s.h)
		for t.slots[i].a != nil {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// del removes h, moving back the slots after it that its place would
// hide from their probes (no tombstones: a busy meter adds and evicts
// keys for ever).
func (t *table) del(h uint64) {
	if len(t.slots) == 0 {
		return
	}
	mask := len(t.slots) - 1
	i := t.home(h)
	for ; t.slots[i].h != h || t.slots[i].a == nil; i = (i + 1) & mask {
		if t.slots[i].a == nil {
			return
		}
	}
	for j := (i + 1) & mask; t.slots[j].a != nil; j = (j + 1) & mask {
		// the slot at j stays unless its home is outside (i, j], cyclically
		k := t.home(t.slots[j].h)
		if i <= j && (k <= i || k > j) || i > j && k <= i && k > j {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = slot{}
	t.used--
}

// all calls f for every actor held first for its hash.
func (t *table) all(f func(*actor)) {
	for _, s := range t.slots {
		if s.a != nil {
			f(s.a)
		}
	}
}
