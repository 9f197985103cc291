package audit

import (
	"errors"
	"strings"
	"time"
)

// Limits bound what is read of each target named by URL (an inventory
// file sets its own per target).
type Limits struct {
	Sample         int
	MaxCollections int
	Timeout        time.Duration
}

// CollectTargets parses the targets named by URL, each with lim, and adds
// those of the inventory file (if any). Every unusable target is named in
// the error, so an operator fixes them all at once.
func CollectTargets(urls []string, file string, lim Limits, getenv func(string) string) ([]Target, error) {
	var targets []Target
	var errs []error
	for _, raw := range urls {
		t, err := ParseTarget(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.Sample, t.MaxCollections, t.Timeout = lim.Sample, lim.MaxCollections, lim.Timeout
		targets = append(targets, t)
	}
	if file != "" {
		ts, err := LoadTargets(file, getenv)
		if err != nil {
			errs = append(errs, err)
		}
		targets = append(targets, ts...)
	}
	return targets, errors.Join(errs...)
}

// ParseRegions reads a comma-separated list of phone regions ("cn, us"),
// upper-cased, blanks dropped.
func ParseRegions(list string) []string {
	var regions []string
	for _, r := range strings.Split(list, ",") {
		if r = strings.TrimSpace(strings.ToUpper(r)); r != "" {
			regions = append(regions, r)
		}
	}
	return regions
}
