package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { Main(m) }

// querier is a *pgx.Conn or a *pgxpool.Pool.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryRow[T any](t testing.TB, q querier, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := q.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// userRelations counts the tables, sequences, ... outside the system schemas.
const userRelations = `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`

var dbNameRE = regexp.MustCompile(`^t_[0-9a-f]{16}$`)

// widgets returns a template setup creating a widgets table with three rows,
// counting its calls in calls if not nil.
func widgets(calls *atomic.Int32) func(ctx context.Context, url string) error {
	return func(ctx context.Context, url string) error {
		if calls != nil {
			calls.Add(1)
		}
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL);
			INSERT INTO widgets VALUES (1, 'one'), (2, 'two'), (3, 'three')`)
		return err
	}
}

func TestNewDatabaseIsEmptyAndIsolated(t *testing.T) {
	t.Parallel()
	a := connect(t, New(t))
	b := NewPool(t)

	nameA := queryRow[string](t, a, "SELECT current_database()")
	nameB := queryRow[string](t, b, "SELECT current_database()")
	if nameA == nameB || !dbNameRE.MatchString(nameA) || !dbNameRE.MatchString(nameB) {
		t.Fatalf("database names %q and %q: want distinct names matching %s", nameA, nameB, dbNameRE)
	}
	for _, c := range []querier{a, b} {
		if n := queryRow[int](t, c, userRelations); n != 0 {
			t.Errorf("fresh database has %d user relations, want 0", n)
		}
	}

	if _, err := a.Exec(context.Background(), "CREATE TABLE marker (id int)"); err != nil {
		t.Fatal(err)
	}
	if !queryRow[bool](t, b, "SELECT to_regclass('marker') IS NULL") {
		t.Error("table created in one test database exists in the other")
	}
}

func TestTemplateSetupRunsOnce(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	// A new key for each run, as templates outlive tests (go test -count).
	opt := WithTemplate(t.Name()+randomHex(4), widgets(&calls))
	t.Run("group", func(t *testing.T) {
		for i := range 6 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				pool := NewPool(t, opt)
				if n := queryRow[int](t, pool, "SELECT count(*) FROM widgets"); n != 3 {
					t.Fatalf("database from template has %d widgets, want 3", n)
				}
				// The other databases must not see this.
				if _, err := pool.Exec(context.Background(), "DELETE FROM widgets WHERE id = 1"); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
	if n := calls.Load(); n != 1 {
		t.Errorf("template setup ran %d times, want 1", n)
	}
}

func TestTemplateSetupLeavingSessionOpen(t *testing.T) {
	t.Parallel()
	var leaked *pgx.Conn
	setup := func(ctx context.Context, url string) (err error) {
		leaked, err = pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		_, err = leaked.Exec(ctx, "CREATE TABLE t (id int)")
		return err // without closing leaked
	}
	t.Cleanup(func() {
		if leaked != nil {
			leaked.Close(context.Background())
		}
	})
	conn := connect(t, New(t, WithTemplate(t.Name(), setup)))
	if !queryRow[bool](t, conn, "SELECT to_regclass('t') IS NOT NULL") {
		t.Error("table made by the template setup is missing")
	}
}

func TestTemplateSetupError(t *testing.T) {
	t.Parallel()
	srv := sharedServer(t)
	var calls atomic.Int32
	setup := func(ctx context.Context, url string) error {
		calls.Add(1)
		return errors.New("migration 7 failed")
	}
	var name string
	key := randomHex(4) // a new key for each run (go test -count)
	for range 2 {
		var err error
		name, err = srv.template(t.Name()+key, setup)
		if err == nil || !strings.Contains(err.Error(), "migration 7 failed") {
			t.Fatalf("template error = %v, want the setup error", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("failing setup ran %d times, want 1", n)
	}
	admin := connect(t, ClusterURL(t))
	if n := queryRow[int](t, admin, "SELECT count(*) FROM pg_database WHERE datname = $1", name); n != 0 {
		t.Errorf("template database %s of a failed setup was not dropped", name)
	}
}

func TestParallelDatabases(t *testing.T) {
	t.Parallel()
	var names sync.Map
	opt := WithTemplate("widgets", widgets(nil))
	t.Run("group", func(t *testing.T) {
		for i := range 8 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				pool := NewPool(t, opt)
				names.Store(queryRow[string](t, pool, "SELECT current_database()"), i)
				if _, err := pool.Exec(context.Background(), "INSERT INTO widgets VALUES ($1, 'mine')", 100+i); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond) // overlap with the others
				got := queryRow[[]int32](t, pool, "SELECT array_agg(id ORDER BY id) FROM widgets")
				if want := []int32{1, 2, 3, int32(100 + i)}; !slices.Equal(got, want) {
					t.Errorf("widgets = %v, want %v", got, want)
				}
			})
		}
	})
	n := 0
	names.Range(func(any, any) bool { n++; return true })
	if n != 8 {
		t.Errorf("8 parallel tests got %d distinct databases", n)
	}
}

func TestDatabaseDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var names []string
	var leaked *pgx.Conn
	t.Cleanup(func() {
		if leaked != nil {
			leaked.Close(context.Background())
		}
	})
	t.Run("New", func(t *testing.T) {
		names = append(names, queryRow[string](t, connect(t, New(t)), "SELECT current_database()"))
	})
	t.Run("NewPool", func(t *testing.T) {
		names = append(names, queryRow[string](t, NewPool(t), "SELECT current_database()"))
	})
	t.Run("session left open", func(t *testing.T) {
		// The drop must cope with a session the test did not close.
		var err error
		if leaked, err = pgx.Connect(context.Background(), New(t)); err != nil {
			t.Fatal(err)
		}
		names = append(names, queryRow[string](t, leaked, "SELECT current_database()"))
	})

	admin := connect(t, ClusterURL(t))
	for _, name := range names {
		if n := queryRow[int](t, admin, "SELECT count(*) FROM pg_database WHERE datname = $1", name); n != 0 {
			t.Errorf("database %s still exists after its test finished", name)
		}
	}
}

func TestClusterStopStart(t *testing.T) {
	t.Parallel()
	c := NewCluster(t)
	url := c.CreateDatabase(t)
	ctx := context.Background()

	// A long-lived pool, as a service under test would hold.
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	c.Stop(t)
	shortCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(shortCtx); err == nil {
		t.Error("pool ping succeeded with the server stopped")
	}
	if conn, err := pgx.Connect(shortCtx, url); err == nil {
		conn.Close(ctx)
		t.Error("connecting succeeded with the server stopped")
	}

	c.Start(t)
	conn := connect(t, url)
	if n := queryRow[int](t, conn, "SELECT count(*) FROM kept"); n != 1 {
		t.Errorf("after restart: %d rows, want 1", n)
	}
	// The pool replaces its dead connections.
	deadline := time.Now().Add(10 * time.Second)
	for err := pool.Ping(ctx); err != nil; err = pool.Ping(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("pool did not recover after restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The cluster still makes databases, from templates too.
	conn2 := connect(t, c.CreateDatabase(t, WithTemplate("widgets", widgets(nil))))
	if n := queryRow[int](t, conn2, "SELECT count(*) FROM widgets"); n != 3 {
		t.Errorf("database from template has %d widgets, want 3", n)
	}
	if c.URL() == ClusterURL(t) {
		t.Error("NewCluster returned the shared cluster")
	}
}

func TestStaleClusterRemoved(t *testing.T) {
	t.Parallel()
	lc, err := startLocal(t)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lc.destroy() })
	pidFile, err := os.ReadFile(filepath.Join(lc.data(), "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	postmaster, _ := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])

	// Pretend the cluster's test process was killed.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lc.dir, ownerFile), []byte(strconv.Itoa(dead.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	// A cluster directory of a live process, and one being created.
	live, err := makeClusterDir(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(live) })
	creating, err := os.MkdirTemp(clusterParent(), dirPrefix+"*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(creating) })

	// Its count is not checked: another package's test binary, cleaning up
	// at its start, may remove this stale cluster first. What is left is.
	removeStale(lc.pgctl, lc.cred)
	if _, err := os.Stat(lc.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale cluster directory: %v, want it removed", err)
	}
	// pg_ctl returns when the pid file is gone, a moment before the
	// postmaster exits: wait for it (a liveness bound, not a speed assertion).
	for deadline := time.Now().Add(10 * time.Second); alive(postmaster) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(postmaster) {
		t.Errorf("postmaster %d of the stale cluster still runs", postmaster)
	}
	for _, dir := range []string{live, creating} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("directory %s of a live cluster: %v", dir, err)
		}
	}
}

// alive reports whether process pid runs (and is not a zombie).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct {
		conn, host string
		port       uint16
		password   string
	}{
		{"postgres://postgres@/postgres?host=/tmp/x&port=5432&sslmode=disable", "/tmp/x", 5432, ""},
		{"postgres://u:p%40ss%2Fw@db.example:5433/app?sslmode=disable", "db.example", 5433, "p@ss/w"},
		{"postgresql://u@db.example/app", "db.example", 5432, ""},
		{"postgres://u:pw@h1:5434,h2:5433/app?sslmode=disable", "h1", 5434, "pw"},
		{"host=/tmp/x port=5435 user=u password=pw dbname=app", "/tmp/x", 5435, "pw"},
	} {
		got := withDatabase(tc.conn, "t_1")
		cfg, err := pgx.ParseConfig(got)
		if err != nil {
			t.Errorf("withDatabase(%q) = %q: %v", tc.conn, got, err)
			continue
		}
		if cfg.Database != "t_1" || cfg.Host != tc.host || cfg.Port != tc.port || cfg.Password != tc.password {
			t.Errorf("withDatabase(%q) = %q: database %q host %q port %d password %q", tc.conn, got,
				cfg.Database, cfg.Host, cfg.Port, cfg.Password)
		}
	}
}

func TestNoPasswordInMessages(t *testing.T) {
	conn := "postgres://u:s3cr%2Ft@db.example/app"
	srv := newServer(conn)
	msg := srv.scrub(fmt.Errorf("cannot connect to %s (password s3cr/t)", withDatabase(conn, "t_1")))
	if strings.Contains(msg, "s3cr") {
		t.Errorf("scrubbed message %q contains the password", msg)
	}
	if d := describe(conn); strings.Contains(d, "s3cr") {
		t.Errorf("describe = %q contains the password", d)
	}
}

func TestTemplateName(t *testing.T) {
	a, b := templateName("migrations"), templateName("other")
	valid := regexp.MustCompile(`^tmpl_[0-9a-f]{12}_[0-9a-f]{8}$`)
	if a != templateName("migrations") || a == b || !valid.MatchString(a) || !valid.MatchString(b) {
		t.Errorf("template names %q, %q: want stable, distinct, matching %s", a, b, valid)
	}
}

func TestSortVersionDirs(t *testing.T) {
	got := sortVersionDirs([]string{"/l/9.6/bin", "/l/15/bin", "/l/10/bin", "/l/16/bin"})
	if want := []string{"/l/16/bin", "/l/15/bin", "/l/10/bin", "/l/9.6/bin"}; !slices.Equal(got, want) {
		t.Errorf("sortVersionDirs = %v, want %v", got, want)
	}
}

// BenchmarkNewDatabase measures CREATE DATABASE on the shared cluster, from a
// template and from the default one (the drop is not timed).
func BenchmarkNewDatabase(b *testing.B) {
	srv := sharedServer(b)
	tmpl, err := srv.template("widgets", widgets(nil))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, from string }{{"template", tmpl}, {"empty", ""}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			for range b.N {
				name := "t_" + randomHex(8)
				if err := srv.create(ctx, name, bc.from); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := srv.drop(ctx, name); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkNewCluster measures initdb and start of a cluster (removal is not
// timed).
func BenchmarkNewCluster(b *testing.B) {
	for range b.N {
		lc, err := startLocal(b)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := lc.destroy(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
