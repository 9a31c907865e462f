// Package pgtest owns throwaway PostgreSQL for tests: it provides every test
// with a brand-new, empty database of its own and drops it when the test ends.
//
// # Where the databases live
//
// If TEST_DATABASE_URL is set, databases are created on (and dropped from)
// that server; its role needs the CREATEDB privilege. Nothing is started.
// Databases of a test binary that is killed stay behind on that server.
//
// Otherwise the first test that asks for a database starts one private
// PostgreSQL cluster for the whole test binary, from the server binaries
// (initdb and pg_ctl on PATH, else the highest version under
// /usr/lib/postgresql/*/bin; on Debian/Ubuntu: apt-get install postgresql).
// The cluster listens on a Unix socket in its own temporary directory only,
// never on TCP, so it cannot collide with a system PostgreSQL, and runs with
// durability turned off for speed. When the tests run as root it runs as the
// "postgres" system user, because initdb refuses to run as root. Missing
// binaries make tests fail, never skip.
//
// The shared cluster is stopped and removed by Main when the test binary
// exits, so every package that uses New, NewPool or ClusterURL must call Main
// from its TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// A cluster left behind by a test binary that was killed (go test -timeout,
// SIGKILL) is stopped and removed by the next test binary that starts a
// cluster. The cluster lives in os.TempDir(); where that is a slow disk,
// TMPDIR=/dev/shm (a tmpfs) makes creating databases several times faster.
//
// # Databases
//
// New returns the connection URL of a fresh database and NewPool a pgxpool
// connected to one. Both are safe to call from parallel tests. WithTemplate
// runs an expensive setup (typically the schema migrations) once per test
// binary in a template database, named tmpl_<hash of key>_<per-process tag>;
// each database, named t_<random hex>, is then a file copy of it
// (CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY):
//
//	func TestStore(t *testing.T) {
//		t.Parallel()
//		pool := pgtest.NewPool(t, pgtest.WithTemplate("migrations", migrate))
//		...
//	}
//
// # Controlling the server
//
// Tests that must stop and restart PostgreSQL under a running service (health
// checks, reconnection) use NewCluster, which starts a cluster of their own
// with Stop and Start methods. It always needs the local server binaries,
// even when TEST_DATABASE_URL is set.
//
// Error messages never contain the server password.
package pgtest
