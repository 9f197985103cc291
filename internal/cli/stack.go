package cli

import (
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/proxy"
	"github.com/leakguard/leakguard/internal/records"
	lgstack "github.com/leakguard/leakguard/internal/stack"
)

// stack is the engine and what feeds it, built from a config by
// stack.Build, as the proxy and analyze use it; metrics, once the proxy
// sets them, count every decision.
type stack struct {
	resolver  *identity.Resolver
	detector  *detect.Detector
	behaviour *detect.Behaviour
	ua        *detect.UAClassifier
	catalog   *records.Catalog
	meter     *memory.Memory
	engine    *engine.Engine
	metrics   *proxy.Metrics
	built     *lgstack.Stack
}

// stackOptions are what the proxy adds to the stack for state that
// outlives the process or is shared with other proxies.
type stackOptions = lgstack.Options

func buildStack(cfg *config.Config, h *keyed.Hasher, onDecision func(engine.Decision), getenv func(string) string, opts stackOptions) (*stack, error) {
	stk := &stack{}
	built, err := lgstack.Build(cfg, h, func(d engine.Decision) {
		if stk.metrics != nil {
			stk.metrics.Decision(d)
		}
		onDecision(d)
	}, getenv, opts)
	if err != nil {
		return nil, err
	}
	stk.resolver, stk.detector, stk.ua, stk.catalog, stk.meter, stk.engine = built.Resolver, built.Detector, built.UA, built.Catalog, built.Meter, built.Engine
	stk.behaviour = built.Behaviour
	stk.built = built
	return stk, nil
}

// configHasher returns the keyed hasher for cfg's secret: from secret.env if
// set, else secret.file (default <state.dir>/secret), generated on first use.
// Every command that hashes identifiers uses it, so their keys agree.
func configHasher(cfg *config.Config, getenv func(string) string) (h *keyed.Hasher, source string, created bool, err error) {
	return lgstack.Hasher(cfg, getenv)
}
