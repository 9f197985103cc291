package engine

// Restore sets the learnt limits of the budgets marked Learn from kept
// ones (budget id → limit, as Learned returns them), within the bounds
// calibration keeps to: [Limit, LearnMax×Limit]. Ids of budgets no longer
// in force, or no longer learning, are ignored: a config changed since. It
// returns how many limits it set.
func (e *Engine) Restore(learnt map[string]uint64) int {
	n := 0
	for bi := range e.budgets {
		b := &e.budgets[bi]
		v, ok := learnt[b.ID]
		if !ok || !b.Learn || b.ent < 0 || b.Allowlisted || b.PerPerson {
			continue
		}
		e.learned[bi].Store(LearntWithin(b.Limit, v))
		n++
	}
	return n
}
