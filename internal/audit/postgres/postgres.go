// Package postgres probes PostgreSQL servers as a stranger would: it
// connects as the usual administrative roles with no password (trust
// authentication), and if it gets in lists databases and tables and samples
// rows inside read-only transactions.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/leakguard/leakguard/internal/audit"
)

// Prober probes PostgreSQL targets.
type Prober struct {
	// Users are the roles tried with no password (default postgres, root,
	// admin, pgsql).
	Users []string
	// MaxDatabases bounds the databases inventoried (default 20).
	MaxDatabases int
}

var _ audit.Prober = (*Prober)(nil)

var fixes = []string{
	"In pg_hba.conf replace trust lines (and any for remote hosts you do not expect) with scram-sha-256, then SELECT pg_reload_conf().",
	"Give every login role a password (ALTER ROLE name PASSWORD '...') and set listen_addresses to private interfaces only.",
	"Turn on TLS (ssl = on) and use hostssl lines so credentials and rows do not cross the network in clear.",
}

// exactBelow is the estimated row count under which a table is counted
// exactly with count(*).
const exactBelow = 1_000_000

func (p *Prober) connect(ctx context.Context, t audit.Target, user, pass, db string) (*pgx.Conn, error) {
	host, port, err := net.SplitHostPort(t.Host)
	if err != nil {
		return nil, err
	}
	sslmode := "prefer"
	if t.TLS {
		sslmode = "require"
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%s dbname=%s sslmode=%s connect_timeout=5", host, port, quoteDSN(db), sslmode))
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = user, pass
	cfg.RuntimeParams["application_name"] = "leakguard-audit"
	// Every statement of the audit runs read-only and briefly.
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.RuntimeParams["statement_timeout"] = "5000"
	return pgx.ConnectConfig(ctx, cfg)
}

func quoteDSN(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// refused tells an authentication refusal (wrong or missing password, no
// such role, no pg_hba entry) from a broken connection.
func refused(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "28") || pe.Code == "3D000" // 3D000: no such database
	}
	s := err.Error()
	return strings.Contains(s, "password") || strings.Contains(s, "SASL")
}

// Probe implements audit.Prober.
func (p *Prober) Probe(ctx context.Context, t audit.Target, cl *audit.Classifier) (f audit.Finding) {
	defer func() { f.SetFix(fixes[:2], fixes[2]) }()
	users := p.Users
	if len(users) == 0 {
		users = []string{"postgres", "root", "admin", "pgsql"}
	}
	if t.User != "" && t.Password == "" {
		users = append([]string{t.User}, users...)
	}
	db := t.Database
	if db == "" {
		db = "postgres"
	}
	var conn *pgx.Conn
	var lastErr error
	for _, u := range users {
		c, err := p.connect(ctx, t, u, "", db)
		if err == nil {
			conn = c
			f.Status = audit.Exposed
			f.Access = fmt.Sprintf("role %q connected with no password (trust authentication)", u)
			break
		}
		lastErr = err
		if !refused(err) {
			f.Status, f.Error = audit.Error, firstLine(err)
			return f
		}
	}
	if conn == nil {
		f.Status = audit.Closed
		f.Access = "no password-less role got in: " + firstLine(lastErr)
		if t.Password == "" {
			return f
		}
		c, err := p.connect(ctx, t, t.User, t.Password, db)
		if err != nil {
			f.Notes = append(f.Notes, "the given credentials were refused too: "+firstLine(err))
			return f
		}
		conn = c
		f.WithCredentials = true
	}
	defer conn.Close(context.Background())
	f.TLS = "no"
	var ssl bool
	if err := conn.QueryRow(ctx, "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)").Scan(&ssl); err == nil && ssl {
		f.TLS = "yes"
	}
	var version string
	var super bool
	conn.QueryRow(ctx, "SELECT current_setting('server_version'), coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)").Scan(&version, &super)
	f.Version = version
	if super && f.Status == audit.Exposed {
		f.Notes = append(f.Notes, "the role is a superuser: a stranger can also read server files and run programs on the host (COPY ... PROGRAM)")
	}
	user := conn.Config().User
	pass := conn.Config().Password
	dbs := []string{db}
	if t.Database == "" {
		dbs = p.databases(ctx, conn)
	}
	for _, name := range dbs {
		if ctx.Err() != nil || len(f.Collections) >= t.MaxCollections {
			f.Truncated = f.Truncated || len(f.Collections) >= t.MaxCollections
			break
		}
		c := conn
		if name != db {
			var err error
			if c, err = p.connect(ctx, t, user, pass, name); err != nil {
				f.Notes = append(f.Notes, fmt.Sprintf("database %s: %s", name, firstLine(err)))
				continue
			}
		}
		cols, trunc := p.inventory(ctx, c, name, t, cl, t.MaxCollections-len(f.Collections))
		if c != conn {
			c.Close(context.Background())
		}
		f.Collections = append(f.Collections, cols...)
		f.Truncated = f.Truncated || trunc
	}
	return f
}

func (p *Prober) databases(ctx context.Context, conn *pgx.Conn) []string {
	max := p.MaxDatabases
	if max <= 0 {
		max = 20
	}
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname LIMIT $1", max)
	if err != nil {
		return []string{conn.Config().Database}
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return []string{conn.Config().Database}
	}
	return names
}

type table struct {
	schema, name string
	estimate     int64
}

func (p *Prober) inventory(ctx context.Context, conn *pgx.Conn, db string, t audit.Target, cl *audit.Classifier, room int) ([]audit.Collection, bool) {
	rows, err := conn.Query(ctx, `
		SELECT n.nspname, c.relname, greatest(c.reltuples, 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'm')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
		  AND has_table_privilege(c.oid, 'SELECT')
		ORDER BY c.reltuples DESC, n.nspname, c.relname`)
	if err != nil {
		return []audit.Collection{{Name: db, Note: "listing tables failed: " + firstLine(err)}}, false
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
	if len(tables) > room {
		tables, trunc = tables[:room], true
	}
	var out []audit.Collection
	for _, tb := range tables {
		if ctx.Err() != nil {
			break
		}
		out = append(out, p.sample(ctx, conn, db, tb, t.Sample, cl))
	}
	return out, trunc
}

func (p *Prober) sample(ctx context.Context, conn *pgx.Conn, db string, tb table, n int, cl *audit.Classifier) audit.Collection {
	ident := pgx.Identifier{tb.schema, tb.name}.Sanitize()
	count, exact := tb.estimate, false
	if tb.estimate < exactBelow {
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&count); err == nil {
			exact = true
		}
	}
	col := audit.NewCollection(db+"."+tb.schema+"."+tb.name, count, exact)
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT * FROM %s LIMIT %d", ident, n))
	if err != nil {
		col.Note = "sampling failed: " + firstLine(err)
		return col
	}
	defer rows.Close()
	var names []string
	for _, fd := range rows.FieldDescriptions() {
		names = append(names, fd.Name)
	}
	col.Declare(names...)
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			continue
		}
		var row []audit.KV
		for i, v := range vals {
			row = appendValue(row, names[i], v)
		}
		cl.AddRow(&col, row)
	}
	return col
}

// appendValue turns a column value into classifiable text; JSON columns
// are flattened under the column's name.
func appendValue(row []audit.KV, name string, v any) []audit.KV {
	switch x := v.(type) {
	case nil:
		return row
	case string:
		return append(row, audit.KV{Name: name, Value: x})
	case []byte:
		return append(row, audit.KV{Name: name, Value: string(x)})
	case time.Time:
		return append(row, audit.KV{Name: name, Value: x.Format(time.RFC3339)})
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		kvs, err := audit.Flatten(b, 200)
		if err != nil {
			return row
		}
		for _, kv := range kvs {
			kv.Name = name + "." + kv.Name
			if kv.Name == name+"." {
				kv.Name = name
			}
			row = append(row, kv)
		}
		return row
	default:
		return append(row, audit.KV{Name: name, Value: fmt.Sprint(x)})
	}
}

// firstLine is err on one line. pgx puts the cause on the lines after
// "failed to connect to ...:", so the lines are joined, not cut at the
// first (which ended in a bare colon), and the whole is bounded.
func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
