package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Deal statuses as stored (proto DealStatus).
const (
	DealOpen    int16 = 1
	DealWon     int16 = 2
	DealLost    int16 = 3
	DealDeleted int16 = 4
)

// Person is a contact-index person.
type Person struct {
	ID             int64
	OrganizationID int64 // 0: none
	Name           string
	Emails         []string // normalized lower-case by the caller
}

// UpsertPerson creates or replaces a person and its email set.
func (s *Store) UpsertPerson(ctx context.Context, companyID int64, p Person) (created bool, err error) {
	n, err := s.UpsertPersons(ctx, companyID, []Person{p})
	return n == 1, err
}

// UpsertPersons creates or replaces persons and their email sets in one
// transaction (one round trip); it returns how many were new. Each person
// appears once.
func (s *Store) UpsertPersons(ctx context.Context, companyID int64, ps []Person) (created int, err error) {
	b := &pgx.Batch{}
	for _, p := range ps {
		emails := nonNil(p.Emails) // NULL would make "<> ALL" delete nothing
		b.Queue(`
			INSERT INTO persons (company_id, id, organization_id, name) VALUES ($1, $2, NULLIF($3::bigint, 0), $4)
			ON CONFLICT (company_id, id) DO UPDATE
			SET organization_id = EXCLUDED.organization_id, name = EXCLUDED.name, update_time = now()
			RETURNING xmax = 0`, companyID, p.ID, p.OrganizationID, p.Name).QueryRow(countNew(&created))
		b.Queue(`DELETE FROM person_emails WHERE company_id = $1 AND person_id = $2 AND email <> ALL($3)`,
			companyID, p.ID, emails)
		b.Queue(`INSERT INTO person_emails (company_id, person_id, email)
			SELECT $1, $2, e FROM unnest($3::text[]) e ON CONFLICT DO NOTHING`, companyID, p.ID, emails)
	}
	if err := s.sendInTx(ctx, b); err != nil {
		return 0, err
	}
	return created, nil
}

// countNew scans an upsert's "RETURNING xmax = 0" (true: inserted) into n.
func countNew(n *int) func(pgx.Row) error {
	return func(row pgx.Row) error {
		var inserted bool
		if err := row.Scan(&inserted); err != nil {
			return err
		}
		if inserted {
			*n++
		}
		return nil
	}
}

// sendInTx runs a batch in one transaction.
func (s *Store) sendInTx(ctx context.Context, b *pgx.Batch) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
}

// DeletePerson removes a person and its emails; false when it was not there.
func (s *Store) DeletePerson(ctx context.Context, companyID, id int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM persons WHERE company_id = $1 AND id = $2`, companyID, id)
	return tag.RowsAffected() > 0, err
}

// Deal is a contact-index deal.
type Deal struct {
	ID        int64
	Status    int16
	PersonIDs []int64
}

// UpsertDeal creates or replaces a deal's status and person set.
func (s *Store) UpsertDeal(ctx context.Context, companyID int64, d Deal) (created bool, err error) {
	n, err := s.UpsertDeals(ctx, companyID, []Deal{d})
	return n == 1, err
}

// UpsertDeals creates or replaces deals' statuses and person sets in one
// transaction (one round trip); it returns how many were new. Each deal
// appears once.
func (s *Store) UpsertDeals(ctx context.Context, companyID int64, ds []Deal) (created int, err error) {
	b := &pgx.Batch{}
	for _, d := range ds {
		persons := nonNil(d.PersonIDs)
		b.Queue(`
			INSERT INTO deals (company_id, id, status) VALUES ($1, $2, $3)
			ON CONFLICT (company_id, id) DO UPDATE SET status = EXCLUDED.status, update_time = now()
			RETURNING xmax = 0`, companyID, d.ID, d.Status).QueryRow(countNew(&created))
		b.Queue(`DELETE FROM deal_persons WHERE company_id = $1 AND deal_id = $2 AND person_id <> ALL($3)`,
			companyID, d.ID, persons)
		b.Queue(`INSERT INTO deal_persons (company_id, deal_id, person_id)
			SELECT $1, $2, p FROM unnest($3::bigint[]) p ON CONFLICT DO NOTHING`, companyID, d.ID, persons)
	}
	if err := s.sendInTx(ctx, b); err != nil {
		return 0, err
	}
	return created, nil
}

// DeleteDeal marks a deal deleted, recording it when unknown, so that it
// never receives a new link. Its persons stay.
func (s *Store) DeleteDeal(ctx context.Context, companyID, id int64) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO deals (company_id, id, status) VALUES ($1, $2, $3)
		ON CONFLICT (company_id, id) DO UPDATE SET status = EXCLUDED.status, update_time = now()`,
		companyID, id, DealDeleted)
	return err
}

// DealStatus returns a deal's status; ok is false when the index does not know it.
func (s *Store) DealStatus(ctx context.Context, companyID, id int64) (status int16, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT status FROM deals WHERE company_id = $1 AND id = $2`, companyID, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return status, err == nil, err
}
