package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// A two-way move that keeps failing at the provider is given up after its
// attempts, and its error stays in the account's status until a later move
// succeeds; a move with nothing to do is dropped without an error. (One
// statement updating and deleting the same row used to keep only the
// update: failing moves were retried forever, and dropped ones too.)
func TestTwoWayActionGivenUpAfterItsAttempts(t *testing.T) {
	st, pool := newStore(t, 2)
	ctx := context.Background()
	a := leasedAccount(t, st, pool)
	queue := func(uid int) int64 {
		t.Helper()
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO provider_actions (company_id, account_id, kind, folder, uid_validity, uid)
			VALUES (1, $1, 1, 'INBOX', 7, $2) RETURNING id`, a.ID, uid).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	status := func() store.SyncStatus {
		t.Helper()
		m, err := st.SyncStatuses(ctx, 1, []int64{a.ID})
		if err != nil {
			t.Fatal(err)
		}
		return m[a.ID]
	}
	attempts := func(id int64) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, `SELECT coalesce((SELECT attempts FROM provider_actions WHERE id = $1), -1)`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	failing, dropped, done := queue(1), queue(2), queue(3)
	if s := status(); s.PendingActions != 3 || s.LastActionError != "" {
		t.Fatalf("status %+v, want 3 pending moves and no error", s)
	}
	for i := 1; i <= 3; i++ {
		if err := st.FailAction(ctx, 1, failing, "NO [CANNOT] mailbox is read-only", 3); err != nil {
			t.Fatal(err)
		}
		if want := map[int]int{1: 1, 2: 2, 3: -1}[i]; attempts(failing) != want {
			t.Fatalf("after failure %d: attempts %d, want %d (-1: given up)", i, attempts(failing), want)
		}
	}
	s := status()
	if s.PendingActions != 2 || s.LastActionError != "NO [CANNOT] mailbox is read-only" || s.LastActionErrorTime.IsZero() {
		t.Fatalf("status %+v, want 2 pending moves and the given-up move's error", s)
	}

	if err := st.DropAction(ctx, 1, dropped); err != nil {
		t.Fatal(err)
	}
	if attempts(dropped) != -1 || status().LastActionError == "" {
		t.Fatalf("a dropped move: attempts %d, status %+v", attempts(dropped), status())
	}

	if err := st.CompleteAction(ctx, 1, a.ID, "w", store.ProviderAction{ID: done, Kind: store.ActionArchive, Folder: "INBOX", UIDValidity: 7, UID: 3},
		"Archive", 9, 1); err != nil {
		t.Fatal(err)
	}
	if s := status(); s.PendingActions != 0 || s.LastActionError != "" || !s.LastActionErrorTime.IsZero() {
		t.Fatalf("status %+v after a move succeeded, want nothing pending and no error", s)
	}
}

// A flag change at the provider recomputes the thread's read flag from
// every message the thread has when the recompute runs: a message an
// ingest added while the recompute waited for the thread's row lock
// counts. (The recompute's subquery used to keep the snapshot taken before
// the wait: the new unseen message was missed and the thread read "read".)
func TestApplySeenCountsMessageAddedWhileItWaited(t *testing.T) {
	st, pool := newStore(t, 4)
	ctx := context.Background()
	a := leasedAccount(t, st, pool)
	res := ingestAt(t, st, pool, a, 1)

	// An ingest in flight: it holds the thread's row and adds an unseen message.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE threads SET read = false, message_count = message_count + 1 WHERE id = $1`, res.ThreadID); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO messages (company_id, owner_id, thread_id, account_id, internet_message_id, content_hash,
			subject, addresses, sent_at, message_at, snippet, body_text, body_html, attachments, has_attachments, size_bytes,
			outbound, seen, smart_bcc, folders)
		SELECT company_id, owner_id, thread_id, account_id, 'second-' || internet_message_id, content_hash || '-2',
			subject, addresses, sent_at, message_at, snippet, body_text, body_html, attachments, has_attachments, size_bytes,
			outbound, false, smart_bcc, folders
		FROM messages WHERE id = $1`, res.MessageID); err != nil {
		t.Fatal(err)
	}

	// The provider marks the first message seen; the recompute waits for the ingest.
	blockedUntilCommit(t, pool, tx, func() error {
		_, err := st.ApplySeen(ctx, 1, a.ID, "w", "INBOX", map[uint32]bool{1: true})
		return err
	})
	var read bool
	var unseen int
	if err := pool.QueryRow(ctx, `SELECT t.read, (SELECT count(*) FROM messages m WHERE m.thread_id = t.id AND NOT m.seen)
		FROM threads t WHERE t.id = $1`, res.ThreadID).Scan(&read, &unseen); err != nil {
		t.Fatal(err)
	}
	if read || unseen != 1 {
		t.Fatalf("thread read=%v with %d unseen messages, want unread with 1", read, unseen)
	}
}

// ingestAt ingests alice's first message into INBOX of account a and
// records it at these UIDs (UIDVALIDITY 1), as the sync would.
func ingestAt(t *testing.T, st *store.Store, pool *pgxpool.Pool, a store.Account, uids ...int) store.IngestResult {
	t.Helper()
	ctx := context.Background()
	m, err := mime.Parse(raw(1, 0), mime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Ingest(ctx, store.IngestParams{CompanyID: 1, UserID: 1, AccountID: a.ID, Folder: "INBOX", Msg: m})
	if err != nil {
		t.Fatal(err)
	}
	for _, uid := range uids {
		if _, err := pool.Exec(ctx, `INSERT INTO message_locations (company_id, account_id, folder, uid_validity, uid, message_id)
			VALUES (1, $1, 'INBOX', 1, $2, $3)`, a.ID, uid, res.MessageID); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// leasedAccount creates alice's account of company 1, its sync lease held by "w".
func leasedAccount(t *testing.T, st *store.Store, pool *pgxpool.Pool) store.Account {
	t.Helper()
	ctx := context.Background()
	a, err := st.CreateAccount(ctx, 1, store.Account{UserID: 1, Email: "alice@acme.test",
		IMAP: store.ServerSettings{Host: "127.0.0.1", Port: 143, Security: 3}, SMTP: store.ServerSettings{Host: "127.0.0.1", Port: 25, Security: 3},
		Username: "alice", AuthKind: 1, SyncWindow: 1, Folders: []string{"INBOX"}}, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE account_sync SET lease_owner = 'w', lease_expiry = now() + interval '1 hour'
		WHERE account_id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	return a
}

// blockedUntilCommit runs call, which must come to wait for a lock that
// the test's transaction tx holds, then commits tx and returns once call
// has; it fails the test if call fails.
func blockedUntilCommit(t *testing.T, pool *pgxpool.Pool, tx pgx.Tx, call func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	waitForLockWaiter(t, pool)
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// waitForLockWaiter returns once a session of this database waits for a
// lock (a statement of the code under test, blocked by the test's own
// transaction).
func waitForLockWaiter(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing waited for the test's lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An expunge takes the folder off a message's folders only when the
// message has no other UID in that folder; the last one deletes it.
func TestExpungeKeepsAFolderTheMessageIsStillIn(t *testing.T) {
	st, pool := newStore(t, 2)
	ctx := context.Background()
	a := leasedAccount(t, st, pool)
	// The provider holds the message twice in INBOX (the same mail appended twice).
	res := ingestAt(t, st, pool, a, 1, 2)
	folders := func() []string {
		t.Helper()
		var f []string
		if err := pool.QueryRow(ctx, `SELECT coalesce((SELECT folders FROM messages WHERE id = $1), '{gone}')`, res.MessageID).Scan(&f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	if _, err := st.Expunge(ctx, 1, a.ID, 1, "w", "INBOX", []uint32{1}); err != nil {
		t.Fatal(err)
	}
	if f := folders(); !slices.Equal(f, []string{"INBOX"}) {
		t.Fatalf("folders %v after one of two UIDs was expunged, want [INBOX]", f)
	}
	if _, err := st.Expunge(ctx, 1, a.ID, 1, "w", "INBOX", []uint32{2}); err != nil {
		t.Fatal(err)
	}
	if f := folders(); !slices.Equal(f, []string{"gone"}) {
		t.Fatalf("folders %v after the last UID was expunged, want the message deleted", f)
	}
}

// A worker's failure recorded after the user saved a new secret does not
// put the account back in NEEDS_REAUTH (or in backoff): the outcome
// belongs to the old secret, and the account stays PENDING, due at once.
func TestStaleSyncFailureLeavesANewSecretAlone(t *testing.T) {
	st, pool := newStore(t, 2)
	ctx := context.Background()
	a := leasedAccount(t, st, pool)
	// The worker synced with the account as it was (its update time), and
	// the login with that secret failed; meanwhile the user saves a new one.
	if _, err := st.UpdateAccount(ctx, 1, 1, a.ID, func(*store.Account) error { return nil },
		store.SecretUpdate{Set: true, Sealed: []byte("new-pw")}); err != nil {
		t.Fatal(err)
	}
	refused := store.SyncOutcome{State: store.SyncNeedsReauth, Err: "the server refused the credentials",
		Release: true, CountFailed: true, AccountUpdate: a.UpdateTime}
	if _, err := st.RecordSync(ctx, 1, a.ID, "w", refused); err != nil {
		t.Fatal(err)
	}
	s, err := st.SyncStatuses(ctx, 1, []int64{a.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := s[a.ID]; got.State != store.SyncPending || !got.NextAttempt.IsZero() || got.LastError != "" {
		t.Fatalf("status %+v after a stale refusal, want PENDING, due now, no error", got)
	}
	if owner := scalarText(t, pool, `SELECT coalesce(lease_owner, '') FROM account_sync WHERE account_id = $1`, a.ID); owner != "" {
		t.Fatalf("lease held by %q, want released", owner)
	}

	// The same refusal for the account as it is now is recorded.
	cur, err := st.Account(ctx, 1, 1, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE account_sync SET lease_owner = 'w', lease_expiry = now() + interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	refused.AccountUpdate = cur.UpdateTime
	if _, err := st.RecordSync(ctx, 1, a.ID, "w", refused); err != nil {
		t.Fatal(err)
	}
	if s, err = st.SyncStatuses(ctx, 1, []int64{a.ID}); err != nil || s[a.ID].State != store.SyncNeedsReauth {
		t.Fatalf("status %+v (%v), want NEEDS_REAUTH", s[a.ID], err)
	}
}

func scalarText(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) string {
	t.Helper()
	var v string
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
