package follow

import (
	"fmt"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/logs"
)

// FromConfig receives the edge's access log as the config's follow
// section says (address, senders, tag, format, queue), into the engine
// and stack o names; nil when follow.syslog is off.
func FromConfig(f config.Follow, o Options) (*Follower, error) {
	if f.Syslog == "off" {
		return nil, nil
	}
	parser, sessions, err := logs.ParserOf(logs.Spec{Format: f.Format, LogFormat: f.LogFormat, AccountVar: f.AccountVar, SessionVar: f.SessionVar, TLSVar: f.TLSVar, Fields: f.Fields})
	if err != nil {
		return nil, fmt.Errorf("follow: %w", err)
	}
	o.Senders = nil
	for i, s := range f.Senders {
		p, err := config.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("follow: follow.senders[%d]: %w", i, err)
		}
		o.Senders = append(o.Senders, p)
	}
	o.Addr, o.Tag, o.Parser, o.Sessions, o.Queue = f.Syslog, f.Tag, parser, sessions, f.Queue
	return Listen(o)
}
