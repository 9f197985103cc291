package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/testserver"
)

func phone(i int) string { return fmt.Sprintf("139%08d", 30000000+i) }

func exec(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func seed(t *testing.T, db *sql.DB) {
	t.Helper()
	exec(t, db,
		"CREATE DATABASE shop",
		"CREATE TABLE shop.customers (id INT PRIMARY KEY, nickname VARCHAR(40), mobile VARCHAR(20), id_card CHAR(18), address VARCHAR(200))",
		"CREATE TABLE shop.products (id INT PRIMARY KEY, title VARCHAR(80), price DECIMAL(10,2))",
		"CREATE TABLE shop.events (id INT PRIMARY KEY, payload JSON)",
	)
	var b strings.Builder
	b.WriteString("INSERT INTO shop.customers VALUES ")
	for i := 0; i < 400; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "(%d, 'nick%d', '%s', NULL, '%d Nanshan Road, Shenzhen')", i, i, phone(i), i)
	}
	exec(t, db, b.String(),
		"INSERT INTO shop.products SELECT seq, CONCAT('Product ', seq), seq * 2 FROM mysql.seq_1_to_150",
		`INSERT INTO shop.events SELECT seq, JSON_OBJECT('kind', 'view', 'item', seq) FROM mysql.seq_1_to_80`,
	)
}

func run(t *testing.T, url string) audit.Finding {
	t.Helper()
	tg, err := audit.ParseTarget(url)
	if err != nil {
		t.Fatal(err)
	}
	tg.Timeout = 30 * time.Second
	return audit.Run(context.Background(), []audit.Target{tg}, map[string]audit.Prober{"mysql": &Prober{}},
		audit.NewClassifier([]string{"CN"}), 1, nil)[0]
}

func TestMariaDBPasswordlessRootThenPassword(t *testing.T) {
	srv := testserver.MariaDB(t)
	db, err := sql.Open("mysql", "root@tcp("+srv.Addr+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seed(t, db)

	f := run(t, "mysql://"+srv.Addr)
	if f.Status != audit.Exposed || f.Severity != audit.SevCritical || f.TLS != "no" || !strings.Contains(f.Version, "MariaDB") {
		t.Fatalf("passwordless root: %s %s tls=%s version=%q err=%q", f.Status, f.Severity, f.TLS, f.Version, f.Error)
	}
	if !strings.Contains(f.Access, `"root"`) {
		t.Errorf("access = %q", f.Access)
	}
	got := map[string]audit.Collection{}
	for _, c := range f.Collections {
		got[c.Name] = c
	}
	for name, want := range map[string]int64{"shop.customers": 400, "shop.products": 0, "shop.events": 0} {
		c, ok := got[name]
		if !ok {
			t.Errorf("no %s in %v", name, f.Collections)
			continue
		}
		if c.RecordsAtRisk != want || !c.CountExact {
			t.Errorf("%s: %d at risk (count %d, %d/%d), want %d", name, c.RecordsAtRisk, c.Count, c.WithPII, c.Sampled, want)
		}
	}
	var out strings.Builder
	audit.NewReport([]audit.Finding{f}, time.Unix(0, 0)).WriteText(&out)
	for i := 0; i < 400; i++ {
		if strings.Contains(out.String(), phone(i)) {
			t.Fatalf("report holds the raw phone of customer %d", i)
		}
	}

	// What mariadb-secure-installation does: root gets a password on every
	// host, anonymous accounts go.
	rows, err := db.Query("SELECT User, Host FROM mysql.user WHERE User IN ('root', '')")
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for rows.Next() {
		var u, h string
		rows.Scan(&u, &h)
		if u == "" || (h != "localhost" && h != "127.0.0.1" && h != "::1") {
			stmts = append(stmts, fmt.Sprintf("DROP USER IF EXISTS '%s'@'%s'", u, h))
		} else {
			stmts = append(stmts, fmt.Sprintf("ALTER USER 'root'@'%s' IDENTIFIED BY 's3cret'", h))
		}
	}
	rows.Close()
	exec(t, db, stmts...)
	db.Close()

	f = run(t, "mysql://"+srv.Addr)
	if f.Status != audit.Closed || len(f.Collections) != 0 || audit.ExitCode([]audit.Finding{f}) != 0 {
		t.Fatalf("with a root password: %s cols=%d access=%q err=%q", f.Status, len(f.Collections), f.Access, f.Error)
	}
	f = run(t, "mariadb://root:s3cret@"+srv.Addr+"/shop")
	if f.Status != audit.Closed || !f.WithCredentials || f.PersonalRecords != 400 {
		t.Fatalf("with credentials: %s with=%v personal=%d notes=%v", f.Status, f.WithCredentials, f.PersonalRecords, f.Notes)
	}
}

func TestMySQLUnreachable(t *testing.T) {
	f := run(t, fmt.Sprintf("mysql://127.0.0.1:%d", testserver.FreePort(t)))
	if f.Status != audit.Error || f.Error == "" {
		t.Fatalf("finding: %+v", f)
	}
}
