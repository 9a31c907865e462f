package store_test

import (
	"context"
	"testing"

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
	a, err := st.CreateAccount(ctx, 1, store.Account{UserID: 1, Email: "alice@acme.test",
		IMAP: store.ServerSettings{Host: "127.0.0.1", Port: 143, Security: 3}, SMTP: store.ServerSettings{Host: "127.0.0.1", Port: 25, Security: 3},
		Username: "alice", AuthKind: 1, SyncWindow: 1, Folders: []string{"INBOX"}}, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE account_sync SET lease_owner = 'w', lease_expiry = now() + interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
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
