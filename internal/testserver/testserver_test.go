package testserver

import (
	"context"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func TestServersStart(t *testing.T) {
	ctx := context.Background()
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		s := Redis(t)
		c := redis.NewClient(&redis.Options{Addr: s.Addr})
		defer c.Close()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		s.Stop()
		if err := c.Ping(ctx).Err(); err == nil {
			t.Fatal("ping after Stop succeeded")
		}
		s.Start()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("after restart: %v", err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		s := Postgres(t)
		c, err := pgx.Connect(ctx, "postgres://postgres@"+s.Addr+"/postgres?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		c.Close(ctx)
		s.SetHBA("scram-sha-256")
		if c, err := pgx.Connect(ctx, "postgres://postgres@"+s.Addr+"/postgres?sslmode=disable"); err == nil {
			c.Close(ctx)
			t.Fatal("connected without a password after SetHBA(scram)")
		}
	})
	t.Run("mariadb", func(t *testing.T) {
		t.Parallel()
		s := MariaDB(t)
		db, err := sql.Open("mysql", "root@tcp("+s.Addr+")/")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Ping(); err != nil {
			t.Fatal(err)
		}
	})
}

// nginx answers in br or gzip as the client asks: the upstream behaviour
// the proxy's evasion tests need.
func TestNginxStarts(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.json"), []byte(`{"x":"`+strings.Repeat("y", 1000)+`"}`), 0o644)
	s := Nginx(t, root, "")
	for _, enc := range []string{"br", "gzip"} {
		req, _ := http.NewRequest("GET", "http://"+s.Addr+"/a.json", nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != enc {
			t.Fatalf("Accept-Encoding %s: %s, Content-Encoding %q\n%s", enc, resp.Status, resp.Header.Get("Content-Encoding"), s.Log())
		}
	}
}
