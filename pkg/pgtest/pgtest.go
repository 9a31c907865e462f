package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sightline/sightline/pkg/pg"
)

// EnvURL is the environment variable naming an existing server to create the
// test databases on, instead of starting a cluster.
const EnvURL = "TEST_DATABASE_URL"

const (
	dirPrefix = "sightline-pgtest-" // temporary cluster directories, in os.TempDir()
	ownerFile = "owner.pid"         // PID of the test process owning a cluster directory
	logFile   = "postgres.log"      // server log, in the cluster directory
	debianLib = "/usr/lib/postgresql"

	opTimeout  = time.Minute     // admin statements (CREATE/DROP DATABASE)
	cmdTimeout = 2 * time.Minute // initdb, pg_ctl
)

// Option configures the databases made by New, NewPool and
// Cluster.CreateDatabase.
type Option func(*options)

type options struct {
	template    bool
	templateKey string
	setup       func(ctx context.Context, url string) error
}

// WithTemplate makes the database a copy of a template database prepared by
// setup, typically running the schema migrations. The template is built once
// per test binary and server, by the first test using key; setup gets the
// template's connection URL and must close its connections before returning
// (leftover sessions are terminated, as a template cannot be copied while in
// use). Use one key per distinct setup: a key always means the first setup it
// was given. If setup fails, every test using key fails with its error.
func WithTemplate(key string, setup func(ctx context.Context, url string) error) Option {
	return func(o *options) { o.template, o.templateKey, o.setup = true, key, setup }
}

// The shared server of this test binary, opened by the first sharedServer call.
var (
	mainCalled atomic.Bool
	sharedOnce sync.Once
	shared     *server
	sharedLC   *localCluster // nil when shared is the TEST_DATABASE_URL server
	sharedErr  error
)

// Main runs the tests, then stops and removes the shared cluster (or drops
// the template databases from the TEST_DATABASE_URL server) and exits with
// the tests' exit code. Packages using New, NewPool or ClusterURL call it from
// TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	mainCalled.Store(true)
	code := m.Run()

	// Mark the shared server as gone, and synchronise with whoever opened it.
	sharedOnce.Do(func() { sharedErr = errors.New("pgtest: the shared cluster was used after the tests finished") })
	if shared != nil {
		if sharedLC == nil {
			if err := shared.dropTemplates(); err != nil {
				fmt.Fprintf(os.Stderr, "pgtest: dropping template databases: %v\n", err)
			}
		}
		shared.closePool()
	}
	if sharedLC != nil {
		if err := sharedLC.destroy(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: removing the shared cluster: %v\n", err)
		}
	}
	os.Exit(code)
}

// New returns the connection URL of a new, empty database (or a copy of a
// template, see WithTemplate) on the shared server. The database is dropped,
// with any sessions still connected to it, when t and its subtests finish.
func New(t testing.TB, opts ...Option) string {
	t.Helper()
	return sharedServer(t).createDatabase(t, true, opts)
}

// NewPool is New followed by connecting a pool to the database. The pool is
// closed when t finishes, before the database is dropped.
func NewPool(t testing.TB, opts ...Option) *pgxpool.Pool {
	t.Helper()
	srv := sharedServer(t)
	dbURL := srv.createDatabase(t, true, opts)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: connecting to the test database: %s", srv.scrub(err))
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("pgtest: connecting to the test database: %s", srv.scrub(err))
	}
	return pool
}

// ClusterURL returns the connection URL of the shared server's maintenance
// database, for looking at the server as a whole (pg_database, ...). Do not
// stop that server; use NewCluster for that.
func ClusterURL(t testing.TB) string {
	t.Helper()
	return sharedServer(t).admin
}

func sharedServer(t testing.TB) *server {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("pgtest: call pgtest.Main(m) from the package's TestMain; it removes the shared cluster when the test binary exits")
	}
	sharedOnce.Do(func() { shared, sharedLC, sharedErr = openShared(t) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func openShared(t testing.TB) (*server, *localCluster, error) {
	if u := os.Getenv(EnvURL); u != "" {
		srv := newServer(u)
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if _, _, err := srv.adminPool(ctx); err != nil {
			return nil, nil, fmt.Errorf("pgtest: connecting to the server from %s: %s", EnvURL, srv.scrub(err))
		}
		t.Logf("pgtest: using the server from %s (%s)", EnvURL, describe(u))
		return srv, nil, nil
	}
	lc, err := startLocal(t)
	if errors.Is(err, errNoBinaries) {
		err = fmt.Errorf("%w, or set %s to a server where the tests may create and drop databases", err, EnvURL)
	}
	if err != nil {
		return nil, nil, err
	}
	return newServer(lc.url()), lc, nil
}

// Cluster is a PostgreSQL cluster private to one test, which the test may
// stop and start again, e.g. to check how a service copes with losing its
// database. Its methods must not be called concurrently.
type Cluster struct {
	lc  *localCluster
	srv *server
}

// NewCluster starts a cluster for t alone and removes it when t finishes.
// It needs the PostgreSQL server binaries even when TEST_DATABASE_URL is set.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	lc, err := startLocal(t)
	if errors.Is(err, errNoBinaries) {
		err = fmt.Errorf("%w (NewCluster runs its own server, so it needs them even when %s is set)", err, EnvURL)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{lc: lc, srv: newServer(lc.url())}
	t.Cleanup(func() {
		c.srv.closePool()
		if err := lc.destroy(); err != nil {
			t.Errorf("pgtest: removing the cluster: %v", err)
		}
	})
	return c
}

// URL returns the connection URL of the cluster's maintenance database. It
// stays valid across Stop and Start.
func (c *Cluster) URL() string { return c.lc.url() }

// CreateDatabase returns the connection URL of a new database in the cluster.
// It is not dropped separately: the whole cluster goes away with its test.
func (c *Cluster) CreateDatabase(t testing.TB, opts ...Option) string {
	t.Helper()
	return c.srv.createDatabase(t, false, opts)
}

// Stop shuts the server down (pg_ctl stop -m fast): sessions are terminated
// and new connections fail until Start.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.srv.closePool()
	if err := c.lc.stop("fast"); err != nil {
		t.Fatal(err)
	}
}

// Start starts the stopped server again, on the same socket and data.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if err := c.lc.start(); err != nil {
		t.Fatal(err)
	}
}

// server is a PostgreSQL server on which test and template databases are
// created through an admin connection.
type server struct {
	admin    string // connection string of the maintenance database
	password string // the admin password, scrubbed from error messages

	mu        sync.Mutex
	pool      *pgxpool.Pool // admin connections, opened lazily
	version   int           // server_version_num, set with pool
	templates map[string]*template
}

type template struct {
	name string
	once sync.Once
	err  error
}

func newServer(admin string) *server {
	s := &server{admin: admin, templates: make(map[string]*template)}
	if cfg, err := pgx.ParseConfig(admin); err == nil {
		s.password = cfg.Password
	}
	return s
}

// adminPool returns the admin pool and the server version, connecting first
// if needed.
func (s *server) adminPool(ctx context.Context) (*pgxpool.Pool, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool == nil {
		pool, err := pgxpool.New(ctx, s.admin)
		if err != nil {
			return nil, 0, err
		}
		var version int
		err = pool.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version)
		if err != nil {
			pool.Close()
			return nil, 0, err
		}
		s.pool, s.version = pool, version
	}
	return s.pool, s.version, nil
}

func (s *server) closePool() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool != nil {
		s.pool.Close()
		s.pool = nil
	}
}

// createDatabase creates a database for t, dropping it at t's cleanup if
// drop is set, and returns its connection URL.
func (s *server) createDatabase(t testing.TB, drop bool, opts []Option) string {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var tmpl string
	if o.template {
		if o.setup == nil {
			t.Fatalf("pgtest: WithTemplate(%q) needs a setup function", o.templateKey)
		}
		var err error
		if tmpl, err = s.template(o.templateKey, o.setup); err != nil {
			t.Fatal(err)
		}
	}

	name := "t_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := s.create(ctx, name, tmpl); err != nil {
		t.Fatalf("pgtest: creating database %s: %s", name, s.scrub(err))
	}
	if drop {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			defer cancel()
			if err := s.drop(ctx, name); err != nil {
				t.Errorf("pgtest: dropping database %s: %s", name, s.scrub(err))
			}
		})
	}
	return withDatabase(s.admin, name)
}

// create creates database name, as a copy of template from if not empty.
func (s *server) create(ctx context.Context, name, from string) error {
	pool, version, err := s.adminPool(ctx)
	if err != nil {
		return err
	}
	q := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if from != "" {
		q += " TEMPLATE " + pgx.Identifier{from}.Sanitize()
	}
	if version >= 150000 {
		// Since PostgreSQL 15 the default strategy, WAL_LOG, writes the whole
		// copy to the WAL, which is slower for small databases.
		q += " STRATEGY FILE_COPY"
	}
	_, err = pool.Exec(ctx, q)
	return err
}

// drop drops database name, terminating its sessions.
func (s *server) drop(ctx context.Context, name string) error {
	pool, version, err := s.adminPool(ctx)
	if err != nil {
		return err
	}
	q := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize()
	if version >= 130000 {
		_, err = pool.Exec(ctx, q+" WITH (FORCE)")
		return err
	}
	if err := terminateSessions(ctx, pool, name); err != nil {
		return err
	}
	_, err = pool.Exec(ctx, q)
	return err
}

func terminateSessions(ctx context.Context, pool *pgxpool.Pool, db string) error {
	_, err := pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, db)
	return err
}

// template returns the name of the template database for key, building it
// with setup if this is the first use of key.
func (s *server) template(key string, setup func(ctx context.Context, url string) error) (string, error) {
	s.mu.Lock()
	tp := s.templates[key]
	if tp == nil {
		tp = &template{name: templateName(key)}
		s.templates[key] = tp
	}
	s.mu.Unlock()
	tp.once.Do(func() {
		tp.err = fmt.Errorf("pgtest: template %q: setup did not complete", key) // if it panics
		tp.err = s.buildTemplate(tp.name, key, setup)
	})
	return tp.name, tp.err
}

// processTag tells apart the templates of concurrent test binaries sharing a
// TEST_DATABASE_URL server (go test runs packages in parallel).
var processTag = randomHex(4)

// templateName returns a valid database name for the template of key:
// tmpl_<hash of key>_<processTag>.
func templateName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "tmpl_" + hex.EncodeToString(sum[:6]) + "_" + processTag
}

func (s *server) buildTemplate(name, key string, setup func(ctx context.Context, url string) error) error {
	// No timeout for setup: migrations may be slow, and go test -timeout
	// catches hangs.
	ctx := context.Background()
	if err := s.create(ctx, name, ""); err != nil {
		return fmt.Errorf("pgtest: template %q: creating database %s: %s", key, name, s.scrub(err))
	}
	if err := setup(ctx, withDatabase(s.admin, name)); err != nil {
		_ = s.drop(ctx, name)
		return fmt.Errorf("pgtest: template %q: setup: %s", key, s.scrub(err))
	}
	pool, _, err := s.adminPool(ctx)
	if err == nil {
		err = terminateSessions(ctx, pool, name)
	}
	if err != nil {
		return fmt.Errorf("pgtest: template %q: %s", key, s.scrub(err))
	}
	return nil
}

// dropTemplates drops the template databases built so far.
func (s *server) dropTemplates() error {
	s.mu.Lock()
	var names []string
	for _, tp := range s.templates {
		names = append(names, tp.name)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var errs []error
	for _, name := range names {
		if err := s.drop(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s", name, s.scrub(err)))
		}
	}
	return errors.Join(errs...)
}

// scrub returns err's message without the admin password, in case a driver
// or a setup function quoted a connection string.
func (s *server) scrub(err error) string {
	msg := err.Error()
	if s.password == "" {
		return msg
	}
	// Raw, and as a URL query parameter, path or userinfo would quote it.
	for _, p := range []string{s.password, url.QueryEscape(s.password), url.PathEscape(s.password),
		url.UserPassword("", s.password).String()[1:]} {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return msg
}

// withDatabase returns connection string conn with its database replaced by db.
func withDatabase(conn, db string) string {
	if !strings.HasPrefix(conn, "postgres://") && !strings.HasPrefix(conn, "postgresql://") {
		return conn + " dbname=" + db // keyword/value form: the last setting wins
	}
	if u, err := url.Parse(conn); err == nil {
		u.Path, u.RawPath = "/"+db, ""
		return u.String()
	}
	// A URL net/url rejects, such as a multi-host one: the query wins.
	sep := "?"
	if strings.Contains(conn, "?") {
		sep = "&"
	}
	return conn + sep + "dbname=" + db
}

// describe names the server of connection string conn without its password.
func describe(conn string) string {
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return "unparsable connection string"
	}
	return fmt.Sprintf("host=%s port=%d user=%s database=%s", cfg.Host, cfg.Port, cfg.User, cfg.Database)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// localCluster is a cluster run from the local server binaries, in a
// temporary directory holding its data directory, Unix socket, server log and
// the PID of the owning test process.
type localCluster struct {
	dir    string
	initdb string
	pgctl  string
	cred   *syscall.Credential // run the binaries as this user (we are root)
}

func (c *localCluster) data() string { return filepath.Join(c.dir, "data") }

func (c *localCluster) url() string {
	// The explicit port overrides a PGPORT in the environment: it picks the
	// socket file name, .s.PGSQL.5432, in the cluster's own directory.
	return "postgres://postgres@/postgres?host=" + c.dir + "&port=5432&sslmode=disable"
}

var errNoBinaries = errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in " +
	debianLib + "/*/bin; install them (Debian/Ubuntu: apt-get install postgresql)")

var staleOnce sync.Once

// startLocal initialises and starts a new cluster.
func startLocal(t testing.TB) (*localCluster, error) {
	initdb, pgctl, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	staleOnce.Do(func() {
		if n := removeStale(pgctl, cred); n > 0 {
			t.Logf("pgtest: removed %d cluster(s) left behind by test processes that no longer run", n)
		}
	})
	dir, err := makeClusterDir(cred)
	if err != nil {
		return nil, err
	}
	c := &localCluster{dir: dir, initdb: initdb, pgctl: pgctl, cred: cred}

	start := time.Now()
	err = c.run(c.initdb, "-D", c.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initialised := time.Now()
	if err == nil {
		err = c.start()
	}
	if err != nil {
		_ = c.destroy()
		return nil, err
	}
	t.Logf("pgtest: started PostgreSQL from %s in %s in %v (initdb %v, start %v)", filepath.Dir(pgctl), dir,
		time.Since(start).Round(time.Millisecond), initialised.Sub(start).Round(time.Millisecond),
		time.Since(initialised).Round(time.Millisecond))
	return c, nil
}

// start starts the server, listening on the Unix socket in c.dir only, with
// durability off: a crash loses the cluster, which is thrown away anyway.
func (c *localCluster) start() error {
	// pg_ctl passes -o to postgres through the shell; makeClusterDir made
	// sure c.dir needs no quoting.
	opts := "-c listen_addresses='' -c port=5432 -c unix_socket_directories=" + c.dir +
		" -c fsync=off -c synchronous_commit=off -c full_page_writes=off" +
		" -c max_connections=300 -c shared_buffers=128MB"
	err := c.run(c.pgctl, "-D", c.data(), "-l", filepath.Join(c.dir, logFile), "-w", "-t", "60", "-o", opts, "start")
	if err != nil {
		return fmt.Errorf("%w\nserver log:\n%s", err, c.logTail())
	}
	return nil
}

// stop stops the server with the given pg_ctl shutdown mode.
func (c *localCluster) stop(mode string) error {
	return c.run(c.pgctl, "-D", c.data(), "-m", mode, "-w", "-t", "60", "stop")
}

// destroy stops the server, if running, and removes the cluster directory.
func (c *localCluster) destroy() error {
	var err error
	if _, statErr := os.Stat(filepath.Join(c.data(), "postmaster.pid")); statErr == nil {
		err = c.stop("immediate")
	}
	return errors.Join(err, os.RemoveAll(c.dir))
}

// run runs a server binary, as the server user.
func (c *localCluster) run(bin string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = c.dir // the server user may not be able to access our working directory
	cmd.WaitDelay = 5 * time.Second
	// PGDATA, PGPORT and friends would change what the binaries do.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl start sends the server's output to the log file (-l), so the
	// server does not inherit the output pipe and this returns when pg_ctl does.
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: %s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err,
			strings.TrimSpace(string(out)))
	}
	return nil
}

// logTail returns the end of the server log.
func (c *localCluster) logTail() string {
	b, err := os.ReadFile(filepath.Join(c.dir, logFile))
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return strings.TrimSpace(string(b))
}

// findBinaries returns the paths of initdb and pg_ctl: from PATH, or else
// from the highest version in Debian's /usr/lib/postgresql/<version>/bin.
func findBinaries() (initdb, pgctl string, err error) {
	initdb, err1 := exec.LookPath("initdb")
	pgctl, err2 := exec.LookPath("pg_ctl")
	if err1 == nil && err2 == nil {
		return initdb, pgctl, nil
	}
	dirs, _ := filepath.Glob(filepath.Join(debianLib, "*", "bin"))
	for _, dir := range sortVersionDirs(dirs) {
		initdb, pgctl = filepath.Join(dir, "initdb"), filepath.Join(dir, "pg_ctl")
		if isExecutable(initdb) && isExecutable(pgctl) {
			return initdb, pgctl, nil
		}
	}
	return "", "", errNoBinaries
}

// sortVersionDirs sorts .../<version>/bin directories, highest version first.
func sortVersionDirs(dirs []string) []string {
	version := func(dir string) []int {
		var v []int
		for _, f := range strings.Split(filepath.Base(filepath.Dir(dir)), ".") {
			n, _ := strconv.Atoi(f)
			v = append(v, n)
		}
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return slices.Compare(version(b), version(a)) })
	return dirs
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// serverCredential returns the user to run the server binaries as: nil (the
// current user) unless we are root, which initdb refuses to run as.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New(`pgtest: the tests run as root, which initdb refuses to run as, and there is no "postgres" ` +
			`system user to run it as instead; install Debian's postgresql package (apt-get install postgresql), ` +
			`which creates it, or run the tests as another user`)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgtest: user postgres has a non-numeric uid %q or gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// safePath matches the paths that need no quoting in a URL, a shell command
// or unix_socket_directories.
var safePath = regexp.MustCompile(`^[A-Za-z0-9/._-]+$`)

// makeClusterDir creates the directory of a new cluster, owned by the server
// user, with the PID of this process in it and an empty data directory.
func makeClusterDir(cred *syscall.Credential) (dir string, err error) {
	// Not t.TempDir: the shared cluster outlives the test that starts it.
	dir, err = os.MkdirTemp(clusterParent(), dirPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if !safePath.MatchString(dir) {
		return "", fmt.Errorf("pgtest: temporary directory %q has unusual characters; set TMPDIR to e.g. /tmp", dir)
	}
	// The socket path must fit in sockaddr_un.sun_path (108 bytes).
	if len(dir+"/.s.PGSQL.5432") >= 108 {
		return "", fmt.Errorf("pgtest: temporary directory %q is too long for a Unix socket path; set TMPDIR to e.g. /tmp", dir)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	if cred == nil {
		return dir, nil
	}
	if err := checkReachable(filepath.Dir(dir), int(cred.Uid)); err != nil {
		return "", err
	}
	for _, d := range []string{dir, data} {
		if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", fmt.Errorf("pgtest: %w", err)
		}
	}
	return dir, nil
}

// checkReachable checks that user uid may traverse dir and its parents, which
// the server user needs to reach its data directory and socket.
func checkReachable(dir string, uid int) error {
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		perm := fi.Mode().Perm()
		st, _ := fi.Sys().(*syscall.Stat_t)
		if perm&0o001 == 0 && (st == nil || int(st.Uid) != uid || perm&0o100 == 0) {
			return fmt.Errorf("pgtest: the postgres user cannot reach the cluster directory: %s lacks o+x; "+
				"set TMPDIR to a directory reachable by all users, e.g. /tmp", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// removeStale stops and removes the clusters whose test process is gone (it
// was killed before Main could clean up) and returns how many it removed.
// Directories of other users or of live processes are left alone.
func removeStale(pgctl string, cred *syscall.Credential) int {
	dirs, _ := filepath.Glob(filepath.Join(clusterParent(), dirPrefix+"*"))
	n := 0
	for _, dir := range dirs {
		if !isStale(dir) {
			continue
		}
		// If pg_ctl cannot stop the server, it still shuts itself down within
		// a minute of its data directory, with postmaster.pid, vanishing.
		c := &localCluster{dir: dir, pgctl: pgctl, cred: cred}
		if c.destroy() == nil {
			n++
		}
	}
	return n
}

func isStale(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if errors.Is(err, fs.ErrNotExist) {
		// Being created right now, or its creator died before writing its PID.
		fi, err := os.Stat(dir)
		return err == nil && time.Since(fi.ModTime()) > 10*time.Minute
	}
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}

// clusterParent is where clusters live: $TMPDIR when set; else /dev/shm when
// it is a RAM disk with room (creating a database there takes ~12 ms instead
// of ~100 ms on a slow /tmp); else the default temporary directory.
func clusterParent() string {
	if os.Getenv("TMPDIR") != "" {
		return os.TempDir()
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil && st.Bavail*uint64(st.Bsize) >= 2<<30 {
		if f, err := os.CreateTemp("/dev/shm", dirPrefix+"probe"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return "/dev/shm"
		}
	}
	return os.TempDir()
}

// Schema names a service's schema and its embedded migrations.
type Schema struct {
	Name       string
	Migrations fs.FS
}

// WithMigrated makes the database a copy of a template on which the schemas'
// migrations ran (once per test binary), in order: the usual WithTemplate.
func WithMigrated(schemas ...Schema) Option {
	key := ""
	for _, s := range schemas {
		key += s.Name + "+"
	}
	return WithTemplate(key, func(ctx context.Context, url string) error {
		for _, s := range schemas {
			if _, _, err := pg.Migrate(ctx, url, s.Name, s.Migrations); err != nil {
				return fmt.Errorf("migrate %s: %w", s.Name, err)
			}
		}
		return nil
	})
}
