package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Folders (proto Folder).
const (
	FolderInbox   int16 = 1
	FolderSent    int16 = 2
	FolderArchive int16 = 3
)

// folderCond is each folder's condition on threads t; the partial indexes
// threads_inbox, threads_sent and threads_archive have the same predicates.
var folderCond = map[int16]string{
	FolderInbox:   "t.inbound_count > 0 AND NOT t.archived",
	FolderSent:    "t.outbound_count > 0",
	FolderArchive: "t.archived",
}

// Participant is one From/To/Cc address of a thread.
type Participant struct {
	Email    string
	Name     string
	PersonID int64 // lowest person owning the address; 0: none
}

// Thread is one conversation of a user, with its derived links.
type Thread struct {
	ID             int64
	OwnerID        int64
	Subject        string
	Snippet        string
	MessageCount   int32
	InboundCount   int32
	OutboundCount  int32
	FirstMessageAt time.Time
	LastMessageAt  time.Time
	DealID         int64
	LeadID         int64
	Read           bool
	Archived       bool
	Shared         bool
	SmartBcc       bool
	HasAttachments bool
	CreateTime     time.Time
	UpdateTime     time.Time

	// Filled from thread_participants and the contact index.
	Participants    []Participant
	PersonIDs       []int64 // ascending
	OrganizationIDs []int64 // ascending
}

const threadCols = `t.id, t.owner_id, t.subject, t.snippet, t.message_count, t.inbound_count, t.outbound_count,
	t.first_message_at, t.last_message_at, coalesce(t.deal_id, 0), coalesce(t.lead_id, 0),
	t.read, t.archived, t.shared, t.smart_bcc, t.has_attachments, t.create_time, t.update_time`

func threadDest(t *Thread) []any {
	return []any{&t.ID, &t.OwnerID, &t.Subject, &t.Snippet, &t.MessageCount, &t.InboundCount, &t.OutboundCount,
		&t.FirstMessageAt, &t.LastMessageAt, &t.DealID, &t.LeadID,
		&t.Read, &t.Archived, &t.Shared, &t.SmartBcc, &t.HasAttachments, &t.CreateTime, &t.UpdateTime}
}

func scanThread(row pgx.Row) (Thread, error) {
	var t Thread
	err := row.Scan(threadDest(&t)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}

func collectThreads(rows pgx.Rows, err error) ([]Thread, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Thread
	for rows.Next() {
		var t Thread
		if err := rows.Scan(threadDest(&t)...); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ThreadCursor is a position in a list ordered by last message time and id,
// both descending. The zero cursor is the start.
type ThreadCursor struct {
	LastMessageAt time.Time
	ID            int64
}

// IsZero reports the start of the list.
func (c ThreadCursor) IsZero() bool { return c.ID == 0 }

// pageClause appends the cursor condition and the order to a query whose
// next placeholder is $n.
func pageClause(after ThreadCursor, n int, args []any, limit int) (string, []any) {
	var b strings.Builder
	if !after.IsZero() {
		fmt.Fprintf(&b, " AND (t.last_message_at, t.id) < ($%d, $%d)", n, n+1)
		args = append(args, after.LastMessageAt, after.ID)
		n += 2
	}
	fmt.Fprintf(&b, " ORDER BY t.last_message_at DESC, t.id DESC LIMIT $%d", n)
	return b.String(), append(args, limit)
}

// ListThreads returns up to limit threads of the owner's folder after the cursor.
func (s *Store) ListThreads(ctx context.Context, companyID, ownerID int64, folder int16, after ThreadCursor, limit int) ([]Thread, error) {
	cond, ok := folderCond[folder]
	if !ok {
		return nil, fmt.Errorf("store: unknown folder %d", folder)
	}
	page, args := pageClause(after, 3, []any{companyID, ownerID}, limit)
	threads, err := collectThreads(s.pool.Query(ctx, `SELECT `+threadCols+` FROM threads t
		WHERE t.company_id = $1 AND t.owner_id = $2 AND `+cond+page, args...))
	if err != nil {
		return nil, err
	}
	return threads, s.hydrate(ctx, companyID, threads)
}

// OwnThread returns one of the owner's threads.
func (s *Store) OwnThread(ctx context.Context, companyID, ownerID, id int64) (Thread, error) {
	t, err := scanThread(s.pool.QueryRow(ctx, `SELECT `+threadCols+` FROM threads t
		WHERE t.company_id = $1 AND t.owner_id = $2 AND t.id = $3`, companyID, ownerID, id))
	if err != nil {
		return t, err
	}
	return t, s.hydrateOne(ctx, companyID, &t)
}

// Thread returns a thread of the company, whoever owns it. Callers decide
// whether the caller may see it (M1, M2).
func (s *Store) Thread(ctx context.Context, companyID, id int64) (Thread, error) {
	t, err := scanThread(s.pool.QueryRow(ctx, `SELECT `+threadCols+` FROM threads t
		WHERE t.company_id = $1 AND t.id = $2`, companyID, id))
	if err != nil {
		return t, err
	}
	return t, s.hydrateOne(ctx, companyID, &t)
}

// ThreadOwner returns the owner of a thread.
func (s *Store) ThreadOwner(ctx context.Context, companyID, id int64) (int64, error) {
	var owner int64
	err := s.pool.QueryRow(ctx, `SELECT owner_id FROM threads WHERE company_id = $1 AND id = $2`, companyID, id).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	return owner, err
}

func (s *Store) hydrateOne(ctx context.Context, companyID int64, t *Thread) error {
	one := []Thread{*t}
	if err := s.hydrate(ctx, companyID, one); err != nil {
		return err
	}
	*t = one[0]
	return nil
}

// hydrate fills the participants with their persons, and the person and
// organization links derived from them, in one query.
func (s *Store) hydrate(ctx context.Context, companyID int64, threads []Thread) error {
	if len(threads) == 0 {
		return nil
	}
	ids := make([]int64, len(threads))
	index := make(map[int64]int, len(threads))
	for i, t := range threads {
		ids[i] = t.ID
		index[t.ID] = i
	}
	rows, err := s.pool.Query(ctx, `
		SELECT tp.thread_id, tp.email, tp.name, coalesce(pe.person_id, 0), coalesce(p.organization_id, 0)
		FROM thread_participants tp
		LEFT JOIN person_emails pe ON pe.company_id = tp.company_id AND pe.email = tp.email
		LEFT JOIN persons p ON p.company_id = pe.company_id AND p.id = pe.person_id
		WHERE tp.company_id = $1 AND tp.thread_id = ANY($2)
		ORDER BY tp.thread_id, tp.email, pe.person_id`, companyID, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var tid, person, org int64
		var email, name string
		if err := rows.Scan(&tid, &email, &name, &person, &org); err != nil {
			return err
		}
		t := &threads[index[tid]]
		if n := len(t.Participants); n == 0 || t.Participants[n-1].Email != email {
			t.Participants = append(t.Participants, Participant{Email: email, Name: name, PersonID: person})
		}
		if person != 0 {
			t.PersonIDs = append(t.PersonIDs, person)
		}
		if org != 0 {
			t.OrganizationIDs = append(t.OrganizationIDs, org)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range threads {
		t := &threads[i]
		slices.Sort(t.PersonIDs)
		t.PersonIDs = slices.Compact(t.PersonIDs)
		slices.Sort(t.OrganizationIDs)
		t.OrganizationIDs = slices.Compact(t.OrganizationIDs)
	}
	return nil
}

// Flags are thread flags to change; nil leaves one as it is.
type Flags struct {
	Read, Archived, Shared *bool
}

// UpdateFlags changes flags of one of the owner's threads. Marking a thread
// read or unread marks all its messages seen or unseen.
func (s *Store) UpdateFlags(ctx context.Context, companyID, ownerID, id int64, f Flags) (Thread, error) {
	var out Thread
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		wasArchived := false
		if f.Archived != nil && !*f.Archived {
			err := tx.QueryRow(ctx, `SELECT archived FROM threads WHERE company_id = $1 AND owner_id = $2 AND id = $3 FOR UPDATE`,
				companyID, ownerID, id).Scan(&wasArchived)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		out, err = scanThread(tx.QueryRow(ctx, `
			UPDATE threads t SET read = coalesce($4, t.read), archived = coalesce($5, t.archived),
				shared = coalesce($6, t.shared), update_time = now()
			WHERE t.company_id = $1 AND t.owner_id = $2 AND t.id = $3
			RETURNING `+threadCols, companyID, ownerID, id, f.Read, f.Archived, f.Shared))
		if err != nil {
			return err
		}
		if f.Archived != nil && *f.Archived {
			// M6 two-way: the provider moves the INBOX copies to its archive.
			if err := queueProviderActions(ctx, tx, companyID, ownerID, id, ActionArchive); err != nil {
				return err
			}
		}
		if wasArchived && !*f.Archived {
			// and moves what the archive took back to INBOX.
			if err := queueUnarchive(ctx, tx, companyID, ownerID, id); err != nil {
				return err
			}
		}
		if f.Read == nil {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE messages SET seen = $3 WHERE company_id = $1 AND thread_id = $2 AND seen <> $3`,
			companyID, id, *f.Read)
		return err
	})
	if err != nil {
		return out, err
	}
	return out, s.hydrateOne(ctx, companyID, &out)
}

// NotFoundIDsError lists ids that are not the caller's threads; it wraps ErrNotFound.
type NotFoundIDsError struct{ IDs []int64 }

func (e *NotFoundIDsError) Error() string {
	return fmt.Sprintf("store: %d thread id(s) not found, first %d", len(e.IDs), e.IDs[0])
}

func (e *NotFoundIDsError) Unwrap() error { return ErrNotFound }

// SetShared shares or unshares the owner's threads, all or nothing (M3):
// when any id is not one of the owner's threads nothing changes and the
// error is a *NotFoundIDsError. It returns the number of threads.
func (s *Store) SetShared(ctx context.Context, companyID, ownerID int64, ids []int64, shared bool) (int, error) {
	want := slices.Clone(ids)
	slices.Sort(want)
	want = slices.Compact(want)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE threads SET shared = $4, update_time = now()
			WHERE company_id = $1 AND owner_id = $2 AND id = ANY($3) RETURNING id`, companyID, ownerID, want, shared)
		if err != nil {
			return err
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(got) == len(want) {
			return nil
		}
		slices.Sort(got)
		var missing []int64
		for _, id := range want {
			if _, found := slices.BinarySearch(got, id); !found {
				missing = append(missing, id)
			}
		}
		return &NotFoundIDsError{IDs: missing} // rolls back
	})
	if err != nil {
		return 0, err
	}
	return len(want), nil
}

// Link links one of the owner's threads to a deal or a lead (exactly one of
// dealID and leadID is set). Linking to another item while one is linked
// fails with ErrAlreadyLinked unless replace. A hand-made link turns
// automatic linking off for the thread.
func (s *Store) Link(ctx context.Context, companyID, ownerID, id, dealID, leadID int64, replace bool) (Thread, error) {
	t, err := scanThread(s.pool.QueryRow(ctx, `
		UPDATE threads t SET deal_id = NULLIF($4::bigint, 0), lead_id = NULLIF($5::bigint, 0), auto_link = false, update_time = now()
		WHERE t.company_id = $1 AND t.owner_id = $2 AND t.id = $3
		  AND ($6 OR (t.deal_id IS NULL AND t.lead_id IS NULL)
		       OR (coalesce(t.deal_id, 0) = $4 AND coalesce(t.lead_id, 0) = $5))
		RETURNING `+threadCols, companyID, ownerID, id, dealID, leadID, replace))
	if errors.Is(err, ErrNotFound) {
		if _, err := s.OwnThreadExists(ctx, companyID, ownerID, id); err != nil {
			return t, err
		}
		return t, ErrAlreadyLinked
	}
	if err != nil {
		return t, err
	}
	return t, s.hydrateOne(ctx, companyID, &t)
}

// Unlink removes the deal or lead link of one of the owner's threads and
// turns automatic linking off for it.
func (s *Store) Unlink(ctx context.Context, companyID, ownerID, id int64) (Thread, error) {
	t, err := scanThread(s.pool.QueryRow(ctx, `
		UPDATE threads t SET deal_id = NULL, lead_id = NULL, auto_link = false, update_time = now()
		WHERE t.company_id = $1 AND t.owner_id = $2 AND t.id = $3
		RETURNING `+threadCols, companyID, ownerID, id))
	if err != nil {
		return t, err
	}
	return t, s.hydrateOne(ctx, companyID, &t)
}

// OwnThreadExists returns true, or ErrNotFound when the thread is not the owner's.
func (s *Store) OwnThreadExists(ctx context.Context, companyID, ownerID, id int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM threads WHERE company_id = $1 AND owner_id = $2 AND id = $3)`,
		companyID, ownerID, id).Scan(&ok)
	if err == nil && !ok {
		err = ErrNotFound
	}
	return ok, err
}

// DeleteThread deletes one of the owner's threads with its messages,
// participants and references, for good (M6). With the owner's two-way
// setting on, the provider's copies are queued to move to its trash in the
// same transaction.
func (s *Store) DeleteThread(ctx context.Context, companyID, ownerID, id int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := queueProviderActions(ctx, tx, companyID, ownerID, id, ActionTrash); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM threads WHERE company_id = $1 AND owner_id = $2 AND id = $3`,
			companyID, ownerID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// IsParticipant reports whether one of the user's addresses is among the
// thread's From/To/Cc participants (M5).
func (s *Store) IsParticipant(ctx context.Context, companyID, threadID, userID int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (
		SELECT 1 FROM thread_participants tp
		WHERE tp.company_id = $1 AND tp.thread_id = $3 AND tp.email IN (`+userAddressesSQL+`))`,
		companyID, userID, threadID).Scan(&ok)
	return ok, err
}

func itoa(n int) string { return strconv.Itoa(n) }
