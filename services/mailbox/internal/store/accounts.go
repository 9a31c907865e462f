package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sightline/sightline/pkg/pg"
)

// ServerSettings locate a mail server.
type ServerSettings struct {
	Host     string
	Port     int32
	Security int16 // 1 TLS, 2 STARTTLS, 3 NONE
}

// Account is a connected mailbox. The sealed secret is not part of it: only
// HasSecret is (see AccountSecret).
type Account struct {
	ID                int64
	UserID            int64
	Email             string
	DisplayName       string
	IMAP, SMTP        ServerSettings
	Username          string
	AuthKind          int16 // 1 PASSWORD, 2 XOAUTH2
	HasSecret         bool
	SyncWindow        int16 // 1 3 days .. 6 24 months
	OnlyKnownContacts bool
	Folders           []string
	CreateTime        time.Time
	UpdateTime        time.Time
}

const accountCols = `id, user_id, email, display_name, imap_host, imap_port, imap_security,
	smtp_host, smtp_port, smtp_security, username, auth_kind, secret IS NOT NULL,
	sync_window, only_known_contacts, folders, create_time, update_time`

// accountDest are the scan targets of accountCols.
func accountDest(a *Account) []any {
	return []any{&a.ID, &a.UserID, &a.Email, &a.DisplayName, &a.IMAP.Host, &a.IMAP.Port, &a.IMAP.Security,
		&a.SMTP.Host, &a.SMTP.Port, &a.SMTP.Security, &a.Username, &a.AuthKind, &a.HasSecret,
		&a.SyncWindow, &a.OnlyKnownContacts, &a.Folders, &a.CreateTime, &a.UpdateTime}
}

func scanAccount(row pgx.Row) (Account, error) {
	var a Account
	err := row.Scan(accountDest(&a)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

// CreateAccount stores a new account of a.UserID with the sealed secret (nil: none).
func (s *Store) CreateAccount(ctx context.Context, companyID int64, a Account, sealed []byte) (Account, error) {
	out, err := scanAccount(s.pool.QueryRow(ctx, `
		INSERT INTO mail_accounts (company_id, user_id, email, display_name, imap_host, imap_port, imap_security,
			smtp_host, smtp_port, smtp_security, username, auth_kind, secret, sync_window, only_known_contacts, folders)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		RETURNING `+accountCols,
		companyID, a.UserID, a.Email, a.DisplayName, a.IMAP.Host, a.IMAP.Port, a.IMAP.Security,
		a.SMTP.Host, a.SMTP.Port, a.SMTP.Security, a.Username, a.AuthKind, sealed, a.SyncWindow,
		a.OnlyKnownContacts, a.Folders))
	if pg.IsUniqueViolation(err) {
		return Account{}, fmt.Errorf("%w: %s", ErrAccountExists, a.Email)
	}
	return out, err
}

// Account returns one of a user's accounts.
func (s *Store) Account(ctx context.Context, companyID, userID, id int64) (Account, error) {
	return scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM mail_accounts
		WHERE company_id = $1 AND user_id = $2 AND id = $3`, companyID, userID, id))
}

// ListAccounts returns up to limit of a user's accounts with id > afterID, by id.
func (s *Store) ListAccounts(ctx context.Context, companyID, userID, afterID int64, limit int) ([]Account, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+accountCols+` FROM mail_accounts
		WHERE company_id = $1 AND user_id = $2 AND id > $3 ORDER BY id LIMIT $4`, companyID, userID, afterID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SecretUpdate says what UpdateAccount does with the secret.
type SecretUpdate struct {
	Set    bool   // change it
	Sealed []byte // the new sealed value; nil clears it
}

// UpdateAccount applies update to the account under a row lock and stores
// the result; the secret changes only when sec.Set.
func (s *Store) UpdateAccount(ctx context.Context, companyID, userID, id int64, update func(*Account) error, sec SecretUpdate) (Account, error) {
	var out Account
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountCols+` FROM mail_accounts
			WHERE company_id = $1 AND user_id = $2 AND id = $3 FOR UPDATE`, companyID, userID, id))
		if err != nil {
			return err
		}
		prev := cur
		if err := update(&cur); err != nil {
			return err
		}
		out, err = scanAccount(tx.QueryRow(ctx, `
			UPDATE mail_accounts SET email = $4, display_name = $5, imap_host = $6, imap_port = $7, imap_security = $8,
				smtp_host = $9, smtp_port = $10, smtp_security = $11, username = $12, auth_kind = $13,
				secret = CASE WHEN $14 THEN $15 ELSE secret END,
				sync_window = $16, only_known_contacts = $17, folders = $18, update_time = now()
			WHERE company_id = $1 AND user_id = $2 AND id = $3
			RETURNING `+accountCols,
			companyID, userID, id, cur.Email, cur.DisplayName, cur.IMAP.Host, cur.IMAP.Port, cur.IMAP.Security,
			cur.SMTP.Host, cur.SMTP.Port, cur.SMTP.Security, cur.Username, cur.AuthKind,
			sec.Set, sec.Sealed, cur.SyncWindow, cur.OnlyKnownContacts, cur.Folders))
		if pg.IsUniqueViolation(err) {
			return fmt.Errorf("%w: %s", ErrAccountExists, cur.Email)
		}
		if err != nil {
			return err
		}
		// A longer window, or the known-contacts filter turned off, widens
		// what the initial sync takes (S1): it runs again over the folders,
		// fetching what it has not looked at (with the filter off, also what
		// the filter left out).
		filterOff := prev.OnlyKnownContacts && !out.OnlyKnownContacts
		if filterOff {
			if _, err := tx.Exec(ctx, `DELETE FROM message_locations WHERE company_id = $1 AND account_id = $2 AND filtered`,
				companyID, id); err != nil {
				return err
			}
		}
		if out.SyncWindow > prev.SyncWindow || filterOff {
			if _, err := tx.Exec(ctx, `UPDATE sync_folders SET initial_done = false WHERE company_id = $1 AND account_id = $2`,
				companyID, id); err != nil {
				return err
			}
		}
		// A new secret (or new connection settings) ends NEEDS_REAUTH and any
		// backoff: the account is synced again at once (S1).
		if sec.Set || out.IMAP != prev.IMAP || out.Username != prev.Username || out.AuthKind != prev.AuthKind {
			_, err = tx.Exec(ctx, `UPDATE account_sync SET state = $3, failures = 0, next_attempt_time = now(),
					last_error = '', last_error_time = NULL
				WHERE company_id = $1 AND account_id = $2`, companyID, id, SyncPending)
		}
		return err
	})
	return out, err
}

// DeleteAccount deletes an account and its sealed secret; its messages stay
// (their account_id becomes NULL).
func (s *Store) DeleteAccount(ctx context.Context, companyID, userID, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM mail_accounts WHERE company_id = $1 AND user_id = $2 AND id = $3`,
		companyID, userID, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// AccountExists reports whether an account is still there: a sync worker
// asks when its lease went missing, to tell a deleted account from one that
// another worker took over.
func (s *Store) AccountExists(ctx context.Context, companyID, id int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mail_accounts WHERE company_id = $1 AND id = $2)`,
		companyID, id).Scan(&ok)
	return ok, err
}

// AccountSecret returns an account's sealed secret (nil: none), for the sync
// worker that logs in to the provider.
func (s *Store) AccountSecret(ctx context.Context, companyID, userID, id int64) ([]byte, error) {
	var sealed []byte
	err := s.pool.QueryRow(ctx, `SELECT secret FROM mail_accounts WHERE company_id = $1 AND user_id = $2 AND id = $3`,
		companyID, userID, id).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return sealed, err
}

// SyncStatus is an account's IMAP sync status (S6).
type SyncStatus struct {
	State         int16
	LastSuccess   time.Time
	LastError     string
	LastErrorTime time.Time
	NextAttempt   time.Time // zero unless waiting to retry
	Folders       []FolderState
	// Two-way moves (M6): queued and not done yet; the last failure.
	PendingActions      int
	LastActionError     string
	LastActionErrorTime time.Time
}

// SyncStatuses returns the sync status of a company's accounts by id;
// accounts without a row are missing from the map.
func (s *Store) SyncStatuses(ctx context.Context, companyID int64, ids []int64) (map[int64]SyncStatus, error) {
	out := map[int64]SyncStatus{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT account_id, state, last_success_time, last_error, last_error_time,
			CASE WHEN last_error <> '' AND next_attempt_time > now() THEN next_attempt_time END,
			(SELECT count(*) FROM provider_actions p WHERE p.company_id = a.company_id AND p.account_id = a.account_id),
			last_action_error, last_action_error_time
		FROM account_sync a WHERE company_id = $1 AND account_id = ANY($2)`, companyID, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var st SyncStatus
		var success, errTime, next, actionErrTime *time.Time
		if err := rows.Scan(&id, &st.State, &success, &st.LastError, &errTime, &next,
			&st.PendingActions, &st.LastActionError, &actionErrTime); err != nil {
			return nil, err
		}
		for _, p := range []struct {
			dst *time.Time
			src *time.Time
		}{{&st.LastSuccess, success}, {&st.LastErrorTime, errTime}, {&st.NextAttempt, next}, {&st.LastActionErrorTime, actionErrTime}} {
			if p.src != nil {
				*p.dst = *p.src
			}
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	frows, err := s.pool.Query(ctx, `SELECT account_id, `+folderCols+`
		FROM sync_folders WHERE company_id = $1 AND account_id = ANY($2) ORDER BY account_id, name`, companyID, ids)
	if err != nil {
		return nil, err
	}
	defer frows.Close()
	for frows.Next() {
		var id int64
		f, err := scanFolder(frows, &id)
		if err != nil {
			return nil, err
		}
		st, ok := out[id]
		if !ok {
			continue
		}
		st.Folders = append(st.Folders, f)
		out[id] = st
	}
	return out, frows.Err()
}
