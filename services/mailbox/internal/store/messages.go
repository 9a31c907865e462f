package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Addr is one address of a message header.
type Addr struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email"`
}

// Addresses are a message's address headers, stored as one jsonb value.
type Addresses struct {
	From []Addr `json:"from,omitempty"`
	To   []Addr `json:"to,omitempty"`
	Cc   []Addr `json:"cc,omitempty"`
	Bcc  []Addr `json:"bcc,omitempty"`
	// ReplyTo is where replies go (SendThreadMessage, M5); not a participant.
	ReplyTo []Addr `json:"reply_to,omitempty"`
}

// AttachmentMeta is one attachment's metadata.
type AttachmentMeta struct {
	Filename    string `json:"filename,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	ContentID   string `json:"content_id,omitempty"`
	Size        int64  `json:"size"`
	Inline      bool   `json:"inline,omitempty"`
}

// Message is one stored email.
type Message struct {
	ID                int64
	ThreadID          int64
	OwnerID           int64
	AccountID         int64
	InternetMessageID string
	Subject           string
	Addresses         Addresses
	SentAt            time.Time // zero: no usable Date header
	MessageAt         time.Time
	Snippet           string
	BodyText          string // only when read with full
	BodyHTML          string // only when read with full
	Attachments       []AttachmentMeta
	HasAttachments    bool
	Size              int64
	Outbound          bool
	Seen              bool
	SmartBcc          bool
	Folders           []string

	// PersonByEmail maps the header addresses that belong to a contact-index
	// person to the lowest such person.
	PersonByEmail map[string]int64
}

func messageCols(full bool) string {
	bodies := "'', ''"
	if full {
		bodies = "m.body_text, m.body_html"
	}
	return `m.id, m.thread_id, m.owner_id, coalesce(m.account_id, 0), coalesce(m.internet_message_id, ''), m.subject,
		m.addresses, m.sent_at, m.message_at, m.snippet, ` + bodies + `, m.attachments, m.has_attachments,
		m.size_bytes, m.outbound, m.seen, m.smart_bcc, m.folders`
}

func scanMessage(row pgx.Row) (Message, error) {
	var m Message
	var sent *time.Time
	err := row.Scan(&m.ID, &m.ThreadID, &m.OwnerID, &m.AccountID, &m.InternetMessageID, &m.Subject,
		&m.Addresses, &sent, &m.MessageAt, &m.Snippet, &m.BodyText, &m.BodyHTML, &m.Attachments, &m.HasAttachments,
		&m.Size, &m.Outbound, &m.Seen, &m.SmartBcc, &m.Folders)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, ErrNotFound
	}
	if sent != nil {
		m.SentAt = *sent
	}
	return m, err
}

func (s *Store) collectMessages(ctx context.Context, companyID int64, rows pgx.Rows, err error) ([]Message, error) {
	if err != nil {
		return nil, err
	}
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.fillPersons(ctx, companyID, out)
}

// MessageCursor is a position in a thread's messages, oldest first.
type MessageCursor struct {
	MessageAt time.Time
	ID        int64
}

// ThreadMessages returns up to limit messages of a thread after the cursor,
// oldest first. The caller has checked that the thread may be read.
func (s *Store) ThreadMessages(ctx context.Context, companyID, threadID int64, after MessageCursor, limit int, full bool) ([]Message, error) {
	args := []any{companyID, threadID, limit}
	cursor := ""
	if after.ID != 0 {
		cursor = " AND (m.message_at, m.id) > ($4, $5)"
		args = append(args, after.MessageAt, after.ID)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+messageCols(full)+` FROM messages m
		WHERE m.company_id = $1 AND m.thread_id = $2`+cursor+`
		ORDER BY m.message_at, m.id LIMIT $3`, args...)
	return s.collectMessages(ctx, companyID, rows, err)
}

// LatestMessages returns the newest limit messages of a thread, oldest first.
func (s *Store) LatestMessages(ctx context.Context, companyID, threadID int64, limit int, full bool) ([]Message, error) {
	rows, err := s.pool.Query(ctx, `SELECT * FROM (SELECT `+messageCols(full)+` FROM messages m
		WHERE m.company_id = $1 AND m.thread_id = $2
		ORDER BY m.message_at DESC, m.id DESC LIMIT $3) x ORDER BY 9, 1`, companyID, threadID, limit)
	return s.collectMessages(ctx, companyID, rows, err)
}

// OwnMessage returns one of the owner's messages.
func (s *Store) OwnMessage(ctx context.Context, companyID, ownerID, id int64, full bool) (Message, error) {
	return s.oneMessage(ctx, companyID, "m.owner_id", ownerID, id, full)
}

// ThreadMessage returns one message of a thread, whoever owns it; callers
// decide whether it may be read (M2, M5).
func (s *Store) ThreadMessage(ctx context.Context, companyID, threadID, id int64, full bool) (Message, error) {
	return s.oneMessage(ctx, companyID, "m.thread_id", threadID, id, full)
}

// oneMessage returns message id of the company where column (a constant
// of the callers) equals value.
func (s *Store) oneMessage(ctx context.Context, companyID int64, column string, value, id int64, full bool) (Message, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+messageCols(full)+` FROM messages m
		WHERE m.company_id = $1 AND `+column+` = $2 AND m.id = $3`, companyID, value, id)
	ms, err := s.collectMessages(ctx, companyID, rows, err)
	if err != nil {
		return Message{}, err
	}
	if len(ms) == 0 {
		return Message{}, fmt.Errorf("%w: message %d", ErrNotFound, id)
	}
	return ms[0], nil
}

// fillPersons sets PersonByEmail of every message with one query.
func (s *Store) fillPersons(ctx context.Context, companyID int64, ms []Message) error {
	seen := map[string]bool{}
	var emails []string
	for _, m := range ms {
		for _, l := range [][]Addr{m.Addresses.From, m.Addresses.To, m.Addresses.Cc, m.Addresses.Bcc} {
			for _, a := range l {
				if !seen[a.Email] {
					seen[a.Email] = true
					emails = append(emails, a.Email)
				}
			}
		}
	}
	if len(emails) == 0 {
		return nil
	}
	rows, err := s.pool.Query(ctx, `SELECT email, min(person_id) FROM person_emails
		WHERE company_id = $1 AND email = ANY($2) GROUP BY email`, companyID, emails)
	if err != nil {
		return err
	}
	defer rows.Close()
	persons := map[string]int64{}
	for rows.Next() {
		var e string
		var p int64
		if err := rows.Scan(&e, &p); err != nil {
			return err
		}
		persons[e] = p
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range ms {
		ms[i].PersonByEmail = persons
	}
	return nil
}
