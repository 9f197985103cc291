package cli

import "github.com/leakguard/leakguard/internal/state"

// proxyState is the proxy's state lifecycle. st is its backend again, by
// the name the state tests reach it (c.state.st).
type proxyState struct {
	*state.Lifecycle
	st state.State
}
