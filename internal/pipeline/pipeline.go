// Package pipeline owns what happens to a request once its front end has
// identified the actor, matched the route and (after serving) read the
// records: the detector's signals and crew key, the engine's verdict, then
// the metering and the detector's history. The proxy, the auth endpoint,
// the log follower, `analyze` and the simulator all go through it, so the
// order (assess, admit; meter, teach the detector) is written once and
// every front end judges a request the same way.
//
// Front ends differ only where they must: what they can see of a request
// (Traits: a log has no headers, sessions or bodies) and what they do with
// a verdict (refuse, decoy, record it for a report).
package pipeline

import (
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
)

// Pipeline judges and meters requests. The zero Detector leaves out the
// signals (tests of the engine alone).
type Pipeline struct {
	Detector *detect.Detector
	Engine   *engine.Engine
}

// Admit assesses the request (traits nil: another source assesses it, as
// the edge's log does for the auth endpoint) and returns the engine's
// verdict on it. route is the record route, "" for any other request;
// passed, whether the client solved a challenge.
func (p Pipeline) Admit(now time.Time, a *identity.Actor, traits *detect.Traits, route string, passed bool) engine.Verdict {
	var sig detect.Signals
	if p.Detector != nil && traits != nil {
		sig = p.Detector.Assess(a, *traits)
	}
	return p.Engine.Admit(now, a, route, sig, passed)
}

// Observe meters what an admitted request was served (x.Signals are its
// verdict's) and adds it to the detector's history.
func (p Pipeline) Observe(now time.Time, a *identity.Actor, x engine.Exchange) {
	p.Engine.Observe(now, a, x)
	if p.Detector != nil {
		p.Detector.Served(a, x.Records)
	}
}
