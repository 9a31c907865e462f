package imapsync_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sightline/sightline/pkg/pg"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/services/mailbox/internal/dovecottest"
	"github.com/sightline/sightline/services/mailbox/internal/imapsync"
	"github.com/sightline/sightline/services/mailbox/internal/store"
	"github.com/sightline/sightline/services/mailbox/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var migrated = pgtest.WithMigrated(pgtest.Schema{Name: "mailbox", Migrations: migrations.FS})

// plain "opens" a test secret stored as is (the service seals with secretbox).
func plain(_, _ int64, sealed []byte) (string, error) { return string(sealed), nil }

type fixture struct {
	st   *store.Store
	pool *pgxpool.Pool
	dv   *dovecottest.Server
	pass string
	id   int64
}

func newFixture(t *testing.T, messages int) *fixture {
	t.Helper()
	pool, err := pg.Open(context.Background(), pgtest.New(t, migrated), "mailbox", 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := &fixture{st: store.New(pool), pool: pool, pass: "pw-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	f.dv = dovecottest.Start(t, dovecottest.WithUser("alice", f.pass))
	raws := make([][]byte, messages)
	for i := range raws {
		raws[i] = fmt.Appendf(nil, "Message-ID: <m%d@customer.test>\r\nFrom: carol@customer.test\r\nTo: alice@acme.test\r\n"+
			"Subject: Message %d\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nHello %d.\r\n", i, i, i)
	}
	if messages > 0 {
		f.dv.Append(t, "alice", "INBOX", raws...)
	}
	host, port, _ := net.SplitHostPort(f.dv.Addr())
	p, _ := strconv.Atoi(port)
	a, err := f.st.CreateAccount(context.Background(), 1, store.Account{UserID: 1, Email: "alice@acme.test",
		IMAP: store.ServerSettings{Host: host, Port: int32(p), Security: 3}, SMTP: store.ServerSettings{Host: host, Port: 25, Security: 3},
		Username: "alice", AuthKind: 1, SyncWindow: 1, Folders: []string{"INBOX"}}, []byte(f.pass))
	if err != nil {
		t.Fatal(err)
	}
	f.id = a.ID
	return f
}

func (f *fixture) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (f *fixture) owner(t testing.TB) string {
	t.Helper()
	var o *string
	if err := f.pool.QueryRow(context.Background(), `SELECT lease_owner FROM account_sync WHERE account_id = $1`, f.id).Scan(&o); err != nil {
		t.Fatal(err)
	}
	if o == nil {
		return ""
	}
	return *o
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run starts a Manager until the test ends; opts adjust its Config.
func run(t *testing.T, f *fixture, reg prometheus.Registerer, log *zap.Logger, owner string, opts ...func(*imapsync.Config)) *imapsync.Manager {
	t.Helper()
	cfg := imapsync.Config{Workers: 2, PollInterval: 100 * time.Millisecond,
		IdleTimeout: time.Second, LeaseTTL: 900 * time.Millisecond, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Owner: owner, Logger: log, Registry: reg}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := imapsync.New(f.st, plain, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return m
}

// expireLease makes holder's lease on the account expire now (as if its
// holder had stopped renewing it long ago).
func (f *fixture) expireLease(t testing.TB, holder string) {
	t.Helper()
	tag, err := f.pool.Exec(context.Background(), `UPDATE account_sync SET lease_expiry = now() - interval '1 second'
		WHERE account_id = $1 AND lease_owner = $2`, f.id, holder)
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("%q no longer holds the lease (owner %q)", holder, f.owner(t))
	}
}

// A dead replica's lease (never renewed, never released) blocks the account
// until it expires; then a live Manager takes the account over.
func TestSync_DeadReplicaLeaseTakenOverAfterExpiry(t *testing.T) {
	f := newFixture(t, 5)
	// The dead lease lasts until the test expires it: nothing depends on how
	// fast the manager starts or how long its claim rounds take.
	if _, err := f.pool.Exec(context.Background(), `UPDATE account_sync SET lease_owner = 'dead-replica',
		lease_expiry = now() + interval '1 hour' WHERE account_id = $1`, f.id); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	start := time.Now()
	// A long TTL: a renewal delayed by a busy machine must not let the
	// manager's own lease expire (and be claimed again by its own claim
	// loop), which would upset the accounts_leased and last_success series.
	// The takeover does not depend on it: a claim takes any expired lease.
	m := run(t, f, reg, zap.NewNop(), "", func(c *imapsync.Config) { c.LeaseTTL = 10 * time.Second })
	time.Sleep(700 * time.Millisecond) // several claim rounds (every ~100 ms)
	if o := f.owner(t); o != "dead-replica" || f.count(t, `SELECT count(*) FROM messages`) != 0 {
		t.Fatalf("the account was taken before the lease expired (owner %q)", o)
	}
	f.expireLease(t, "dead-replica")
	waitFor(t, "the takeover", func() bool { return f.owner(t) == m.Owner() })
	waitFor(t, "the messages", func() bool { return f.count(t, `SELECT count(*) FROM messages`) == 5 })
	waitFor(t, "SYNCED", func() bool {
		return f.count(t, `SELECT state FROM account_sync WHERE account_id = $1`, f.id) == int(store.SyncSynced)
	})
	// Metrics: messages synced, accounts leased, the last success per account.
	if v, n := metric(t, reg, "sightline_mailbox_sync_accounts_leased"); v != 1 || n != 1 {
		t.Fatalf("accounts leased %v (%d series), want 1", v, n)
	}
	if v, _ := metric(t, reg, "sightline_mailbox_sync_messages_total"); v != 5 {
		t.Fatalf("messages synced %v, want 5", v)
	}
	if v, n := metric(t, reg, "sightline_mailbox_sync_last_success_timestamp_seconds"); n != 1 || v < float64(start.Unix()) {
		t.Fatalf("last success %v (%d series)", v, n)
	}
	if v, _ := metric(t, reg, "sightline_mailbox_sync_auth_failures_total"); v != 0 {
		t.Fatalf("auth failures %v", v)
	}
}

// metric sums a metric's series and counts them.
func metric(t *testing.T, reg *prometheus.Registry, name string) (float64, int) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	var n int
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			n++
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum, n
}

// A worker whose lease was taken stops at once and commits nothing more; it
// gets the account back once the other holder's lease expires.
func TestSync_LostLeaseStopsTheWorker(t *testing.T) {
	f := newFixture(t, 3)
	core, logs := observer.New(zapcore.InfoLevel)
	m := run(t, f, nil, zap.New(core), "")
	waitFor(t, "the sync", func() bool { return f.count(t, `SELECT count(*) FROM messages`) == 3 })
	// The thief holds the account until the test expires its lease, however
	// slow the steps in between are.
	if _, err := f.pool.Exec(context.Background(), `UPDATE account_sync SET lease_owner = 'thief',
		lease_expiry = now() + interval '1 hour' WHERE account_id = $1`, f.id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the worker to notice", func() bool { return logs.FilterMessageSnippet("lease lost").Len() > 0 })
	// New mail while the thief holds the account is not synced by the worker.
	f.dv.Append(t, "alice", "INBOX", []byte("Message-ID: <late@customer.test>\r\nFrom: carol@customer.test\r\nTo: alice@acme.test\r\nSubject: Late\r\n\r\nLate.\r\n"))
	time.Sleep(time.Second)
	if o := f.owner(t); o != "thief" || f.count(t, `SELECT count(*) FROM messages`) != 3 {
		t.Fatalf("owner %q: the worker went on without its lease", o)
	}
	f.expireLease(t, "thief")
	waitFor(t, "the account back after the thief's lease expired", func() bool {
		return f.owner(t) == m.Owner() && f.count(t, `SELECT count(*) FROM messages`) == 4
	})
}

// Deleting an account stops its sync without calling it a lost lease: the
// lease row goes with the account, no other worker holds it, and the
// lease_lost error count (what an alert would watch) stays at zero.
func TestSync_DeletedAccountStopsItsSyncQuietly(t *testing.T) {
	f := newFixture(t, 3)
	core, logs := observer.New(zapcore.InfoLevel)
	reg := prometheus.NewRegistry()
	run(t, f, reg, zap.New(core), "")
	waitFor(t, "the sync", func() bool { return f.count(t, `SELECT count(*) FROM messages`) == 3 })
	if err := f.st.DeleteAccount(context.Background(), 1, 1, f.id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sync to stop", func() bool { return logs.FilterMessage("mail account deleted: its sync stopped").Len() == 1 })
	if n := logs.FilterMessageSnippet("lease lost").Len(); n != 0 {
		t.Fatalf("a deleted account logged as a lost lease %d times", n)
	}
	if v, _ := metric(t, reg, "sightline_mailbox_sync_errors_total"); v != 0 {
		t.Fatalf("sync errors counted: %v", v)
	}
	waitFor(t, "no account leased", func() bool {
		v, _ := metric(t, reg, "sightline_mailbox_sync_accounts_leased")
		return v == 0
	})
}

// A manager whose own lease expired before a late renewal, and whose claim
// loop then claims the account again, keeps the one session it has: a
// second would sync the account twice in one process, and the first to end
// would drop the account from the manager's count while the other runs.
func TestSync_OwnExpiredLeaseClaimedAgainKeepsOneSession(t *testing.T) {
	f := newFixture(t, 3)
	core, logs := observer.New(zapcore.InfoLevel)
	reg := prometheus.NewRegistry()
	// No renewal during the test (every 10 min): the claim loop (every
	// ~100 ms) is the one to find the expired lease.
	m := run(t, f, reg, zap.New(core), "", func(c *imapsync.Config) { c.LeaseTTL = 30 * time.Minute })
	waitFor(t, "the sync", func() bool { return f.count(t, `SELECT count(*) FROM messages`) == 3 })
	f.expireLease(t, m.Owner())
	waitFor(t, "the lease claimed again", func() bool {
		return f.count(t, `SELECT count(*) FROM account_sync WHERE account_id = $1 AND lease_expiry > now()`, f.id) == 1
	})
	if n := logs.FilterMessage("mail account leased").Len(); n != 1 {
		t.Fatalf("%d sessions started for one account", n)
	}
	if n := logs.FilterMessageSnippet("claimed again").Len(); n != 1 {
		t.Fatalf("%d re-claims logged, want 1", n)
	}
	if v, _ := metric(t, reg, "sightline_mailbox_sync_accounts_leased"); v != 1 {
		t.Fatalf("accounts leased %v, want 1", v)
	}
	// The one session still syncs.
	f.dv.Append(t, "alice", "INBOX", []byte("Message-ID: <after@customer.test>\r\nFrom: carol@customer.test\r\nTo: alice@acme.test\r\nSubject: After\r\n\r\nAfter.\r\n"))
	waitFor(t, "new mail", func() bool { return f.count(t, `SELECT count(*) FROM messages`) == 4 })
}
