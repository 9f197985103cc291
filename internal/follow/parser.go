package follow

import (
	"fmt"
	"strings"

	"github.com/leakguard/leakguard/internal/logs"
)

// ParserOf returns the parser for a log format, with analyze's options
// (--format, --log-format, --account-var, --session-var, --fields), and
// whether the format records sessions.
func ParserOf(format, logFormat, accountVar, sessionVar, fields string) (logs.Parser, bool, error) {
	switch format {
	case "", "combined", "common":
		return logs.Combined{}, false, nil
	case "nginx", "alb":
		lf := logFormat
		if format == "alb" {
			lf = logs.ALBFormat
		}
		if lf == "" {
			return nil, false, fmt.Errorf("format nginx needs log_format: the log_format string nginx writes")
		}
		f, err := logs.NewNginxFormat(lf)
		if err != nil {
			return nil, false, err
		}
		f.Account, f.Session = strings.TrimPrefix(accountVar, "$"), strings.TrimPrefix(sessionVar, "$")
		return f, f.Session != "", nil
	case "json":
		j, err := logs.ParseJSONFields(fields)
		return j, j.Session != "", err
	}
	return nil, false, fmt.Errorf("format %q: want combined, nginx, json or alb", format)
}
