package sim

import (
	"net/netip"
	"time"

	"github.com/leakguard/leakguard/internal/config"
)

// The bench measures two policies over the same scenarios: what a new user
// gets by naming the record routes (the default policy), and the budgets-only
// baseline a per-address rate limit amounts to, so the scoreboard says what
// the defaults add.

// RoutesOnlyPolicy is what the scoreboard measures: a config as a new
// user writes it, naming the record routes and the partner's address and
// no budget, so the default policy decides. Defaults are the product.
func RoutesOnlyPolicy() *config.Config {
	cfg := shopRecords()
	cfg.Detect.Allow = []string{partnerPrefix()}
	return cfg
}

// BaselinePolicy is the core issue's budgets-only policy: 300 distinct users
// per address per hour, then a one-hour block.
func BaselinePolicy() *config.Config {
	cfg := shopRecords()
	hour := config.Duration(time.Hour)
	cfg.Budgets = []config.Budget{{Entity: "user", Per: "ip", Window: hour, Limit: 300, Action: "block", BlockFor: hour}}
	cfg.Risk.Bands = []config.RiskBand{} // budgets only
	off := false
	cfg.DefaultPolicy = &off
	cfg.Detect.Allow = []string{partnerPrefix()}
	return cfg
}

// shopRecords names the simulated shop's record routes.
func shopRecords() *config.Config {
	cfg := config.Default()
	cfg.Upstream = "http://shop.invalid"
	cfg.Records = []config.Record{
		{Route: "GET /api/users/{id}", Entity: "user"},
		{Route: "GET /api/items/{id}/reviews", Entity: "user", Body: "$.reviews[*].user.id"},
		{Route: "GET /api/lookup", Entity: "user", Body: "$.id", Lookup: "phone"},
	}
	cfg.PII.Detect = []string{"phone"}
	return cfg
}

// partnerPrefix allowlists the partner integration's address.
func partnerPrefix() string {
	ip := PartnerAddress
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}).String() + "/32"
}
