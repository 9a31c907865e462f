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
	p.Emails = nonNil(p.Emails) // NULL would make "<> ALL" delete nothing
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			INSERT INTO persons (company_id, id, organization_id, name) VALUES ($1, $2, NULLIF($3, 0), $4)
			ON CONFLICT (company_id, id) DO UPDATE
			SET organization_id = EXCLUDED.organization_id, name = EXCLUDED.name, update_time = now()
			RETURNING xmax = 0`, companyID, p.ID, p.OrganizationID, p.Name).Scan(&created); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM person_emails WHERE company_id = $1 AND person_id = $2 AND email <> ALL($3)`,
			companyID, p.ID, p.Emails); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO person_emails (company_id, person_id, email)
			SELECT $1, $2, e FROM unnest($3::text[]) e ON CONFLICT DO NOTHING`, companyID, p.ID, p.Emails)
		return err
	})
	return created, err
}

// DeletePerson removes a person and its emails; false when it was not there.
func (s *Store) DeletePerson(ctx context.Context, companyID, id int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM persons WHERE company_id = $1 AND id = $2`, companyID, id)
	return tag.RowsAffected() > 0, err
}

// UpsertDeal creates or replaces a deal's status and person set.
func (s *Store) UpsertDeal(ctx context.Context, companyID, id int64, status int16, personIDs []int64) (created bool, err error) {
	personIDs = nonNil(personIDs)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			INSERT INTO deals (company_id, id, status) VALUES ($1, $2, $3)
			ON CONFLICT (company_id, id) DO UPDATE SET status = EXCLUDED.status, update_time = now()
			RETURNING xmax = 0`, companyID, id, status).Scan(&created); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM deal_persons WHERE company_id = $1 AND deal_id = $2 AND person_id <> ALL($3)`,
			companyID, id, personIDs); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO deal_persons (company_id, deal_id, person_id)
			SELECT $1, $2, p FROM unnest($3::bigint[]) p ON CONFLICT DO NOTHING`, companyID, id, personIDs)
		return err
	})
	return created, err
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
