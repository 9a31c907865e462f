package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// Two first saves of a user's settings keep both changes: the second,
// which waits for the first, applies its change to what the first stored,
// not to the defaults it read before. (FOR UPDATE on a row that did not
// exist yet locked nothing, and the second save wrote its defaults over
// the first's change.)
func TestFirstSettingsSavesAtOnceKeepBothChanges(t *testing.T) {
	st, pool := newStore(t, 4)
	ctx := context.Background()
	// The first save, in flight: the user's row, with sharing on, not committed.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO mail_settings (company_id, user_id, default_sharing, two_way_sync)
		VALUES (1, 7, $1, false)`, store.SharingShared); err != nil {
		t.Fatal(err)
	}
	// The second turns two-way sync on.
	blockedUntilCommit(t, pool, tx, func() error {
		_, err := st.UpdateSettings(ctx, 1, 7, func(s *store.Settings) { s.TwoWaySync = true })
		return err
	})
	got, err := st.Settings(ctx, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	if got.DefaultSharing != store.SharingShared || !got.TwoWaySync {
		t.Fatalf("settings %+v, want sharing on and two-way on", got)
	}
}

// Replacing a user's addresses waits for a replacement in flight, which
// holds the user's ingest lock, and then replaces what it stored: the
// result is the last set, not the union of both.
func TestUserAddressesReplacedOneAtATime(t *testing.T) {
	st, pool := newStore(t, 4)
	ctx := context.Background()
	if _, err := st.SetUserAddresses(ctx, 1, 7, []string{"old@acme.test"}); err != nil {
		t.Fatal(err)
	}
	// The first replacement, in flight: {first@acme.test}.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, q := range []string{`SELECT pg_advisory_xact_lock($1)`,
		`DELETE FROM user_addresses WHERE company_id = 1 AND user_id = 7 AND $1::bigint IS NOT NULL`,
		`INSERT INTO user_addresses (company_id, user_id, email) SELECT 1, 7, 'first@acme.test' WHERE $1::bigint IS NOT NULL`} {
		if _, err := tx.Exec(ctx, q, store.LockKey(1, 7)); err != nil {
			t.Fatal(err)
		}
	}
	blockedUntilCommit(t, pool, tx, func() error {
		_, err := st.SetUserAddresses(ctx, 1, 7, []string{"second@acme.test"})
		return err
	})
	got, err := st.UserAddresses(ctx, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"second@acme.test"}) {
		t.Fatalf("addresses %v, want only the last set", got)
	}
}
