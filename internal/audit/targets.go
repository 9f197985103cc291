package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Inventory is a targets file:
//
//	sample: 20            # rows/documents/values sampled per collection
//	max_collections: 200  # collections inventoried per target
//	timeout: 60s          # per target
//	targets:
//	  - url: es://10.0.3.7:9200
//	  - url: postgres://db-1:5432/shop
//	    user: auditor                    # optional credentials: used only to
//	    password_env: DB1_AUDIT_PASSWORD # inventory a store that refused a stranger
type Inventory struct {
	Sample         int           `yaml:"sample"`
	MaxCollections int           `yaml:"max_collections"`
	Timeout        string        `yaml:"timeout"`
	Targets        []targetEntry `yaml:"targets"`
}

type targetEntry struct {
	URL          string `yaml:"url"`
	Name         string `yaml:"name"`
	User         string `yaml:"user"`
	Password     string `yaml:"password"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	Sample       int    `yaml:"sample"`
	Timeout      string `yaml:"timeout"`
}

// LoadTargets reads a targets file. Every problem is reported, each with
// its file and line.
func LoadTargets(path string, getenv func(string) string) ([]Target, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var inv Inventory
	if err := dec.Decode(&inv); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	lines := targetLines(&root)
	var errs []error
	at := func(i int, format string, a ...any) {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		errs = append(errs, fmt.Errorf("%s:%d: targets[%d]: %s", path, line, i, fmt.Sprintf(format, a...)))
	}
	var defTimeout time.Duration
	if inv.Timeout != "" {
		if defTimeout, err = time.ParseDuration(inv.Timeout); err != nil || defTimeout <= 0 {
			errs = append(errs, fmt.Errorf("%s: timeout %q: want a positive duration such as 60s", path, inv.Timeout))
		}
	}
	if len(inv.Targets) == 0 {
		errs = append(errs, fmt.Errorf("%s: no targets listed", path))
	}
	var out []Target
	for i, e := range inv.Targets {
		t, err := ParseTarget(e.URL)
		if err != nil {
			at(i, "%v", err)
			continue
		}
		if e.Name != "" {
			t.Name = e.Name
		}
		if e.User != "" {
			t.User = e.User
		}
		n := 0
		for _, p := range []string{e.Password, e.PasswordEnv, e.PasswordFile} {
			if p != "" {
				n++
			}
		}
		if n > 1 {
			at(i, "give one of password, password_env and password_file")
		}
		switch {
		case e.PasswordEnv != "":
			if t.Password = getenv(e.PasswordEnv); t.Password == "" {
				at(i, "password_env: $%s is empty or unset", e.PasswordEnv)
			}
		case e.PasswordFile != "":
			pw, err := os.ReadFile(e.PasswordFile)
			if err != nil {
				at(i, "password_file: %v", err)
			}
			t.Password = string(bytes.TrimSpace(pw))
		case e.Password != "":
			t.Password = e.Password
		}
		if inv.Sample != 0 {
			t.Sample = inv.Sample
		}
		if e.Sample != 0 {
			t.Sample = e.Sample
		}
		if t.Sample < 1 || t.Sample > 10_000 {
			at(i, "sample %d: want 1 to 10000", t.Sample)
		}
		if inv.MaxCollections != 0 {
			t.MaxCollections = inv.MaxCollections
		}
		if t.MaxCollections < 1 {
			at(i, "max_collections must be positive")
		}
		if defTimeout > 0 {
			t.Timeout = defTimeout
		}
		if e.Timeout != "" {
			d, err := time.ParseDuration(e.Timeout)
			if err != nil || d <= 0 {
				at(i, "timeout %q: want a positive duration such as 60s", e.Timeout)
			}
			t.Timeout = d
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

// targetLines finds the line of each entry under "targets:".
func targetLines(root *yaml.Node) []int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "targets" {
			var lines []int
			for _, n := range m.Content[i+1].Content {
				lines = append(lines, n.Line)
			}
			return lines
		}
	}
	return nil
}
