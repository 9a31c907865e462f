package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

func params(t testing.TB, user, i int) store.IngestParams {
	t.Helper()
	m, err := mime.Parse(raw(user, i), mime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return store.IngestParams{CompanyID: 1, UserID: int64(user), Folder: "INBOX", Msg: m}
}

// A batch sees its own earlier messages: the reply joins the first
// message's thread and a second copy is a duplicate (S3).
func TestIngestBatchThreadsAndDeduplicatesWithinTheBatch(t *testing.T) {
	st, pool := newStore(t, 4)
	ctx := context.Background()
	ps := []store.IngestParams{params(t, 1, 0), params(t, 1, 1), params(t, 1, 0)}
	res, err := st.IngestBatch(ctx, ps, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res[1].ThreadID != res[0].ThreadID || res[1].Duplicate {
		t.Errorf("reply: %+v, want thread %d", res[1], res[0].ThreadID)
	}
	if !res[2].Duplicate || res[2].MessageID != res[0].MessageID {
		t.Errorf("second copy: %+v, want a duplicate of message %d", res[2], res[0].MessageID)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("messages stored: %d, %v; want 2", n, err)
	}
}

// The caller's follow-up runs in the same transaction: its error leaves
// nothing behind (S2: a message and the state covering it commit together).
func TestIngestBatchRollsBackWithTheFollowUp(t *testing.T) {
	st, pool := newStore(t, 4)
	ctx := context.Background()
	boom := errors.New("folder state write failed")
	_, err := st.IngestBatch(ctx, []store.IngestParams{params(t, 1, 0), params(t, 2, 0)},
		func(ctx context.Context, tx pgx.Tx, res []store.IngestResult) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil {
				return err
			}
			if n != 2 || len(res) != 2 {
				t.Errorf("inside the transaction: %d messages, %d results; want 2 and 2", n, len(res))
			}
			return boom
		})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the follow-up's error", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after the rollback: %d messages (%v), want 0", n, err)
	}
}

// A message naming an unknown account fails the whole batch, with its index.
func TestIngestBatchUnknownAccountFailsAll(t *testing.T) {
	st, pool := newStore(t, 4)
	ctx := context.Background()
	bad := params(t, 1, 1)
	bad.AccountID = 99
	_, err := st.IngestBatch(ctx, []store.IngestParams{params(t, 1, 0), bad}, nil)
	var be *store.BatchError
	if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, store.ErrAccountNotFound) {
		t.Fatalf("got %v, want BatchError{Index: 1} wrapping ErrAccountNotFound", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d messages stored (%v), want 0", n, err)
	}
}

// BenchmarkIngestBatch ingests the same messages as BenchmarkIngest (16
// users in parallel) in batches of 50 per user, one commit per batch.
func BenchmarkIngestBatch(b *testing.B) {
	st, pool := newStore(b, 20)
	warmUp(b, st, pool)
	const users, batch = 16, 50
	per := max(b.N/users, 1)
	b.ResetTimer()
	var wg sync.WaitGroup
	var failed atomic.Value
	begin := time.Now()
	for u := 100; u < 100+users; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i += batch {
				var ps []store.IngestParams
				for j := i; j < min(i+batch, per); j++ {
					ps = append(ps, params(b, u, j))
				}
				if _, err := st.IngestBatch(context.Background(), ps, nil); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(users*per)/time.Since(begin).Seconds(), "msgs/s")
}

// Lists go to PostgreSQL as text[] literals (folders, participant keys);
// whatever a folder name or address holds comes back as it was.
func TestTextArrayLiteralRoundTrips(t *testing.T) {
	_, pool := newStore(t, 1)
	cases := [][]string{
		nil, {}, {""}, {"INBOX"}, {"a", "b"}, {`say "hi"`}, {`back\slash`, `\`, `"`, `\"`},
		{"{braces}", "com,ma", " spaced ", "NULL", "null"}, {"Sända objekt", "Odeslaná pošta", "📬"},
		{"a\tb\nc"},
	}
	for _, want := range cases {
		var got []string
		if err := pool.QueryRow(context.Background(), `SELECT $1::text::text[]`, store.TextArray(want)).Scan(&got); err != nil {
			t.Fatalf("%q: %v", want, err)
		}
		if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
			t.Fatalf("%q came back as %q (literal %s)", want, got, store.TextArray(want))
		}
	}
}
