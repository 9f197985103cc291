package follow

import (
	"fmt"

	"github.com/leakguard/leakguard/internal/config"
)

// FromConfig receives the edge's access log as the config's follow
// section says (address, tag, format, queue), into the engine and stack o
// names; nil when follow.syslog is off.
func FromConfig(f config.Follow, o Options) (*Follower, error) {
	if f.Syslog == "off" {
		return nil, nil
	}
	parser, sessions, err := ParserOf(f.Format, f.LogFormat, f.AccountVar, f.SessionVar, f.Fields)
	if err != nil {
		return nil, fmt.Errorf("follow: %w", err)
	}
	o.Addr, o.Tag, o.Parser, o.Sessions, o.Queue = f.Syslog, f.Tag, parser, sessions, f.Queue
	return Listen(o)
}
