package admin

import (
	"slices"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

// KeepUnblocks is eng as the admin API controls it, with each unblock also
// passed to unblocked: a block kept in state.db or shared with a fleet
// would otherwise come back after a restart, or stay on other proxies.
func KeepUnblocks(eng *engine.Engine, unblocked func(identity.Key)) Engine {
	return keptEngine{eng, unblocked}
}

type keptEngine struct {
	*engine.Engine
	unblocked func(identity.Key)
}

func (a keptEngine) Unblock(k identity.Key) bool {
	found := a.Engine.Unblock(k)
	a.unblocked(k)
	return found
}

// DetailOf is one key's drill-down at now: distinct records per bucket in
// each window (entities with none left out), traffic, and the sanctions in
// force.
func DetailOf(m *memory.Memory, eng *engine.Engine, entities []string, k identity.Key, now time.Time) ActorDetail {
	at := now.UnixNano()
	d := ActorDetail{Key: k.String(), Series: map[string]map[string][]uint64{}, Buckets: map[string]string{},
		Requests: map[string]uint64{}, Misses: map[string]uint64{}, Sanctions: []map[string]any{}}
	for wi, w := range m.Windows() {
		name := config.FormatDuration(w)
		d.Series[name] = map[string][]uint64{}
		d.Buckets[name] = config.FormatDuration(m.Resolution(wi))
		for ent, e := range entities {
			if series := m.Series(at, k, ent, wi); slices.ContainsFunc(series, func(v uint64) bool { return v > 0 }) {
				d.Series[name][e] = series
			}
		}
		d.Requests[name], d.Misses[name] = m.Traffic(at, k, wi)
	}
	eng.EachSanctionOf(at, k, func(x engine.Sanction) {
		d.Sanctions = append(d.Sanctions, map[string]any{"rule": x.Rule, "action": x.Action.String(), "shadow": x.Shadow, "until": time.Unix(0, x.Until).UTC()})
	})
	return d
}
