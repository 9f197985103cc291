// Package testserver starts real Redis, PostgreSQL, MariaDB and nginx servers for
// integration tests: each on a free loopback port with its own data
// directory, so tests pass anywhere the binaries are installed, whatever
// services the machine already runs.
//
// When a binary is missing the test is skipped with a message naming the
// Debian package, unless LEAKGUARD_REQUIRE_SERVERS=1 (CI sets it), in which
// case the test fails: a suite that silently skips its integration tests
// cannot fail.
package testserver

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the MariaDB readiness probe
	"github.com/jackc/pgx/v5"
)

// Server is one running server process.
type Server struct {
	Addr string // 127.0.0.1:port
	Port int
	Dir  string // data directory

	t    testing.TB
	argv []string
	cred *syscall.Credential
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
	// ready reports whether the server accepts work, beyond accepting
	// TCP connections (PostgreSQL listens while still starting up).
	ready func(context.Context) error
}

func require(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"} {
		if p := filepath.Join(dir, bin); isExec(p) {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found: install Debian package %s (apt-get install %s)", bin, pkg, pkg)
	if os.Getenv("LEAKGUARD_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs the server process; it is started by the constructors and
// may be called again after Stop to bring the same server back on the same
// port and data directory.
func (s *Server) Start() {
	s.t.Helper()
	s.log = new(bytes.Buffer)
	s.cmd = exec.Command(s.argv[0], s.argv[1:]...)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.argv[0], err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(s.cmd, s.done)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			if s.ready == nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err = s.ready(ctx)
			cancel()
			if err == nil {
				return
			}
		}
		select {
		case <-s.done:
			s.t.Fatalf("%s exited at start:\n%s", s.argv[0], s.log)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("%s did not listen on %s within 30s:\n%s", s.argv[0], s.Addr, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: tests of "the store went away" want it
// gone at once) and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
	s.cmd = nil
}

// Signal sends sig to the server, e.g. SIGHUP to reload its config.
func (s *Server) Signal(sig syscall.Signal) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return fmt.Errorf("not running")
	}
	return s.cmd.Process.Signal(sig)
}

// Log is what the server has printed so far.
func (s *Server) Log() string { return s.log.String() }

// tempDir makes a data directory the server's user can own; t.TempDir's
// parents are 0700 root, which PostgreSQL running as "postgres" cannot enter.
func tempDir(t testing.TB, prefix string, cred *syscall.Credential) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// unprivileged returns the credential of account name when running as
// root (PostgreSQL refuses to run as root), nil otherwise.
func unprivileged(t testing.TB, name string) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("running as root and no %q user to run the server as: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func run(t testing.TB, cred *syscall.Credential, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(argv[0]), err, out)
	}
}

func newServer(t testing.TB, dir string, port int, cred *syscall.Credential, argv []string, ready func(*Server, context.Context) error) *Server {
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, Dir: dir, t: t, argv: argv, cred: cred}
	if ready != nil {
		s.ready = func(ctx context.Context) error { return ready(s, ctx) }
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Redis starts redis-server with nothing persisted; extra are further
// command-line options, e.g. "--requirepass", "secret".
func Redis(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := require(t, "redis-server", "redis-server")
	dir := tempDir(t, "leakguard-redis-", nil)
	port := FreePort(t)
	argv := append([]string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no"}, extra...)
	return newServer(t, dir, port, nil, argv, nil)
}

// Postgres initialises a cluster whose superuser is "postgres" and starts
// it with trust authentication on loopback. SetHBA changes that.
func Postgres(t testing.TB) *Server {
	t.Helper()
	initdb := require(t, "initdb", "postgresql")
	postgres := require(t, "postgres", "postgresql")
	cred := unprivileged(t, "postgres")
	dir := tempDir(t, "leakguard-pg-", cred)
	data := filepath.Join(dir, "data")
	run(t, cred, initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	port := FreePort(t)
	argv := []string{postgres, "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "synchronous_commit=off", "-c", "shared_buffers=16MB", "-c", "max_connections=20"}
	return newServer(t, data, port, cred, argv, func(s *Server, ctx context.Context) error {
		c, err := pgx.Connect(ctx, "postgres://postgres@"+s.Addr+"/postgres?sslmode=disable&connect_timeout=1")
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
}

// SetHBA rewrites a PostgreSQL server's pg_hba.conf to use method
// ("trust", "scram-sha-256", ...) for every loopback connection, and
// reloads it.
func (s *Server) SetHBA(method string) {
	s.t.Helper()
	conf := fmt.Sprintf("local all all trust\nhost all all 127.0.0.1/32 %s\nhost all all ::1/128 %s\n", method, method)
	p := filepath.Join(s.Dir, "pg_hba.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		s.t.Fatal(err)
	}
	if s.cred != nil {
		os.Chown(p, int(s.cred.Uid), int(s.cred.Gid))
	}
	if err := s.Signal(syscall.SIGHUP); err != nil {
		s.t.Fatal(err)
	}
	// The postmaster rereads the file asynchronously; the caller's next
	// connection attempt must see the new rules.
	time.Sleep(300 * time.Millisecond)
}

// MariaDB initialises a data directory whose root account has no password
// (the insecure default this tool exists to find) and starts mariadbd.
func MariaDB(t testing.TB) *Server {
	t.Helper()
	install := require(t, "mariadb-install-db", "mariadb-server")
	mariadbd := require(t, "mariadbd", "mariadb-server")
	dir := tempDir(t, "leakguard-mariadb-", nil)
	data := filepath.Join(dir, "data")
	run(t, nil, install, "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db")
	port := FreePort(t)
	argv := []string{mariadbd, "--no-defaults", "--datadir=" + data, "--user=root",
		"--port=" + strconv.Itoa(port), "--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(dir, "mysqld.sock"), "--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
		"--innodb-flush-log-at-trx-commit=0", "--log-error=" + filepath.Join(dir, "error.log")}
	return newServer(t, data, port, nil, argv, func(s *Server, ctx context.Context) error {
		db, err := sql.Open("mysql", "root@tcp("+s.Addr+")/?timeout=1s")
		if err != nil {
			return err
		}
		defer db.Close()
		return db.PingContext(ctx)
	})
}

// RedisCluster starts n redis-server nodes (n ≥ 3) as one Redis Cluster
// with no replicas, and returns them once every slot is served.
func RedisCluster(t testing.TB, n int) []*Server {
	t.Helper()
	cli := require(t, "redis-cli", "redis-server")
	var nodes []*Server
	var addrs []string
	for i := 0; i < n; i++ {
		dir := tempDir(t, "leakguard-redis-cluster-", nil)
		s := Redis(t, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-port", strconv.Itoa(FreePort(t)), "--cluster-node-timeout", "2000")
		nodes = append(nodes, s)
		addrs = append(addrs, s.Addr)
	}
	run(t, nil, append(append([]string{cli, "--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")...)
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range nodes {
		for {
			out, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "cluster", "info").Output()
			if bytes.Contains(out, []byte("cluster_state:ok")) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redis cluster not ok within 30s:\n%s", out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nodes
}

// nginxBrotli is where Debian's libnginx-mod-http-brotli-filter puts the module.
const nginxBrotli = "/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so"

// Nginx serves the files under root as a real web server would, with gzip
// and (Debian's module) brotli for JSON: how an upstream answers a client
// that asks for br or gzip. extra is added to the server block.
func Nginx(t testing.TB, root string, extra string) *Server {
	t.Helper()
	bin := require(t, "nginx", "nginx")
	if !fileExists(nginxBrotli) {
		msg := "nginx's brotli module not found: install Debian package libnginx-mod-http-brotli-filter"
		if os.Getenv("LEAKGUARD_REQUIRE_SERVERS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return startNginx(t, bin, "load_module "+nginxBrotli+";", func(port int) string {
		return fmt.Sprintf(`types { application/json json; text/html html; }
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:%[1]d;
		root %[2]s;
		gzip on; gzip_types application/json; gzip_min_length 1;
		brotli on; brotli_types application/json; brotli_min_length 1;
		%[3]s
	}`, port, root, extra)
	})
}

// NginxHTTP runs nginx with the http-context configuration http(port)
// returns (upstreams and servers; one must listen on 127.0.0.1:port).
func NginxHTTP(t testing.TB, http func(port int) string) *Server {
	t.Helper()
	return startNginx(t, require(t, "nginx", "nginx"), "", http)
}

func startNginx(t testing.TB, bin, main string, http func(port int) string) *Server {
	t.Helper()
	dir := tempDir(t, "leakguard-nginx-", nil)
	port := FreePort(t)
	// One process (no master, no workers switching to www-data, which
	// could not read a root-owned temp directory), everything under dir.
	conf := fmt.Sprintf(`%[1]s
daemon off;
master_process off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path %[2]s/client;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	%[3]s
}
`, main, dir, http(port))
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return newServer(t, dir, port, nil, []string{bin, "-p", dir, "-c", cf, "-e", filepath.Join(dir, "error.log")}, nil)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
