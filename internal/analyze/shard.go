package analyze

import (
	"math"
	"strconv"
	"sync"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

// A sharded replay runs the engine's stage on several goroutines. The
// reading goroutine runs the detector alone, in line order: it holds
// what links an actor's keys (crew keys and signals). Then each engine
// goroutine takes the keys of its partitions (memory.Partition modulo the
// goroutines) through the engine, a key at a time, in line order: first
// every line's address key with the risk assessment that reads the
// address's traffic (Engine.Score), then, once every goroutine is done
// with the chunk's addresses, every line's other keys, the crew key's
// sanction from that assessment among them. A key's calls are the ones
// Admit and Observe make on it, in the same order, and no call reads or
// changes another key's state; the meter keeps addresses in shards of
// their own and a partition's keys in shards no other partition uses, so
// each shard sees its calls in the order the one-goroutine replay makes
// them and evicts alike. Decisions go to each goroutine's list with their
// line, and the bounds the peaks read to their line's slots; the
// analyzer's stage applies them in line order, as before.

// shardBuf is a chunk's part in a sharded replay.
type shardBuf struct {
	addressed sync.WaitGroup // every engine goroutine is done with the chunk's address keys
	metered   sync.WaitGroup // ... and with its other keys
	decs      [][]lineDecision
	bounds    []uint32
}

// lineDecision is a decision and the index of its line in the chunk.
type lineDecision struct {
	ev int
	d  decision
}

// engineWorker is one engine goroutine of a sharded replay.
type engineWorker struct {
	a       *Analyzer
	w, n    int
	list    *[]lineDecision // the chunk's list of this goroutine's decisions
	cur     int             // the line being replayed
	sink    func(engine.Decision)
	counts  [identity.NumKinds][]uint64
	touched [identity.NumKinds]uint64
	counted [identity.NumKinds]uint64
}

func (a *Analyzer) newWorker(w, n int) *engineWorker {
	x := &engineWorker{a: a, w: w, n: n}
	for i := range x.counts {
		x.counts[i] = make([]uint64, a.o.Engine.CountsLen())
	}
	x.sink = func(d engine.Decision) {
		*x.list = append(*x.list, lineDecision{ev: x.cur, d: decision{key: d.Key, t: d.Time, rule: d.Rule, action: d.Action.String(), count: d.Count, signals: d.Signals}})
	}
	return x
}

func (x *engineWorker) mine(k identity.Key) bool {
	return k.Hash != 0 && memory.Partition(k)%x.n == x.w
}

// addresses replays the chunk's address keys of this goroutine's
// partitions, and the risk of every line whose address is one of them.
func (x *engineWorker) addresses(c *chunk) {
	defer c.sh.addressed.Done()
	x.list = &c.sh.decs[x.w]
	*x.list = (*x.list)[:0]
	for i := range c.evs {
		ev := &c.evs[i]
		ip := ev.act.Keys[identity.IP]
		if ev.live && (x.mine(ip) || ip.Hash == 0 && x.w == 0) {
			x.address(c, i)
		}
	}
}

// address replays line i's address key and assesses the line's risk.
func (x *engineWorker) address(c *chunk, i int) {
	e := x.a.o.Engine
	ev := &c.evs[i]
	ip := ev.act.Keys[identity.IP]
	x.cur = i
	act := &ev.act
	e.AdmitKey(ev.t, act, identity.IP, ev.route, ev.pre, x.sink)
	ev.risk = e.Score(ev.t, act, ev.route, ev.pre)
	ev.sig = ev.risk.Signals
	if k := ev.risk.Key(act); k.Hash != 0 && k.Kind == identity.IP {
		e.Sanction(ev.t, act, ev.route, &ev.risk, x.sink)
	}
	if ip.Hash != 0 {
		x.observe(ev, identity.IP)
		x.bounds(c, ev, identity.IP)
	}
}

// others replays the chunk's other keys of this goroutine's partitions,
// once every goroutine has replayed the chunk's addresses.
func (x *engineWorker) others(c *chunk) {
	defer c.sh.metered.Done()
	c.sh.addressed.Wait()
	x.list = &c.sh.decs[x.n+x.w]
	*x.list = (*x.list)[:0]
	for i := range c.evs {
		ev := &c.evs[i]
		if !ev.live {
			continue
		}
		var mine [identity.NumKinds]bool
		for kind := identity.IP + 1; kind < identity.NumKinds; kind++ {
			mine[kind] = x.mine(ev.act.Keys[kind])
		}
		x.other(c, i, &mine)
	}
}

// other replays line i's keys of the kinds marked in mine (not the
// address), once the line's risk is assessed.
func (x *engineWorker) other(c *chunk, i int, mine *[identity.NumKinds]bool) {
	if *mine == [identity.NumKinds]bool{} {
		return
	}
	e := x.a.o.Engine
	ev := &c.evs[i]
	act := &ev.act
	x.cur = i
	for kind := identity.IP + 1; kind < identity.NumKinds; kind++ {
		if mine[kind] {
			e.AdmitKey(ev.t, act, kind, ev.route, ev.pre, x.sink)
		}
	}
	if k := ev.risk.Key(act); k.Hash != 0 && k.Kind != identity.IP && mine[k.Kind] {
		e.Sanction(ev.t, act, ev.route, &ev.risk, x.sink)
	}
	for kind := identity.IP + 1; kind < identity.NumKinds; kind++ {
		if mine[kind] {
			x.observe(ev, kind)
		}
	}
	for kind := identity.IP + 1; kind < identity.NumKinds; kind++ {
		if mine[kind] {
			x.bounds(c, ev, kind)
		}
	}
}

// A shard pass (Options.Parts) replays the engine on the reading
// goroutine, line by line after the detector, because the detector
// reads the engine: whether the sweepers' crew is sanctioned decides
// whether a lookalike joins it (detect.Detector.SetCrewSanctioned), and
// that is the engine's state after the line before. Every pass replays
// every address key (a line's risk rests on its address's traffic, and
// the crew's and every other key's decisions carry it) and every
// sweepers' crew key (the crew the detector asks about: its key is the
// same whoever sweeps), and only its own other keys; it holds and judges
// only its own keys. passEngine is that replay.
type passEngine struct {
	addr, other *engineWorker
}

// begin readies chunk c for the pass's replay.
func (p *passEngine) begin(c *chunk) {
	sh := &c.sh
	sh.bounds = sh.bounds[:0]
	if len(sh.decs) != 2 {
		sh.decs = make([][]lineDecision, 2)
	}
	sh.decs[0], sh.decs[1] = sh.decs[0][:0], sh.decs[1][:0]
	p.addr.list, p.other.list = &sh.decs[0], &sh.decs[1]
}

// line replays line i of c through the engine, after the detector.
func (p *passEngine) line(c *chunk, i int, slots int) {
	if n := slots - len(c.sh.bounds); n > 0 {
		c.sh.bounds = append(c.sh.bounds, make([]uint32, n)...)
	}
	p.addr.address(c, i)
	ev := &c.evs[i]
	a := p.addr.a
	var mine [identity.NumKinds]bool
	for kind := identity.IP + 1; kind < identity.NumKinds; kind++ {
		k := ev.act.Keys[kind]
		mine[kind] = k.Hash != 0 && (a.own(k) || kind == identity.Crew && ev.pre&detect.ColdSweep != 0)
	}
	p.other.other(c, i, &mine)
}

func (x *engineWorker) observe(ev *event, kind identity.Kind) {
	x.touched[kind], x.counted[kind] = x.a.o.Engine.ObserveKey(ev.t, &ev.act, kind,
		engine.Exchange{Route: ev.route, Records: ev.recs, Miss: ev.miss, Signals: ev.sig}, x.counts[kind], x.sink)
}

// bounds writes the bounds the peaks read of the line's key of the given
// kind to its slots, as Analyzer.bounds does for the whole line: the
// bound Observe wrote unless a count was asked since, an estimate past
// exact_up_to with suggestions.
func (x *engineWorker) bounds(c *chunk, ev *event, kind identity.Kind) {
	a := x.a
	per := a.boundsPerKey(ev)
	if per == 0 {
		return
	}
	pos := int(ev.boff)
	for kd := identity.Kind(0); kd < kind; kd++ {
		if ev.act.Keys[kd].Hash != 0 {
			pos += per
		}
	}
	k := ev.act.Keys[kind]
	wins, ents, at := a.peakWins(), entBits(ev.recs), ev.t.UnixNano()
	nw := len(a.o.Meter.Windows())
	exact := math.MaxInt
	if m, ok := a.o.Meter.(interface{ ExactUpTo() int }); ok {
		exact = m.ExactUpTo()
	}
	// The kept bounds are as sure as Capture's, and used when it would be.
	kept := a.o.Capture != nil
	for ent := range a.entities {
		if ents&(1<<ent) == 0 {
			continue
		}
		for _, wi := range wins {
			var b uint64
			if i := ent*nw + wi; kept && i < 64 && x.touched[kind]&(1<<ent) != 0 && x.counted[kind]&(1<<i) == 0 {
				b = x.counts[kind][i]
			} else {
				b = a.o.Meter.Bound(at, k, ent, wi)
			}
			if b > uint64(exact) && a.o.Suggest {
				b = a.estimate(at, k, ent, wi, b)
			}
			c.sh.bounds[pos] = uint32(min(b, 1<<31))
			pos++
		}
	}
}

// boundsPerKey is how many bounds the peaks read of each key of ev's.
func (a *Analyzer) boundsPerKey(ev *event) int {
	if a.o.Meter == nil || len(ev.recs) == 0 {
		return 0
	}
	ents, n := entBits(ev.recs), 0
	for ent := range a.entities {
		if ents&(1<<ent) != 0 {
			n++
		}
	}
	return n * len(a.peakWins())
}

// detect is the reading goroutine's part of a sharded replay for one line:
// the detector (the crew key and the signals), and the line's slots for
// the peaks' bounds from *slots on.
func (a *Analyzer) detect(ev *event, slots *int) {
	ev.live = true
	ev.pre = 0
	if a.o.Detector != nil {
		ev.pre = a.o.Detector.Assess(&ev.act, ev.tr)
	}
	ev.sig = ev.pre
	if a.o.Detector != nil {
		a.o.Detector.Served(&ev.act, ev.recs)
	}
	ev.boff = int32(*slots)
	if per := a.boundsPerKey(ev); per > 0 {
		for _, k := range ev.act.Keys {
			if k.Hash != 0 {
				*slots += per
			}
		}
	}
}

// tallySharded is tallyChunk for a sharded replay: each line's decisions
// gathered from the engine goroutines' lists.
func (a *Analyzer) tallySharded(c *chunk) {
	at := make([]int, len(c.sh.decs))
	var decs []decision
	for i := range c.evs {
		ev := &c.evs[i]
		switch {
		case ev.skip:
		case ev.err != nil:
			a.malformed(c.name+":"+strconv.Itoa(ev.line), ev.err)
		case !ev.live:
			a.lines++
			a.outside++
		default:
			decs = decs[:0]
			for w, l := range c.sh.decs {
				for at[w] < len(l) && l[at[w]].ev == i {
					if d := l[at[w]].d; a.own(d.key) { // a shard pass replays every address, and holds its own
						decs = append(decs, d)
					}
					at[w]++
				}
			}
			a.tally(ev, decs, c.sh.bounds, int(ev.boff))
		}
	}
}

// The detector reads the engine: whether the sweepers' crew is sanctioned
// decides whether a lookalike joins it (detect.Detector.SetCrewSanctioned),
// as the engine stands after the line before. In a sharded replay the
// engine's goroutines run chunks behind the detector, so when the
// detector asks, the syncer waits for them to finish every chunk handed
// to them, replays the current chunk's lines before the one asking on
// the reading goroutine (in line order, every key), answers, and replays
// the rest of that chunk there too, line by line after the detector.
// Other chunks go to the goroutines as before. The detector asks only on
// lines with a sweeper's evidence that no quorum recruited, so most
// chunks never wait.
type syncer struct {
	a      *Analyzer
	shards int
	x, y   *engineWorker // the address and the other keys' calls, for every partition
	last   *chunk        // the last chunk handed to the goroutines
	cur    *chunk        // the chunk being detected
	line   int           // the line being detected in it
	slots  *int          // its bounds' slots laid out so far
	inline bool          // cur is replayed here
	done   int           // its lines replayed here so far
}

// crewSanctioned answers the detector as the engine stands after the
// line before the one being detected.
func (s *syncer) crewSanctioned(now int64, crew identity.Key) int64 {
	s.settle()
	return s.a.crewSanctioned(now, crew)
}

// settle brings the engine to where it stands after the line before the
// one being detected: the goroutines finish every chunk handed to them,
// and the current chunk's lines before it are replayed here, as the
// rest of it will be.
func (s *syncer) settle() {
	if !s.inline {
		if s.last != nil {
			s.last.sh.metered.Wait()
		}
		c := s.cur
		sh := &c.sh
		if len(sh.decs) != 2*s.shards {
			sh.decs = make([][]lineDecision, 2*s.shards)
		}
		for i := range sh.decs {
			sh.decs[i] = sh.decs[i][:0]
		}
		sh.bounds = sh.bounds[:0]
		s.x.list, s.y.list = &sh.decs[0], &sh.decs[s.shards]
		s.inline, s.done = true, 0
	}
	s.catchUp(s.line, *s.slots)
}

// catchUp replays the current chunk's lines up to (not including) upto
// here; slots is its bounds' slots laid out so far.
func (s *syncer) catchUp(upto, slots int) {
	c := s.cur
	if n := slots - len(c.sh.bounds); n > 0 {
		c.sh.bounds = append(c.sh.bounds, make([]uint32, n)...)
	}
	all := [identity.NumKinds]bool{}
	for s.done < upto {
		i := s.done
		s.done++
		ev := &c.evs[i]
		if !ev.live {
			continue
		}
		s.x.address(c, i)
		for kind := identity.IP + 1; kind < identity.NumKinds; kind++ {
			all[kind] = ev.act.Keys[kind].Hash != 0
		}
		s.y.other(c, i, &all)
	}
}

// crewSanctioned is what the stack tells the detector: when crew's
// sanctions in force at now end (0: none).
func (a *Analyzer) crewSanctioned(now int64, crew identity.Key) int64 {
	return a.o.Engine.SanctionedUntil(now, crew)
}
