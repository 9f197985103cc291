package config

import (
	"fmt"
	"github.com/leakguard/leakguard/internal/human"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration that also accepts days ("30d") and weeks ("2w"),
// because budgets are naturally written over days and Go's parser stops at hours.
type Duration time.Duration

// ParseDuration parses Go durations plus the d and w units, e.g. "1d12h", "30d".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := s
	// Peel off leading d/w components; hand the remainder to time.ParseDuration.
	for {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9') {
			i++
		}
		if i == 0 || i >= len(rest) || (rest[i] != 'd' && rest[i] != 'w') {
			break
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		unit := 24 * time.Hour
		if rest[i] == 'w' {
			unit *= 7
		}
		total += time.Duration(n) * unit
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 90s, 15m, 1h, 30d)", s)
		}
		total += d
	}
	return total, nil
}

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	// A *yaml.TypeError, not another error: the decoder then goes on with
	// the rest of the file, so that Validate can report every problem.
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: expected a duration such as 1h or 30d", n.Line)}}
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes a duration as it would be written by hand (1h, 30d),
// so printed budgets can be pasted back into a config.
func (d Duration) MarshalYAML() (any, error) { return FormatDuration(d.D()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String prints whole days as "Nd" so window names stay readable in logs.
func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

// FormatDuration prints d compactly, using days when d is a whole number of them.
func FormatDuration(d time.Duration) string { return human.Window(d) }
