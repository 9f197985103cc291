package redis

import (
	"strings"
	"testing"
)

// Key names come from the server under audit; patterns reach the report.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{"user:13912345678", "mail:a@b.c", "a/b|c#d", "", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		p := Pattern(key)
		if p == "" {
			t.Fatalf("Pattern(%q) is empty", key)
		}
		// No run of 4+ digits (a phone, an id) survives into a pattern.
		run := 0
		for _, c := range p {
			if c >= '0' && c <= '9' {
				if run++; run >= 4 {
					t.Fatalf("Pattern(%q) = %q keeps a digit run", key, p)
				}
			} else {
				run = 0
			}
		}
		if strings.Contains(key, "@") && strings.Contains(p, "@") {
			t.Fatalf("Pattern(%q) = %q keeps an email", key, p)
		}
	})
}
