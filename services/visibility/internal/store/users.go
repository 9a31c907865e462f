package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// User is a user row.
type User struct {
	ID         int64
	Name       string
	Email      string
	Active     bool
	Perms      policy.Permissions
	GroupID    int64
	CreateTime time.Time
	UpdateTime time.Time
}

const userColumns = `id, name, email, active, app_admin, deal_admin, global_admin, account_settings, change_visibility,
	group_id, create_time, update_time`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Name, &u.Email, &u.Active, &u.Perms.AppAdmin, &u.Perms.DealAdmin, &u.Perms.GlobalAdmin,
		&u.Perms.AccountSettings, &u.Perms.ChangeVisibility, &u.GroupID, &u.CreateTime, &u.UpdateTime)
	return u, err
}

// UpsertUser creates a user in the default group (V1) or updates its name,
// email, active flag and permissions; membership is never changed here.
func (s *Store) UpsertUser(ctx context.Context, companyID int64, in User) (User, bool, int64, error) {
	var out User
	var created bool
	version, err := s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		cur, err := scanUser(w.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE company_id = $1 AND id = $2 FOR UPDATE`, companyID, in.ID))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			created = true
			out, err = scanUser(w.QueryRow(ctx, `
				INSERT INTO users (company_id, id, name, email, active, app_admin, deal_admin, global_admin, account_settings,
				                   change_visibility, group_id)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, (SELECT id FROM groups WHERE company_id = $1 AND is_default))
				RETURNING `+userColumns,
				companyID, in.ID, in.Name, in.Email, in.Active, in.Perms.AppAdmin, in.Perms.DealAdmin, in.Perms.GlobalAdmin,
				in.Perms.AccountSettings, in.Perms.ChangeVisibility))
			if err != nil {
				return err
			}
			w.markStructural()
			return nil
		case err != nil:
			return err
		}
		if cur.Name == in.Name && cur.Email == in.Email && cur.Active == in.Active && cur.Perms == in.Perms {
			out = cur
			return nil
		}
		out, err = scanUser(w.QueryRow(ctx, `
			UPDATE users SET name = $3, email = $4, active = $5, app_admin = $6, deal_admin = $7, global_admin = $8,
			       account_settings = $9, change_visibility = $10, update_time = now()
			WHERE company_id = $1 AND id = $2 RETURNING `+userColumns,
			companyID, in.ID, in.Name, in.Email, in.Active, in.Perms.AppAdmin, in.Perms.DealAdmin, in.Perms.GlobalAdmin,
			in.Perms.AccountSettings, in.Perms.ChangeVisibility))
		if err != nil {
			return err
		}
		if cur.Active != in.Active || cur.Perms != in.Perms {
			w.markStructural()
		}
		return nil
	})
	return out, created, version, err
}

// User returns one user.
func (s *Store) User(ctx context.Context, companyID, id int64) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE company_id = $1 AND id = $2`, companyID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, notFound(ErrUserNotFound, id)
	}
	return u, err
}

// ListUsers returns up to limit users with id > after, by id, optionally of one group.
func (s *Store) ListUsers(ctx context.Context, companyID, groupID, after int64, limit int) ([]User, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+userColumns+` FROM users
		WHERE company_id = $1 AND id > $2 AND ($3::bigint = 0 OR group_id = $3)
		ORDER BY id LIMIT $4`, companyID, after, groupID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
}

// DeactivateUser makes a user inactive.
func (s *Store) DeactivateUser(ctx context.Context, companyID, id int64) (User, int64, error) {
	var out User
	version, err := s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		var was bool
		err := w.QueryRow(ctx, `SELECT active FROM users WHERE company_id = $1 AND id = $2 FOR UPDATE`, companyID, id).Scan(&was)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(ErrUserNotFound, id)
		}
		if err != nil {
			return err
		}
		out, err = scanUser(w.QueryRow(ctx, `
			UPDATE users SET active = false, update_time = CASE WHEN active THEN now() ELSE update_time END
			WHERE company_id = $1 AND id = $2 RETURNING `+userColumns, companyID, id))
		if err == nil && was {
			w.markStructural()
		}
		return err
	})
	return out, version, err
}

// SetUserGroup puts a user in a group (groupID 0: the default group).
func (s *Store) SetUserGroup(ctx context.Context, companyID, userID, groupID int64) (User, int64, error) {
	var out User
	version, err := s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		target := groupID
		if target == 0 {
			if err := w.QueryRow(ctx, `SELECT id FROM groups WHERE company_id = $1 AND is_default`, companyID).Scan(&target); err != nil {
				return err
			}
		} else if err := groupExists(ctx, w, groupID); err != nil {
			return err
		}
		cur, err := scanUser(w.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE company_id = $1 AND id = $2 FOR UPDATE`, companyID, userID))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(ErrUserNotFound, userID)
		}
		if err != nil {
			return err
		}
		if cur.GroupID == target {
			out = cur
			return nil
		}
		out, err = scanUser(w.QueryRow(ctx, `
			UPDATE users SET group_id = $3, update_time = now() WHERE company_id = $1 AND id = $2 RETURNING `+userColumns,
			companyID, userID, target))
		if err == nil {
			w.markStructural()
		}
		return err
	})
	return out, version, err
}

// HasAccountSettings reports whether a user may manage the company (V6);
// unknown and deactivated users may not.
func (s *Store) HasAccountSettings(ctx context.Context, companyID, userID int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `
		SELECT active AND (account_settings OR app_admin) FROM users WHERE company_id = $1 AND id = $2`, companyID, userID).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return ok, err
}
