package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// States of an outgoing message (migration 005 explains them).
const (
	OutgoingSending = "sending"
	OutgoingSent    = "sent"
	OutgoingStored  = "stored"
)

// Outgoing is the record of one SendThreadMessage attempt, written before
// the message is handed to the SMTP server.
type Outgoing struct {
	ID                int64
	UserID            int64
	RequestID         string // "": none
	RequestHash       string
	AccountID         int64
	State             string
	LeaseUntil        time.Time
	InternetMessageID string
	Raw               []byte // nil once stored
	ThreadID          int64  // stored only
	MessageID         int64  // stored only
}

// LeaseHeld reports whether an attempt may still be working on the record.
func (o Outgoing) LeaseHeld(now time.Time) bool { return now.Before(o.LeaseUntil) }

// ErrOutgoingExists: BeginOutgoing found a record with the request id; it
// is returned alongside.
var ErrOutgoingExists = errors.New("store: outgoing message with this request id exists")

const outgoingCols = `id, user_id, coalesce(request_id, ''), request_hash, account_id, state, lease_until,
	internet_message_id, raw, coalesce(thread_id, 0), coalesce(message_id, 0)`

func scanOutgoing(row pgx.Row) (Outgoing, error) {
	var o Outgoing
	err := row.Scan(&o.ID, &o.UserID, &o.RequestID, &o.RequestHash, &o.AccountID, &o.State, &o.LeaseUntil,
		&o.InternetMessageID, &o.Raw, &o.ThreadID, &o.MessageID)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, ErrNotFound
	}
	return o, err
}

// OutgoingByRequest returns a user's record of a request id, or ErrNotFound.
func (s *Store) OutgoingByRequest(ctx context.Context, companyID, userID int64, requestID string) (Outgoing, error) {
	return scanOutgoing(s.pool.QueryRow(ctx, `SELECT `+outgoingCols+` FROM outgoing_messages
		WHERE company_id = $1 AND user_id = $2 AND request_id = $3`, companyID, userID, requestID))
}

// BeginOutgoing records o in state sending, leased until o.LeaseUntil. When
// the user already has a record with o.RequestID, that record is returned
// with ErrOutgoingExists and nothing is written.
func (s *Store) BeginOutgoing(ctx context.Context, companyID int64, o Outgoing) (Outgoing, error) {
	out, err := scanOutgoing(s.pool.QueryRow(ctx, `
		INSERT INTO outgoing_messages (company_id, user_id, request_id, request_hash, account_id, state, lease_until,
			internet_message_id, raw)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5, 'sending', $6, $7, $8)
		ON CONFLICT (company_id, user_id, request_id) DO NOTHING
		RETURNING `+outgoingCols,
		companyID, o.UserID, o.RequestID, o.RequestHash, o.AccountID, o.LeaseUntil, o.InternetMessageID, o.Raw))
	if errors.Is(err, ErrNotFound) { // the conflict: someone else's attempt
		prev, err := s.OutgoingByRequest(ctx, companyID, o.UserID, o.RequestID)
		if err != nil {
			return Outgoing{}, err
		}
		return prev, ErrOutgoingExists
	}
	return out, err
}

// ClaimOutgoing takes the lease of an expired record in state sent (a
// crashed attempt's), until leaseUntil; ErrNotFound when another attempt
// holds it or its state moved on.
func (s *Store) ClaimOutgoing(ctx context.Context, companyID, id int64, now, leaseUntil time.Time) (Outgoing, error) {
	return scanOutgoing(s.pool.QueryRow(ctx, `
		UPDATE outgoing_messages SET lease_until = $4, update_time = now()
		WHERE company_id = $1 AND id = $2 AND state = 'sent' AND lease_until <= $3
		RETURNING `+outgoingCols, companyID, id, now, leaseUntil))
}

// MarkOutgoingSent records that the SMTP server accepted the message.
func (s *Store) MarkOutgoingSent(ctx context.Context, companyID, id int64) error {
	return s.execOne(ctx, `UPDATE outgoing_messages SET state = 'sent', update_time = now()
		WHERE company_id = $1 AND id = $2 AND state = 'sending'`, companyID, id)
}

// MarkOutgoingStored records where the sent message was stored and drops its raw copy.
func (s *Store) MarkOutgoingStored(ctx context.Context, companyID, id, threadID, messageID int64) error {
	return s.execOne(ctx, `UPDATE outgoing_messages SET state = 'stored', thread_id = $3, message_id = $4,
			raw = NULL, update_time = now()
		WHERE company_id = $1 AND id = $2`, companyID, id, threadID, messageID)
}

// ReleaseOutgoing ends the lease of a record at once (an attempt that does
// not know whether the server accepted the message gives up).
func (s *Store) ReleaseOutgoing(ctx context.Context, companyID, id int64) error {
	return s.execOne(ctx, `UPDATE outgoing_messages SET lease_until = now(), update_time = now()
		WHERE company_id = $1 AND id = $2`, companyID, id)
}

// DeleteOutgoing removes a record still in state sending: the message was
// certainly not sent, so a retry may send it.
func (s *Store) DeleteOutgoing(ctx context.Context, companyID, id int64) error {
	return s.execOne(ctx, `DELETE FROM outgoing_messages WHERE company_id = $1 AND id = $2 AND state = 'sending'`,
		companyID, id)
}

func (s *Store) execOne(ctx context.Context, sql string, args ...any) error {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: outgoing message", ErrNotFound)
	}
	return nil
}

// MessageRefs returns the Message-IDs a message refers to (its In-Reply-To
// and References), oldest first as far as its owner's mailbox knows: ids of
// stored messages by their time, ids of messages never seen before them.
// The headers' own order is not stored; this one is what References wants
// (the root first, the parent last) whenever the thread is complete.
func (s *Store) MessageRefs(ctx context.Context, companyID, messageID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.ref_id FROM message_refs r
		LEFT JOIN LATERAL (SELECT min(m.message_at) AS at FROM messages m
			WHERE m.company_id = r.company_id AND m.owner_id = r.owner_id AND m.internet_message_id = r.ref_id) x ON true
		WHERE r.company_id = $1 AND r.message_id = $2
		ORDER BY x.at NULLS FIRST, r.ref_id LIMIT 100`, companyID, messageID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
