// Package human formats numbers for people reading a terminal or a report:
// every command and report prints counts, sizes and spans the same way, so
// "1,100,000" in the bench table and in an audit report mean one thing.
package human

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Count writes n with thousands separators: 1100000 is "1,100,000".
func Count(n int64) string {
	digits, sign := strconv.FormatInt(n, 10), ""
	if n < 0 {
		digits, sign = digits[1:], "-"
	}
	out := make([]byte, 0, len(digits)+len(digits)/3)
	for i := range len(digits) {
		if i > 0 && (len(digits)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, digits[i])
	}
	return sign + string(out)
}

// Bytes writes a size in binary units, one decimal past a KiB: "1.5 MiB".
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Span writes how long something took in its largest sensible unit, for
// spans from seconds to months ("45s", "12m", "3.5h", "2.0d"), where a
// time.Duration's "83h20m0s" is hard to compare down a column.
func Span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.0fm", d.Minutes())
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1fh", d.Hours())
	}
	return fmt.Sprintf("%.1fd", d.Hours()/24)
}

// Window writes a window as a config names it: "10m", "1h", "1d", "90m" →
// "1h30m". Reports print windows this way, so a suggested budget pastes
// into a config as it reads.
func Window(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	// "1h0m0s" -> "1h", "5m0s" -> "5m"
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
