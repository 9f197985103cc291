package admin

import (
	"fmt"
	"github.com/leakguard/leakguard/internal/atomicfile"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/leakguard/leakguard/internal/keyed"
)

// minTokenLen is the shortest token accepted: a bearer token is the whole
// of the admin API's authentication.
const minTokenLen = 16

// LoadToken returns the admin token: fromEnv (the value of $envName) if
// set, else the one kept in stateDir/admin-token, generated and kept on
// first start so a restart does not sign the operator out. The token is
// never logged, only where it is kept.
func LoadToken(fromEnv, envName, stateDir string, log *slog.Logger) (string, error) {
	if fromEnv = strings.TrimSpace(fromEnv); fromEnv != "" {
		if len(fromEnv) < minTokenLen {
			return "", fmt.Errorf("admin token in $%s is too short: want at least %d characters", envName, minTokenLen)
		}
		return fromEnv, nil
	}
	file := filepath.Join(stateDir, "admin-token")
	if b, err := os.ReadFile(file); err == nil && len(strings.TrimSpace(string(b))) >= minTokenLen {
		log.Info("admin token read from file (set $"+envName+" to choose one)", "file", file)
		return strings.TrimSpace(string(b)), nil
	}
	tok, err := keyed.RandomHex(24)
	if err != nil {
		return "", err
	}
	if err := atomicfile.Write(file, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keeping admin token: %w", err)
	}
	log.Info("generated an admin token (set $"+envName+" to choose one)", "file", file)
	return tok, nil
}
