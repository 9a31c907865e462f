package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sightline/sightline/pkg/pg"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/store"
	"github.com/sightline/sightline/services/mailbox/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var migrated = pgtest.WithMigrated(pgtest.Schema{Name: "mailbox", Migrations: migrations.FS})

func newStore(t testing.TB, conns int32) (*store.Store, *pgxpool.Pool) {
	t.Helper()
	url := pgtest.New(t, migrated)
	pool, err := pg.Open(context.Background(), url, "mailbox", conns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return store.New(pool), pool
}

// warmUp ingests a first batch (connections, prepared statements) and
// analyzes the tables, as autovacuum does on a running database, so that
// the planner uses the indexes it would in production.
func warmUp(t testing.TB, st *store.Store, pool *pgxpool.Pool) {
	t.Helper()
	ingestMany(t, st, 16, 20)
	if _, err := pool.Exec(context.Background(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
}

// raw builds message i of a user's conversation: every 4th starts a thread,
// the others reply to the previous message.
func raw(user, i int) []byte {
	var refs string
	if i%4 != 0 {
		refs = fmt.Sprintf("In-Reply-To: <u%d-m%d@bench.test>\r\n", user, i-1)
	}
	return fmt.Appendf(nil, "Message-ID: <u%d-m%d@bench.test>\r\n%sFrom: Customer %d <c%d@customer.test>\r\n"+
		"To: user%d@acme.test\r\nCc: colleague@acme.test\r\nSubject: Re: Conversation %d\r\n"+
		"Date: Mon, 02 Mar 2026 10:%02d:%02d +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"Hello,\r\n\r\nthis is message %d of a conversation about the renewal, with a few lines of text\r\n"+
		"so that the snippet and the body have something to do.\r\n\r\nRegards\r\n",
		user, i, refs, i/4, i/4, user, i/4, (i/60)%60, i%60, i)
}

// ingestMany ingests perUser messages for each of users concurrently (one
// goroutine per user, as sync workers would) and returns the rate.
func ingestMany(t testing.TB, st *store.Store, users, perUser int) float64 {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Value
	begin := time.Now()
	for u := 1; u <= users; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perUser {
				m, err := mime.Parse(raw(u, i), mime.Options{})
				if err == nil {
					_, err = st.Ingest(context.Background(), store.IngestParams{CompanyID: 1, UserID: int64(u), Folder: "INBOX", Msg: m})
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	return float64(users*perUser) / time.Since(begin).Seconds()
}

// BenchmarkIngest ingests messages of 16 users in parallel and reports
// messages/s (the target is 2,000/s); speed is measured here, never
// asserted in a test.
func BenchmarkIngest(b *testing.B) {
	st, pool := newStore(b, 20)
	warmUp(b, st, pool)
	b.ResetTimer()
	per := max(b.N/16, 1)
	rate := ingestMany(b, st, 16, per)
	b.ReportMetric(rate, "msgs/s")
}
