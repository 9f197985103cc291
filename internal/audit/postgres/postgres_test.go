package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/testserver"
)

func phone(i int) string { return fmt.Sprintf("139%08d", 20000000+i) }

// seed creates database shop with synthetic customers (personal data),
// products (none) and JSON profiles (phones inside jsonb).
func seed(t *testing.T, addr string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	c, err = pgx.Connect(ctx, "postgres://postgres@"+addr+"/shop?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, q := range []string{
		`CREATE TABLE customers (id serial PRIMARY KEY, name text, phone text, email text, address text, created timestamptz DEFAULT now())`,
		`INSERT INTO customers (name, phone, email, address)
		   SELECT 'Customer ' || i, '139' || lpad((20000000 + i)::text, 8, '0'), 'c' || i || '@example.com', i || ' Wenyi West Road, Hangzhou'
		   FROM generate_series(0, 499) i`,
		`CREATE TABLE products (id serial PRIMARY KEY, name text, price numeric)`,
		`INSERT INTO products (name, price) SELECT 'Product ' || i, i * 1.5 FROM generate_series(1, 100) i`,
		`CREATE SCHEMA crm`,
		`CREATE TABLE crm.profiles (id int PRIMARY KEY, data jsonb)`,
		`INSERT INTO crm.profiles SELECT i, jsonb_build_object('contact', jsonb_build_object('mobile', '139' || lpad((20000000 + i)::text, 8, '0')), 'level', 3) FROM generate_series(1, 50) i`,
		`ANALYZE`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func run(t *testing.T, url string) audit.Finding {
	t.Helper()
	tg, err := audit.ParseTarget(url)
	if err != nil {
		t.Fatal(err)
	}
	tg.Timeout = 30 * time.Second
	return audit.Run(context.Background(), []audit.Target{tg}, map[string]audit.Prober{"postgres": &Prober{}},
		audit.NewClassifier([]string{"CN"}), 1, nil)[0]
}

func TestPostgresTrustThenPassword(t *testing.T) {
	srv := testserver.Postgres(t)
	seed(t, srv.Addr)

	f := run(t, "postgres://"+srv.Addr)
	if f.Status != audit.Exposed || f.Severity != audit.SevCritical || f.TLS != "no" || !strings.HasPrefix(f.Version, "1") {
		t.Fatalf("trust auth: %s %s tls=%s version=%q err=%q", f.Status, f.Severity, f.TLS, f.Version, f.Error)
	}
	if !strings.Contains(f.Access, `"postgres"`) || len(f.Notes) == 0 || !strings.Contains(f.Notes[0], "superuser") {
		t.Errorf("access %q notes %v", f.Access, f.Notes)
	}
	got := map[string]audit.Collection{}
	for _, c := range f.Collections {
		got[c.Name] = c
	}
	for name, want := range map[string]int64{"shop.public.customers": 500, "shop.public.products": 0, "shop.crm.profiles": 50} {
		c, ok := got[name]
		if !ok {
			t.Errorf("no %s in %v", name, f.Collections)
			continue
		}
		if c.RecordsAtRisk != want || !c.CountExact {
			t.Errorf("%s: %d at risk (count %d exact=%v, %d/%d), want %d", name, c.RecordsAtRisk, c.Count, c.CountExact, c.WithPII, c.Sampled, want)
		}
	}
	if f.RecordsAtRisk != 550 {
		t.Errorf("records at risk = %d, want 550", f.RecordsAtRisk)
	}
	var out strings.Builder
	r := audit.NewReport([]audit.Finding{f}, time.Unix(0, 0))
	r.WriteText(&out)
	r.WriteJSON(&out)
	for i := 0; i < 500; i++ {
		if strings.Contains(out.String(), phone(i)) {
			t.Fatalf("report holds the raw phone of customer %d", i)
		}
	}

	// Close it: a password for the superuser and scram in pg_hba.conf.
	c, err := pgx.Connect(context.Background(), "postgres://postgres@"+srv.Addr+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(context.Background(), "ALTER ROLE postgres PASSWORD 's3cret'"); err != nil {
		t.Fatal(err)
	}
	c.Close(context.Background())
	srv.SetHBA("scram-sha-256")

	f = run(t, "postgres://"+srv.Addr)
	if f.Status != audit.Closed || len(f.Collections) != 0 || audit.ExitCode([]audit.Finding{f}) != 0 {
		t.Fatalf("password auth: %s cols=%d access=%q err=%q", f.Status, len(f.Collections), f.Access, f.Error)
	}
	f = run(t, "postgres://postgres:s3cret@"+srv.Addr+"/shop")
	if f.Status != audit.Closed || !f.WithCredentials || f.PersonalRecords != 550 || f.RecordsAtRisk != 0 {
		t.Fatalf("with credentials: %s with=%v personal=%d notes=%v", f.Status, f.WithCredentials, f.PersonalRecords, f.Notes)
	}
}

func TestPostgresUnreachable(t *testing.T) {
	f := run(t, fmt.Sprintf("postgres://127.0.0.1:%d", testserver.FreePort(t)))
	if f.Status != audit.Error || f.Error == "" {
		t.Fatalf("finding: %+v", f)
	}
	// pgx puts the cause after a line ending in a colon, which was all
	// the report showed (found by a probe, 2026-12-05).
	if strings.HasSuffix(f.Error, ":") || !strings.Contains(f.Error, "refused") {
		t.Errorf("the error does not say why: %q", f.Error)
	}
}
