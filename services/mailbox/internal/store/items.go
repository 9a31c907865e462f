package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ItemType is a CRM item kind threads link to (proto ItemType).
type ItemType int16

// Item types.
const (
	ItemDeal         ItemType = 1
	ItemLead         ItemType = 2
	ItemPerson       ItemType = 3
	ItemOrganization ItemType = 4
)

// Item names one CRM item.
type Item struct {
	Type ItemType
	ID   int64
}

// linkedTo returns the condition "thread t is linked to the item", with the
// company as $1 and the item id as $n (M2, M7): deals and leads by the
// thread's link, persons through a participant's address, organizations
// through such a person's organization.
func linkedTo(typ ItemType, n int) (string, error) {
	p := "$" + itoa(n)
	switch typ {
	case ItemDeal:
		return "t.deal_id = " + p, nil
	case ItemLead:
		return "t.lead_id = " + p, nil
	case ItemPerson:
		return `t.id IN (SELECT tp.thread_id FROM person_emails pe
			JOIN thread_participants tp ON tp.company_id = pe.company_id AND tp.email = pe.email
			WHERE pe.company_id = $1 AND pe.person_id = ` + p + `)`, nil
	case ItemOrganization:
		return `t.id IN (SELECT tp.thread_id FROM persons p
			JOIN person_emails pe ON pe.company_id = p.company_id AND pe.person_id = p.id
			JOIN thread_participants tp ON tp.company_id = pe.company_id AND tp.email = pe.email
			WHERE p.company_id = $1 AND p.organization_id = ` + p + `)`, nil
	}
	return "", fmt.Errorf("store: unknown item type %d", typ)
}

// ItemThreads returns up to limit threads linked to the item after the
// cursor: the caller's own, plus other users' shared ones when othersShared
// (the caller can see the item, M2). Archived threads are included (M6).
func (s *Store) ItemThreads(ctx context.Context, companyID, callerID int64, item Item, othersShared bool, after ThreadCursor, limit int) ([]Thread, error) {
	cond, err := linkedTo(item.Type, 2)
	if err != nil {
		return nil, err
	}
	page, args := pageClause(after, 5, []any{companyID, item.ID, callerID, othersShared}, limit)
	threads, err := collectThreads(s.pool.Query(ctx, `SELECT `+threadCols+` FROM threads t
		WHERE t.company_id = $1 AND `+cond+` AND (t.owner_id = $3 OR ($4 AND t.shared))`+page, args...))
	if err != nil {
		return nil, err
	}
	return threads, s.hydrate(ctx, companyID, threads)
}

// ItemThread returns a thread of the company, whoever owns it, and whether
// it is linked to the item.
func (s *Store) ItemThread(ctx context.Context, companyID int64, item Item, threadID int64) (Thread, bool, error) {
	cond, err := linkedTo(item.Type, 3)
	if err != nil {
		return Thread{}, false, err
	}
	var t Thread
	var linked bool
	err = s.pool.QueryRow(ctx, `SELECT `+threadCols+`, coalesce(`+cond+`, false) FROM threads t
		WHERE t.company_id = $1 AND t.id = $2`, companyID, threadID, item.ID).
		Scan(append(threadDest(&t), &linked)...)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return t, false, ErrNotFound
		}
		return t, false, err
	}
	return t, linked, s.hydrateOne(ctx, companyID, &t)
}
