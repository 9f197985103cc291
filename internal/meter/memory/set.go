package memory

// hashSet is a set of 64-bit record hashes, open addressing with linear
// probing in one flat array: a bucket's records, up to setMax of them.
// Go's map did the same job at about twice the cost per insert on a heavy
// key (the people behind a carrier NAT's /24, every record of a heavy
// address): a hash of the key, a probe of a group's control word and a
// compare, with the slot's cache line touched after the control word's.
// Here the slot is found from the key's own bits (fmix: the meter must not
// go wrong with ids that are not uniform) and compared directly.
//
// The zero hash, which cannot mark a free slot, is kept apart. The array
// is at most 3/4 full; clear keeps it, as clear on a map keeps its table.
type hashSet struct {
	slots []uint64 // a power of two long, or nil
	n     int      // hashes held in slots
	zero  bool     // 0 is held
}

const hashSetMin = 16

func newHashSet(hint int) hashSet {
	size := hashSetMin
	for size*3/4 < hint {
		size *= 2
	}
	return hashSet{slots: make([]uint64, size)}
}

// len is how many hashes the set holds.
func (s *hashSet) len() int {
	if s.zero {
		return s.n + 1
	}
	return s.n
}

// add inserts h and reports whether it was new.
func (s *hashSet) add(h uint64) bool {
	if h == 0 {
		if s.zero {
			return false
		}
		s.zero = true
		return true
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := fmix(h) & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return false
		case 0:
			s.slots[i] = h
			s.n++
			return true
		}
	}
}

// has reports whether h is in the set.
func (s *hashSet) has(h uint64) bool {
	if h == 0 {
		return s.zero
	}
	if s.n == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := fmix(h) & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (s *hashSet) grow() {
	old := s.slots
	size := 2 * len(old)
	if size < hashSetMin {
		size = hashSetMin
	}
	s.slots, s.n = make([]uint64, size), 0
	mask := uint64(size - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := fmix(h) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h
		s.n++
	}
}

// all yields every hash in the set, in no particular order (for x :=
// range s.all, as over a map's keys).
func (s *hashSet) all(yield func(uint64) bool) {
	if s.zero && !yield(0) {
		return
	}
	if s.n == 0 {
		return
	}
	for _, h := range s.slots {
		if h != 0 && !yield(h) {
			return
		}
	}
}

// clear empties the set and keeps its array.
func (s *hashSet) clear() {
	if s.n > 0 {
		clear(s.slots)
	}
	s.n, s.zero = 0, false
}
