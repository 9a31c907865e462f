package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// userAddressesSQL selects a user's addresses ($1 company, $2 user): the
// emails of their accounts and their verified addresses.
const userAddressesSQL = `SELECT email FROM mail_accounts WHERE company_id = $1 AND user_id = $2
	UNION SELECT email FROM user_addresses WHERE company_id = $1 AND user_id = $2`

// UserAddresses returns a user's addresses, sorted, without duplicates.
func (s *Store) UserAddresses(ctx context.Context, companyID, userID int64) ([]string, error) {
	return userAddresses(ctx, s.pool, companyID, userID)
}

func userAddresses(ctx context.Context, q querier, companyID, userID int64) ([]string, error) {
	rows, err := q.Query(ctx, userAddressesSQL+` ORDER BY 1`, companyID, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// SetUserAddresses replaces a user's verified addresses (normalized by the
// caller) and returns all their addresses. It holds the user's ingest
// lock: two replacements at once would otherwise each delete only what
// they see and leave the union of both sets, and an ingest reads one set
// or the other, never half of one.
func (s *Store) SetUserAddresses(ctx context.Context, companyID, userID int64, emails []string) ([]string, error) {
	var out []string
	emails = nonNil(emails) // NULL would make "<> ALL" delete nothing
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(companyID, userID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM user_addresses WHERE company_id = $1 AND user_id = $2 AND email <> ALL($3)`,
			companyID, userID, emails); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO user_addresses (company_id, user_id, email)
			SELECT $1, $2, e FROM unnest($3::text[]) e ON CONFLICT DO NOTHING`, companyID, userID, emails); err != nil {
			return err
		}
		var err error
		out, err = userAddresses(ctx, tx, companyID, userID)
		return err
	})
	return out, err
}
