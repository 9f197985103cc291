// Package mysql probes MySQL and MariaDB servers as a stranger would: root
// and the anonymous account with no password; if one gets in it lists
// schemas and tables and samples rows in read-only transactions.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/leakguard/leakguard/internal/audit"
)

// Prober probes MySQL/MariaDB targets.
type Prober struct {
	// Users are the accounts tried with no password (default root and the
	// anonymous account "").
	Users []string
}

var _ audit.Prober = (*Prober)(nil)

var fixes = []string{
	"Give root a password on every host it is defined for (ALTER USER 'root'@'localhost' IDENTIFIED BY '...'), and drop anonymous accounts (DROP USER ''@'localhost', ''@'%'); mariadb-secure-installation does both.",
	"Set bind-address to a private address and firewall port 3306.",
	"Require TLS (require_secure_transport = ON) so credentials and rows do not cross the network in clear.",
}

const exactBelow = 1_000_000

var systemSchemas = "'mysql','information_schema','performance_schema','sys'"

func (p *Prober) open(ctx context.Context, t audit.Target, user, pass string) (*sql.Conn, *sql.DB, error) {
	cfg := driver.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName = "tcp", t.Host, user, pass, t.Database
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 5*time.Second, 10*time.Second, 10*time.Second
	cfg.TLSConfig = "preferred"
	if t.TLS {
		cfg.TLSConfig = "skip-verify"
	}
	cfg.AllowNativePasswords = true
	cfg.AllowCleartextPasswords = false
	// Sessions are read-only where the server lets us say so: MySQL 8 and
	// MariaDB 11.1+ call it transaction_read_only, older ones tx_read_only;
	// the read-only transactions below cover servers that know neither.
	var err error
	for _, params := range []map[string]string{{"transaction_read_only": "1"}, {"tx_read_only": "1"}, nil} {
		cfg.Params = params
		connector, cerr := driver.NewConnector(cfg)
		if cerr != nil {
			return nil, nil, cerr
		}
		db := sql.OpenDB(connector)
		db.SetMaxOpenConns(1)
		conn, cerr := db.Conn(ctx)
		if cerr == nil {
			return conn, db, nil
		}
		db.Close()
		err = cerr
		var me *driver.MySQLError
		if !errors.As(err, &me) || me.Number != 1193 { // 1193: unknown system variable
			break
		}
	}
	return nil, nil, err
}

// refused: 1045 access denied, 1044 no access to database, 1698 auth
// plugin refused (unix_socket root), 1130 host not allowed.
func refused(err error) bool {
	var me *driver.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1044, 1045, 1698, 1130, 1251, 3159:
			return true
		}
	}
	return false
}

// Probe implements audit.Prober.
func (p *Prober) Probe(ctx context.Context, t audit.Target, cl *audit.Classifier) (f audit.Finding) {
	defer func() { f.SetFix(fixes[:2], fixes[2]) }()
	users := p.Users
	if users == nil {
		users = []string{"root", ""}
	}
	if t.User != "" && t.Password == "" {
		users = append([]string{t.User}, users...)
	}
	var conn *sql.Conn
	var db *sql.DB
	var lastErr error
	for _, u := range users {
		c, d, err := p.open(ctx, t, u, "")
		if err == nil {
			conn, db = c, d
			f.Status = audit.Exposed
			if u == "" {
				f.Access = "the anonymous account (any user name) connected with no password"
			} else {
				f.Access = fmt.Sprintf("user %q connected with an empty password", u)
			}
			break
		}
		lastErr = err
		if !refused(err) {
			f.Status, f.Error = audit.Error, err.Error()
			return f
		}
	}
	if conn == nil {
		f.Status = audit.Closed
		f.Access = "no password-less account got in: " + lastErr.Error()
		if t.Password == "" {
			return f
		}
		c, d, err := p.open(ctx, t, t.User, t.Password)
		if err != nil {
			f.Notes = append(f.Notes, "the given credentials were refused too: "+err.Error())
			return f
		}
		conn, db = c, d
		f.WithCredentials = true
	}
	defer db.Close()
	defer conn.Close()
	f.TLS = "no"
	var name, cipher string
	if conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher) == nil && cipher != "" {
		f.TLS = "yes"
	}
	conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&f.Version)
	f.Collections, f.Truncated = p.inventory(ctx, conn, t, cl)
	return f
}

type table struct {
	schema, name string
	estimate     int64
}

func (p *Prober) inventory(ctx context.Context, conn *sql.Conn, t audit.Target, cl *audit.Classifier) ([]audit.Collection, bool) {
	q := `SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES
	      WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (` + systemSchemas + `)`
	args := []any{}
	if t.Database != "" {
		q += " AND TABLE_SCHEMA = ?"
		args = append(args, t.Database)
	}
	q += " ORDER BY TABLE_ROWS DESC, TABLE_SCHEMA, TABLE_NAME"
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return []audit.Collection{{Name: "(tables)", Note: "listing tables failed: " + err.Error()}}, false
	}
	var tables []table
	for rows.Next() {
		var tb table
		if rows.Scan(&tb.schema, &tb.name, &tb.estimate) == nil {
			tables = append(tables, tb)
		}
	}
	rows.Close()
	trunc := false
	if len(tables) > t.MaxCollections {
		tables, trunc = tables[:t.MaxCollections], true
	}
	var out []audit.Collection
	for _, tb := range tables {
		if ctx.Err() != nil {
			break
		}
		out = append(out, p.sample(ctx, conn, tb, t.Sample, cl))
	}
	return out, trunc
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func (p *Prober) sample(ctx context.Context, conn *sql.Conn, tb table, n int, cl *audit.Classifier) audit.Collection {
	ident := quoteIdent(tb.schema) + "." + quoteIdent(tb.name)
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	col := audit.NewCollection(tb.schema+"."+tb.name, tb.estimate, false)
	if err != nil {
		col.Note = "read-only transaction refused: " + err.Error()
		return col
	}
	defer tx.Rollback()
	// InnoDB's TABLE_ROWS is an estimate; small tables are counted.
	if tb.estimate < exactBelow {
		var c int64
		if tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+ident).Scan(&c) == nil {
			col.Count, col.CountExact = c, true
		}
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf("SELECT * FROM %s LIMIT %d", ident, n))
	if err != nil {
		col.Note = "sampling failed: " + err.Error()
		return col
	}
	defer rows.Close()
	names, _ := rows.Columns()
	col.Declare(names...)
	raw := make([]sql.RawBytes, len(names))
	ptrs := make([]any, len(names))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if rows.Scan(ptrs...) != nil {
			continue
		}
		row := make([]audit.KV, 0, len(names))
		for i, v := range raw {
			if v == nil {
				continue
			}
			s := string(v)
			if len(s) > 0 && (s[0] == '{' || s[0] == '[') {
				if kvs, err := audit.Flatten(v, 200); err == nil {
					for _, kv := range kvs {
						kv.Name = strings.TrimSuffix(names[i]+"."+kv.Name, ".")
						row = append(row, kv)
					}
					continue
				}
			}
			row = append(row, audit.KV{Name: names[i], Value: s})
		}
		cl.AddRow(&col, row)
	}
	return col
}
