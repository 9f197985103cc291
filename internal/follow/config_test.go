package follow

import (
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/config"
)

func TestFromConfigOffOrBadFormat(t *testing.T) {
	if f, err := FromConfig(config.Follow{Syslog: "off"}, Options{}); f != nil || err != nil {
		t.Errorf("off: %v %v", f, err)
	}
	if _, err := FromConfig(config.Follow{Syslog: "127.0.0.1:0", Format: "nope"}, Options{}); err == nil || !strings.HasPrefix(err.Error(), "follow: ") {
		t.Errorf("a bad format: %v", err)
	}
}
