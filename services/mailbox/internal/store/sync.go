package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// This file is the storage of the IMAP sync (internal/imapsync): account
// leases, folder state, message locations, expunges and the two-way outbox
// (S1, S2, S6, M6).

// Sync states (proto SyncState).
const (
	SyncPending     int16 = 1
	SyncInitial     int16 = 2
	SyncSynced      int16 = 3
	SyncRetrying    int16 = 4
	SyncNeedsReauth int16 = 5
	SyncNoSecret    int16 = 6
)

// ErrLeaseLost: the account's lease is no longer this worker's, so nothing it
// fetched may be committed.
var ErrLeaseLost = errors.New("store: sync lease lost")

// LeasedAccount is an account a worker claimed, with its sealed secret.
type LeasedAccount struct {
	CompanyID int64
	Account
	Sealed []byte
	State  int16
}

// ClaimAccount leases one account whose next attempt is due, that has a
// secret, does not need re-authentication and whose lease is free or
// expired, to owner for ttl; nil when there is none. Concurrent claimers skip
// each other's rows (FOR UPDATE SKIP LOCKED), so an account has one holder.
func (s *Store) ClaimAccount(ctx context.Context, owner string, ttl time.Duration) (*LeasedAccount, error) {
	var la LeasedAccount
	// accountCols need no qualifier: none of them is a column of account_sync or c.
	row := s.pool.QueryRow(ctx, `
		WITH c AS (
			SELECT s.company_id, s.account_id FROM account_sync s
			JOIN mail_accounts a ON a.company_id = s.company_id AND a.id = s.account_id
			WHERE s.state <> 5 AND s.next_attempt_time <= now() -- 5: SyncNeedsReauth (the partial index's predicate)
			  AND (s.lease_expiry IS NULL OR s.lease_expiry < now())
			  AND a.secret IS NOT NULL
			ORDER BY s.next_attempt_time
			LIMIT 1
			FOR UPDATE OF s SKIP LOCKED)
		UPDATE account_sync s SET lease_owner = $1, lease_expiry = now() + $2::interval
		FROM c, mail_accounts a
		WHERE s.company_id = c.company_id AND s.account_id = c.account_id
		  AND a.company_id = c.company_id AND a.id = c.account_id
		RETURNING s.company_id, s.state, a.secret, `+accountCols,
		owner, ttl)
	if err := row.Scan(append([]any{&la.CompanyID, &la.State, &la.Sealed}, accountDest(&la.Account)...)...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	return &la, nil
}

// RenewLease extends owner's lease (even past its expiry, as long as nobody
// claimed it); false when it is no longer owner's. It
// returns the account's update time, so that the holder notices new
// settings or a new secret.
func (s *Store) RenewLease(ctx context.Context, companyID, accountID int64, owner string, ttl time.Duration) (bool, time.Time, error) {
	var updated time.Time
	err := s.pool.QueryRow(ctx, `UPDATE account_sync s SET lease_expiry = now() + $4::interval
		FROM mail_accounts a
		WHERE s.company_id = $1 AND s.account_id = $2 AND s.lease_owner = $3
		  AND a.company_id = s.company_id AND a.id = s.account_id
		RETURNING a.update_time`,
		companyID, accountID, owner, ttl).Scan(&updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, updated, nil
	}
	return err == nil, updated, err
}

// checkLease holds owner's lease row (FOR SHARE) until the transaction ends,
// so that a claimer cannot take the account over before it commits. The
// owner column is the fence: a claim of an expired lease replaces it, so a
// holder that was paused past its expiry finds another owner and stops; an
// expired lease nobody claimed is still its holder's alone.
func checkLease(ctx context.Context, tx pgx.Tx, companyID, accountID int64, owner string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM account_sync
		WHERE company_id = $1 AND account_id = $2 AND lease_owner = $3 FOR SHARE`,
		companyID, accountID, owner).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrLeaseLost
	}
	return err
}

// SyncOutcome is what a worker records about an account.
type SyncOutcome struct {
	State       int16
	Success     bool          // the account is caught up: last success now, error and failures cleared
	Err         string        // "" keeps no error; else the error (no secrets)
	RetryAfter  time.Duration // with Err: when the account may be claimed again
	Release     bool          // give the lease up
	CountFailed bool          // with Err: one more consecutive failure
	// AccountUpdate, when set, is the account's update time the worker
	// synced with: if the account changed since (a new secret, new
	// settings), the outcome is stale and the account is left PENDING, due
	// at once, instead (the lease is still released as asked).
	AccountUpdate time.Time
}

// RecordSync stores an outcome while owner holds the lease. It returns the
// number of consecutive failures (after this one).
func (s *Store) RecordSync(ctx context.Context, companyID, accountID int64, owner string, o SyncOutcome) (int, error) {
	var failures int
	var since any // NULL: the outcome holds whatever changed
	if !o.AccountUpdate.IsZero() {
		since = o.AccountUpdate
	}
	err := s.pool.QueryRow(ctx, `
		UPDATE account_sync s SET state = CASE WHEN x.stale THEN $11::smallint ELSE $4 END,
			last_success_time = CASE WHEN $5 AND NOT x.stale THEN now() ELSE last_success_time END,
			last_error = CASE WHEN x.stale THEN last_error WHEN $5 THEN '' WHEN $6 <> '' THEN $6 ELSE last_error END,
			last_error_time = CASE WHEN x.stale THEN last_error_time WHEN $6 <> '' THEN now() WHEN $5 THEN NULL
				ELSE last_error_time END,
			failures = CASE WHEN x.stale THEN failures WHEN $5 THEN 0 WHEN $8 THEN failures + 1 ELSE failures END,
			next_attempt_time = CASE WHEN $6 <> '' AND NOT x.stale THEN now() + $7::interval ELSE now() END,
			lease_owner = CASE WHEN $9 THEN NULL ELSE lease_owner END,
			lease_expiry = CASE WHEN $9 THEN NULL ELSE lease_expiry END
		FROM (SELECT coalesce(a.update_time <> $10::timestamptz, false) AS stale
			FROM mail_accounts a WHERE a.company_id = $1 AND a.id = $2) x
		WHERE s.company_id = $1 AND s.account_id = $2 AND s.lease_owner = $3
		RETURNING s.failures`,
		companyID, accountID, owner, o.State, o.Success, o.Err, o.RetryAfter, o.CountFailed, o.Release,
		since, SyncPending).Scan(&failures)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrLeaseLost
	}
	return failures, err
}

// Failures returns an account's consecutive failures.
func (s *Store) Failures(ctx context.Context, companyID, accountID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT failures FROM account_sync WHERE company_id = $1 AND account_id = $2`,
		companyID, accountID).Scan(&n)
	return n, err
}

// FolderState is one synced folder.
type FolderState struct {
	Name          string
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	InitialDone   bool
	MessagesDone  int64
	MessagesTotal int64
	LastSuccess   time.Time
	LastError     string
}

// folderCols are the columns of a sync_folders row that scanFolder reads.
const folderCols = `name, uid_validity, uid_next, highest_modseq, initial_done, messages_done, messages_total,
	last_success_time, last_error`

// scanFolder scans a row of the columns of before, then folderCols.
func scanFolder(row pgx.Row, before ...any) (FolderState, error) {
	var f FolderState
	var validity, next, modseq int64
	var success *time.Time
	err := row.Scan(append(before[:len(before):len(before)], &f.Name, &validity, &next, &modseq, &f.InitialDone,
		&f.MessagesDone, &f.MessagesTotal, &success, &f.LastError)...)
	if err != nil {
		return f, err
	}
	f.UIDValidity, f.UIDNext, f.HighestModSeq = uint32(validity), uint32(next), uint64(modseq)
	if success != nil {
		f.LastSuccess = *success
	}
	return f, nil
}

// Folder returns a folder's state; ok is false when it was never synced.
func (s *Store) Folder(ctx context.Context, companyID, accountID int64, name string) (FolderState, bool, error) {
	f, err := scanFolder(s.pool.QueryRow(ctx, `SELECT `+folderCols+`
		FROM sync_folders WHERE company_id = $1 AND account_id = $2 AND name = $3`, companyID, accountID, name))
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
		return FolderState{Name: name}, false, err
	}
	return f, true, nil
}

// ResetFolder starts a folder over under a new UIDVALIDITY (or for the first
// time): its locations are dropped (the messages stay; a re-sync finds them
// again by Message-ID and content hash, S3) and its initial sync begins.
func (s *Store) ResetFolder(ctx context.Context, companyID, accountID int64, owner, name string, uidValidity uint32) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkLease(ctx, tx, companyID, accountID, owner); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM message_locations WHERE company_id = $1 AND account_id = $2 AND folder = $3`,
			companyID, accountID, name); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO sync_folders (company_id, account_id, name, uid_validity) VALUES ($1, $2, $3, $4)
			ON CONFLICT (company_id, account_id, name) DO UPDATE SET uid_validity = EXCLUDED.uid_validity,
				uid_next = 0, highest_modseq = 0, initial_done = false, messages_done = 0, messages_total = 0`,
			companyID, accountID, name, int64(uidValidity))
		return err
	})
}

// FolderUpdate is what a committed step changes of a folder's state; nil
// fields stay.
type FolderUpdate struct {
	UIDNext       *uint32
	HighestModSeq *uint64
	InitialDone   *bool
	Done          *int64 // absolute; AddDone adds to it
	AddDone       int64
	Total         *int64 // absolute; AddTotal adds to it
	AddTotal      int64
	Success       bool
	Err           *string
}

// Location is where a message is at the provider; MessageID 0 marks a UID
// that is not stored here, Filtered one the known-contacts filter left out.
type Location struct {
	UID       uint32
	MessageID int64
	Filtered  bool
}

// SyncStep is one committed step of a folder's sync: the locations of the
// messages just ingested and the folder state covering them.
type SyncStep struct {
	CompanyID, AccountID int64
	Owner                string
	Folder               string
	UIDValidity          uint32
	Locations            []Location
	Update               FolderUpdate
}

// CommitStep writes a step inside tx (IngestBatch's follow-up), after
// checking that the lease is still the worker's: the messages, their
// locations and the folder state commit together (S2).
func CommitStep(ctx context.Context, tx pgx.Tx, st SyncStep) error {
	if err := checkLease(ctx, tx, st.CompanyID, st.AccountID, st.Owner); err != nil {
		return err
	}
	if len(st.Locations) > 0 {
		uids := make([]int64, len(st.Locations))
		msgs := make([]int64, len(st.Locations))
		filtered := make([]bool, len(st.Locations))
		for i, l := range st.Locations {
			uids[i], msgs[i], filtered[i] = int64(l.UID), l.MessageID, l.Filtered
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO message_locations (company_id, account_id, folder, uid_validity, uid, message_id, filtered)
			SELECT $1, $2, $3, $4, u, NULLIF(m, 0), f FROM unnest($5::bigint[], $6::bigint[], $7::boolean[]) AS x(u, m, f)
			ON CONFLICT (company_id, account_id, folder, uid) DO UPDATE SET message_id = EXCLUDED.message_id,
				uid_validity = EXCLUDED.uid_validity, filtered = EXCLUDED.filtered`,
			st.CompanyID, st.AccountID, st.Folder, int64(st.UIDValidity), uids, msgs, filtered); err != nil {
			return err
		}
	}
	return updateFolder(ctx, tx, st.CompanyID, st.AccountID, st.Folder, st.Update)
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func i64p[T uint32 | uint64 | int64](p *T) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}

func updateFolder(ctx context.Context, q execer, companyID, accountID int64, name string, u FolderUpdate) error {
	_, err := q.Exec(ctx, `
		UPDATE sync_folders SET uid_next = GREATEST(uid_next, coalesce($4, uid_next)),
			highest_modseq = coalesce($5, highest_modseq),
			initial_done = coalesce($6, initial_done), messages_done = coalesce($11, messages_done) + $7,
			messages_total = coalesce($8, messages_total) + $12,
			last_success_time = CASE WHEN $9 THEN now() ELSE last_success_time END,
			last_error = CASE WHEN $9 THEN '' ELSE coalesce($10, last_error) END
		WHERE company_id = $1 AND account_id = $2 AND name = $3`,
		companyID, accountID, name, i64p(u.UIDNext), i64p(u.HighestModSeq), u.InitialDone, u.AddDone, i64p(u.Total),
		u.Success, u.Err, u.Done, u.AddTotal)
	return err
}

// UpdateFolder changes a folder's state outside of an ingest (progress
// totals, a caught-up folder, an error), while owner holds the lease.
func (s *Store) UpdateFolder(ctx context.Context, companyID, accountID int64, owner, name string, u FolderUpdate) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkLease(ctx, tx, companyID, accountID, owner); err != nil {
			return err
		}
		return updateFolder(ctx, tx, companyID, accountID, name, u)
	})
}

// FolderUIDs returns the UIDs of a folder's locations, ascending, without
// the ones waiting for a two-way action (they are being moved away, M6).
func (s *Store) FolderUIDs(ctx context.Context, companyID, accountID int64, folder string) ([]uint32, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.uid FROM message_locations l
		WHERE l.company_id = $1 AND l.account_id = $2 AND l.folder = $3
		  AND NOT EXISTS (SELECT 1 FROM provider_actions p WHERE p.company_id = l.company_id
			AND p.account_id = l.account_id AND p.folder = l.folder AND p.uid = l.uid)
		ORDER BY l.uid`, companyID, accountID, folder)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (uint32, error) {
		var u int64
		err := r.Scan(&u)
		return uint32(u), err
	})
	return out, err
}

// FolderStoredUIDs returns the UIDs of a folder's locations that point at a
// stored message, with its seen flag, for the flag rescan without CONDSTORE;
// at most limit, the highest UIDs.
func (s *Store) FolderStoredUIDs(ctx context.Context, companyID, accountID int64, folder string, limit int) (map[uint32]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.uid, m.seen FROM message_locations l
		JOIN messages m ON m.company_id = l.company_id AND m.id = l.message_id
		WHERE l.company_id = $1 AND l.account_id = $2 AND l.folder = $3
		ORDER BY l.uid DESC LIMIT $4`, companyID, accountID, folder, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint32]bool{}
	for rows.Next() {
		var u int64
		var seen bool
		if err := rows.Scan(&u, &seen); err != nil {
			return nil, err
		}
		out[uint32(u)] = seen
	}
	return out, rows.Err()
}

// ApplySeen sets the seen flag of the messages at these UIDs of a folder (a
// flag change at the provider) and recomputes their threads' read flag. It
// returns how many messages changed.
func (s *Store) ApplySeen(ctx context.Context, companyID, accountID int64, owner, folder string, seen map[uint32]bool) (int, error) {
	if len(seen) == 0 {
		return 0, nil
	}
	uids := make([]int64, 0, len(seen))
	flags := make([]bool, 0, len(seen))
	for u, f := range seen {
		uids = append(uids, int64(u))
		flags = append(flags, f)
	}
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkLease(ctx, tx, companyID, accountID, owner); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			UPDATE messages m SET seen = x.f
			FROM unnest($4::bigint[], $5::bool[]) AS x(u, f), message_locations l
			WHERE l.company_id = $1 AND l.account_id = $2 AND l.folder = $3 AND l.uid = x.u
			  AND m.company_id = l.company_id AND m.id = l.message_id AND m.seen <> x.f
			RETURNING m.thread_id`, companyID, accountID, folder, uids, flags)
		if err != nil {
			return err
		}
		threads, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		n = len(threads)
		if n == 0 {
			return nil
		}
		if err := lockThreads(ctx, tx, companyID, threads); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE threads t SET read = NOT EXISTS (SELECT 1 FROM messages m
				WHERE m.company_id = t.company_id AND m.thread_id = t.id AND NOT m.seen), update_time = now()
			WHERE t.company_id = $1 AND t.id = ANY($2)`, companyID, threads)
		return err
	})
	return n, err
}

// ExpungeResult counts what an expunge at the provider removed here.
type ExpungeResult struct {
	Locations, Messages, Threads int
}

// Expunge removes locations of a folder that the provider expunged (M6): a
// message whose last location is gone is deleted, a thread left without
// messages is deleted, the other threads' aggregates are recomputed. It runs
// under the user's ingest lock, so it cannot interleave with an ingest.
func (s *Store) Expunge(ctx context.Context, companyID, accountID, userID int64, owner, folder string, uids []uint32) (ExpungeResult, error) {
	var res ExpungeResult
	if len(uids) == 0 {
		return res, nil
	}
	del := make([]int64, len(uids))
	for i, u := range uids {
		del[i] = int64(u)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res = ExpungeResult{}
		if err := checkLease(ctx, tx, companyID, accountID, owner); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(companyID, userID)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM message_locations
			WHERE company_id = $1 AND account_id = $2 AND folder = $3 AND uid = ANY($4)
			RETURNING coalesce(message_id, 0)`, companyID, accountID, folder, del)
		if err != nil {
			return err
		}
		msgs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		res.Locations = len(msgs)
		// The folder leaves the message's list unless the message is still
		// there (another UID of it, or another account's folder of the same
		// name); a message with no location left is deleted with what hangs
		// off it.
		if _, err := tx.Exec(ctx, `UPDATE messages SET folders = array_remove(folders, $3)
			WHERE company_id = $1 AND id = ANY($2) AND EXISTS (SELECT 1 FROM message_locations l
				WHERE l.company_id = messages.company_id AND l.message_id = messages.id)
			  AND NOT EXISTS (SELECT 1 FROM message_locations l
				WHERE l.company_id = messages.company_id AND l.message_id = messages.id AND l.folder = $3)`,
			companyID, msgs, folder); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `DELETE FROM messages m WHERE m.company_id = $1 AND m.id = ANY($2)
			AND NOT EXISTS (SELECT 1 FROM message_locations l WHERE l.company_id = m.company_id AND l.message_id = m.id)
			RETURNING m.thread_id`, companyID, msgs)
		if err != nil {
			return err
		}
		threads, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		res.Messages = len(threads)
		if len(threads) == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, `DELETE FROM threads t WHERE t.company_id = $1 AND t.id = ANY($2)
			AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.company_id = t.company_id AND m.thread_id = t.id)`,
			companyID, threads)
		if err != nil {
			return err
		}
		res.Threads = int(tag.RowsAffected())
		return recomputeThreads(ctx, tx, companyID, threads)
	})
	return res, err
}

// recomputeThreads recomputes the aggregates of threads that lost messages
// (deleted threads are skipped): counts, times, read, snippet, flags and
// participants. The subject and the participant keys of threading stay.
func recomputeThreads(ctx context.Context, tx pgx.Tx, companyID int64, threads []int64) error {
	if err := lockThreads(ctx, tx, companyID, threads); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		UPDATE threads t SET message_count = x.n, inbound_count = x.inb, outbound_count = x.outb,
			first_message_at = x.first, last_message_at = x.last, read = x.read, snippet = x.snippet,
			has_attachments = x.att, smart_bcc = x.sbcc, update_time = now()
		FROM (SELECT m.thread_id, count(*) AS n, count(*) FILTER (WHERE NOT m.outbound) AS inb,
				count(*) FILTER (WHERE m.outbound) AS outb, min(m.message_at) AS first, max(m.message_at) AS last,
				bool_and(m.seen) AS read, bool_or(m.has_attachments) AS att, bool_or(m.smart_bcc) AS sbcc,
				(array_agg(m.snippet ORDER BY m.message_at DESC, m.id DESC))[1] AS snippet
			FROM messages m WHERE m.company_id = $1 AND m.thread_id = ANY($2) GROUP BY m.thread_id) x
		WHERE t.company_id = $1 AND t.id = x.thread_id`, companyID, threads); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		DELETE FROM thread_participants tp WHERE tp.company_id = $1 AND tp.thread_id = ANY($2)
		AND NOT EXISTS (SELECT 1 FROM messages m,
				jsonb_array_elements(coalesce(m.addresses->'from', '[]') || coalesce(m.addresses->'to', '[]')
					|| coalesce(m.addresses->'cc', '[]')) a
			WHERE m.company_id = tp.company_id AND m.thread_id = tp.thread_id AND a->>'email' = tp.email)`,
		companyID, threads)
	return err
}

// Two-way action kinds (M6).
const (
	ActionArchive   int16 = 1
	ActionTrash     int16 = 2
	ActionUnarchive int16 = 3 // back from the archive to INBOX
)

// ProviderAction is a pending two-way action: move one UID of a folder.
type ProviderAction struct {
	ID          int64
	Kind        int16
	Folder      string
	UIDValidity uint32
	UID         uint32
	MessageID   int64 // 0: the message is deleted here
	Attempts    int
}

// PendingActions returns an account's pending two-way actions, oldest first.
func (s *Store) PendingActions(ctx context.Context, companyID, accountID int64, limit int) ([]ProviderAction, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, kind, folder, uid_validity, uid, coalesce(message_id, 0), attempts
		FROM provider_actions WHERE company_id = $1 AND account_id = $2 ORDER BY id LIMIT $3`, companyID, accountID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProviderAction, error) {
		var a ProviderAction
		var v, u int64
		err := r.Scan(&a.ID, &a.Kind, &a.Folder, &v, &u, &a.MessageID, &a.Attempts)
		a.UIDValidity, a.UID = uint32(v), uint32(u)
		return a, err
	})
}

// HasPendingActions reports whether an account has two-way actions to do.
func (s *Store) HasPendingActions(ctx context.Context, companyID, accountID int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM provider_actions WHERE company_id = $1 AND account_id = $2)`,
		companyID, accountID).Scan(&ok)
	return ok, err
}

// CompleteAction records a done two-way action: the message's location
// moves from the source folder to dest (destUID 0: unknown, no location), so
// that the source folder's expunge does not delete the message here and the
// destination's new UID is not fetched as new mail. A trashed message's new
// location has no message (it was deleted here).
func (s *Store) CompleteAction(ctx context.Context, companyID, accountID int64, owner string, a ProviderAction,
	dest string, destValidity, destUID uint32) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkLease(ctx, tx, companyID, accountID, owner); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM message_locations WHERE company_id = $1 AND account_id = $2 AND folder = $3 AND uid = $4`,
			companyID, accountID, a.Folder, int64(a.UID)); err != nil {
			return err
		}
		if destUID != 0 {
			if _, err := tx.Exec(ctx, `
				INSERT INTO message_locations (company_id, account_id, folder, uid_validity, uid, message_id)
				VALUES ($1, $2, $3, $4, $5, (SELECT id FROM messages WHERE company_id = $1 AND id = $6))
				ON CONFLICT (company_id, account_id, folder, uid) DO NOTHING`,
				companyID, accountID, dest, int64(destValidity), int64(destUID), a.MessageID); err != nil {
				return err
			}
			if a.MessageID != 0 {
				if _, err := tx.Exec(ctx, `UPDATE messages SET folders = CASE WHEN $4 = ANY(folders) THEN array_remove(folders, $3)
						ELSE array_append(array_remove(folders, $3), $4) END
					WHERE company_id = $1 AND id = $2`, companyID, a.MessageID, a.Folder, dest); err != nil {
					return err
				}
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE account_sync SET last_action_error = '', last_action_error_time = NULL
			WHERE company_id = $1 AND account_id = $2 AND last_action_error <> ''`, companyID, accountID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM provider_actions WHERE company_id = $1 AND id = $2`, companyID, a.ID)
		return err
	})
}

// FailAction records a failed attempt of a two-way action and, as the
// account's last two-way error, msg; after maxAttempts the action is given
// up (the provider keeps the message where it is).
func (s *Store) FailAction(ctx context.Context, companyID, id int64, msg string, maxAttempts int) error {
	// Either the DELETE or the UPDATE takes the row (one statement must not
	// modify a row twice: PostgreSQL would keep only one of the two).
	_, err := s.pool.Exec(ctx, `
		WITH d AS (DELETE FROM provider_actions WHERE company_id = $1 AND id = $2 AND attempts + 1 >= $4
				RETURNING account_id),
			u AS (UPDATE provider_actions SET attempts = attempts + 1, last_error = $3
				WHERE company_id = $1 AND id = $2 AND attempts + 1 < $4 RETURNING account_id)
		UPDATE account_sync SET last_action_error = $3, last_action_error_time = now()
		WHERE company_id = $1 AND account_id = (SELECT account_id FROM d UNION ALL SELECT account_id FROM u)`,
		companyID, id, msg, maxAttempts)
	return err
}

// DropAction gives a two-way action up without an error: there is nothing
// to move (the UID names another message now, or the archive does not hold
// the message to unarchive).
func (s *Store) DropAction(ctx context.Context, companyID, id int64) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM provider_actions WHERE company_id = $1 AND id = $2`, companyID, id)
	return err
}

// queueProviderActions queues the two-way moves of a thread's messages
// (M6) when the owner's two-way setting is on: kind ActionArchive moves the
// INBOX locations to the archive, ActionTrash every location to the trash.
// It runs in the caller's transaction, before the thread changes.
func queueProviderActions(ctx context.Context, tx pgx.Tx, companyID, ownerID, threadID int64, kind int16) error {
	keepMessage := kind == ActionArchive
	_, err := tx.Exec(ctx, `
		INSERT INTO provider_actions (company_id, account_id, kind, folder, uid_validity, uid, message_id)
		SELECT l.company_id, l.account_id, $4::smallint, l.folder, l.uid_validity, l.uid, CASE WHEN $5::boolean THEN l.message_id END
		FROM messages m
		JOIN message_locations l ON l.company_id = m.company_id AND l.message_id = m.id
		WHERE m.company_id = $1 AND m.owner_id = $2 AND m.thread_id = $3
		  AND ($4::smallint <> 1 OR upper(l.folder) = 'INBOX')
		  AND EXISTS (SELECT 1 FROM mail_settings s WHERE s.company_id = $1 AND s.user_id = $2 AND s.two_way_sync)
		  AND NOT EXISTS (SELECT 1 FROM provider_actions p WHERE p.company_id = l.company_id
			AND p.account_id = l.account_id AND p.folder = l.folder AND p.uid = l.uid)`,
		companyID, ownerID, threadID, kind, keepMessage)
	return err
}

// queueUnarchive queues ActionUnarchive once per message of the thread and
// account holding it (at any of its locations now) when the owner's two-way
// setting is on: the worker performs the actions in order, so an archive
// still pending is done first, and then moves what the message has in the
// archive back to INBOX. It runs in the caller's transaction.
func queueUnarchive(ctx context.Context, tx pgx.Tx, companyID, ownerID, threadID int64) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO provider_actions (company_id, account_id, kind, folder, uid_validity, uid, message_id)
		SELECT DISTINCT ON (l.account_id, l.message_id)
			l.company_id, l.account_id, $4::smallint, l.folder, l.uid_validity, l.uid, l.message_id
		FROM messages m
		JOIN message_locations l ON l.company_id = m.company_id AND l.message_id = m.id
		WHERE m.company_id = $1 AND m.owner_id = $2 AND m.thread_id = $3
		  AND EXISTS (SELECT 1 FROM mail_settings s WHERE s.company_id = $1 AND s.user_id = $2 AND s.two_way_sync)`,
		companyID, ownerID, threadID, ActionUnarchive)
	return err
}

// MessageLocations returns where an account's provider holds a message,
// for the unarchive action.
func (s *Store) MessageLocations(ctx context.Context, companyID, accountID, messageID int64) ([]FolderUID, error) {
	rows, err := s.pool.Query(ctx, `SELECT folder, uid_validity, uid FROM message_locations
		WHERE company_id = $1 AND account_id = $2 AND message_id = $3 ORDER BY folder, uid`, companyID, accountID, messageID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (FolderUID, error) {
		var l FolderUID
		var v, u int64
		err := r.Scan(&l.Folder, &v, &u)
		l.UIDValidity, l.UID = uint32(v), uint32(u)
		return l, err
	})
}

// FolderUID is one place of a message at the provider.
type FolderUID struct {
	Folder      string
	UIDValidity uint32
	UID         uint32
}

// KnownEmails returns which of the addresses belong to a person of the
// company's contact index (the known-contacts filter of S1).
func (s *Store) KnownEmails(ctx context.Context, companyID int64, emails []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(emails) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT email FROM person_emails WHERE company_id = $1 AND email = ANY($2)`,
		companyID, emails)
	if err != nil {
		return nil, err
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, e := range got {
		out[e] = true
	}
	return out, err
}
