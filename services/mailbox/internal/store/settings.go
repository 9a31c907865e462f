package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sharing values as stored (DESIGN M4).
const (
	SharingPrivate int16 = 1
	SharingShared  int16 = 2
)

// Settings are one user's mail preferences.
type Settings struct {
	DefaultSharing int16
	TwoWaySync     bool
	UpdateTime     time.Time // zero when never set
}

// DefaultSettings apply to a user who never changed anything: private, one-way.
var DefaultSettings = Settings{DefaultSharing: SharingPrivate}

// Store is the mailbox storage.
type Store struct{ pool *pgxpool.Pool }

// querier is what pool, conn and tx have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Settings returns a user's settings, or DefaultSettings when never set.
func (s *Store) Settings(ctx context.Context, companyID, userID int64) (Settings, error) {
	var st Settings
	err := s.pool.QueryRow(ctx, `
		SELECT default_sharing, two_way_sync, update_time FROM mail_settings
		WHERE company_id = $1 AND user_id = $2`, companyID, userID).
		Scan(&st.DefaultSharing, &st.TwoWaySync, &st.UpdateTime)
	if errors.Is(err, pgx.ErrNoRows) {
		return DefaultSettings, nil
	}
	return st, err
}

// UpdateSettings applies update to the user's current settings in one
// transaction and returns the result. The row is made to exist before it is
// read FOR UPDATE: locking a row that is not there locks nothing, and two
// first saves would each apply their change to the defaults, the second
// undoing the first's.
func (s *Store) UpdateSettings(ctx context.Context, companyID, userID int64, update func(*Settings)) (Settings, error) {
	var out Settings
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO mail_settings (company_id, user_id, default_sharing, two_way_sync) VALUES ($1, $2, $3, $4)
			ON CONFLICT (company_id, user_id) DO NOTHING`,
			companyID, userID, DefaultSettings.DefaultSharing, DefaultSettings.TwoWaySync); err != nil {
			return err
		}
		var cur Settings
		if err := tx.QueryRow(ctx, `
			SELECT default_sharing, two_way_sync FROM mail_settings
			WHERE company_id = $1 AND user_id = $2 FOR UPDATE`, companyID, userID).
			Scan(&cur.DefaultSharing, &cur.TwoWaySync); err != nil {
			return err
		}
		update(&cur)
		return tx.QueryRow(ctx, `
			UPDATE mail_settings SET default_sharing = $3, two_way_sync = $4, update_time = now()
			WHERE company_id = $1 AND user_id = $2
			RETURNING default_sharing, two_way_sync, update_time`,
			companyID, userID, cur.DefaultSharing, cur.TwoWaySync).
			Scan(&out.DefaultSharing, &out.TwoWaySync, &out.UpdateTime)
	})
	return out, err
}
