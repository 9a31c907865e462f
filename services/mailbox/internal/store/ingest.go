package store

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sightline/sightline/pkg/pg"
	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/threading"
)

// SubjectWindow is how far apart in time a message and a thread may be to
// join by subject (S3).
const SubjectWindow = threading.DefaultSubjectWindow

// maxSubjectCandidates bounds the threads with the same subject that ingest
// considers (the most recent ones).
const maxSubjectCandidates = 50

// maxFutureDate is how far in the future a Date header may be and still be
// used as the message time; beyond it the ingest time is used, so a forged
// date cannot pin a thread to the top of the inbox.
const maxFutureDate = 24 * time.Hour

// IngestParams is one raw message to store in a user's mailbox.
type IngestParams struct {
	CompanyID  int64
	UserID     int64
	AccountID  int64 // 0: Smart Bcc
	Folder     string
	Msg        *mime.Message
	SmartBcc   bool
	Seen       bool
	ReceivedAt time.Time // zero: unknown
	RequestID  string
	Now        time.Time // zero: time.Now()
}

// IngestResult says where the message is.
type IngestResult struct {
	ThreadID  int64
	MessageID int64
	Duplicate bool
}

// prepared is everything about the message that needs no database.
type prepared struct {
	at           time.Time
	sentAt       *time.Time
	addrs        Addresses
	partEmails   []string // From/To/Cc, first occurrence order
	partNames    []string
	keys         []string // sorted participant keys
	fromEmails   []string
	refs         []string // threading.ReferenceKeys
	subjectKey   string
	attachments  []AttachmentMeta
	folders      []string
	lockKey      int64
	hasMessageID bool
}

func prepare(p IngestParams) prepared {
	m := p.Msg
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	var pr prepared
	switch {
	case !p.ReceivedAt.IsZero():
		pr.at = p.ReceivedAt
	case !m.Date.IsZero() && m.Date.Before(now.Add(maxFutureDate)):
		pr.at = m.Date
	default:
		pr.at = now
	}
	pr.at = pr.at.UTC().Truncate(time.Microsecond)
	if !m.Date.IsZero() {
		d := m.Date.UTC()
		pr.sentAt = &d
	}
	conv := func(l []mime.Address) []Addr {
		out := make([]Addr, 0, len(l))
		for _, a := range l {
			if a.Email != "" {
				out = append(out, Addr{Name: a.Name, Email: a.Email})
			}
		}
		return out
	}
	pr.addrs = Addresses{From: conv(m.From), To: conv(m.To), Cc: conv(m.Cc), Bcc: conv(m.Bcc),
		ReplyTo: conv(m.ReplyTo)} // Reply-To: where SendThreadMessage replies (M5)
	index := map[string]int{}
	var all []string
	for _, l := range [][]Addr{pr.addrs.From, pr.addrs.To, pr.addrs.Cc} {
		for _, a := range l {
			all = append(all, a.Email)
			if i, ok := index[a.Email]; ok {
				if pr.partNames[i] == "" {
					pr.partNames[i] = a.Name
				}
				continue
			}
			index[a.Email] = len(pr.partEmails)
			pr.partEmails = append(pr.partEmails, a.Email)
			pr.partNames = append(pr.partNames, a.Name)
		}
	}
	pr.keys = threading.ParticipantKeys(all)
	for _, a := range pr.addrs.From {
		pr.fromEmails = append(pr.fromEmails, a.Email)
	}
	pr.refs = threading.ReferenceKeys(m.MessageID, m.InReplyTo, m.References)
	pr.subjectKey = threading.NormalizeSubject(m.Subject)
	pr.attachments = make([]AttachmentMeta, 0, len(m.Attachments))
	for _, a := range m.Attachments {
		pr.attachments = append(pr.attachments, AttachmentMeta{Filename: a.Filename, ContentType: a.ContentType,
			ContentID: a.ContentID, Size: a.Size, Inline: a.Inline})
	}
	pr.folders = []string{}
	if p.Folder != "" {
		pr.folders = []string{p.Folder}
	}
	pr.lockKey = lockKey(p.CompanyID, p.UserID)
	pr.hasMessageID = m.MessageID != ""
	return pr
}

// lockKey is the advisory lock serializing one user's ingests, so that
// concurrent messages of a user thread deterministically.
func lockKey(companyID, userID int64) int64 {
	h := fnv.New64a()
	var b [8]byte
	h.Write([]byte("sightline.mailbox.ingest"))
	binary.BigEndian.PutUint64(b[:], uint64(companyID))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(userID))
	h.Write(b[:])
	return int64(h.Sum64())
}

// Ingest stores one message in a user's mailbox in one transaction (S3, M4,
// M7): de-duplicate, choose the thread (references, then subject and
// participants, else a new thread with the user's default sharing), insert,
// update the thread's aggregates and link it automatically. It takes two
// round trips: BEGIN with the lock and the lookups in one pipelined batch,
// then the writes with COMMIT in another.
func (s *Store) Ingest(ctx context.Context, p IngestParams) (IngestResult, error) {
	pr := prepare(p)
	for attempt := 0; ; attempt++ {
		res, err := s.ingestOnce(ctx, p, &pr)
		// The chosen thread (or the account) was deleted between the lookups
		// and the writes: the lookups are run again once.
		if err != nil && attempt == 0 && pg.IsForeignKeyViolation(err) {
			continue
		}
		return res, err
	}
}

func (s *Store) ingestOnce(ctx context.Context, p IngestParams, pr *prepared) (IngestResult, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return IngestResult{}, err
	}
	// A connection released inside a transaction is closed by the pool, so
	// an error path that fails to roll back cannot leak the transaction.
	defer conn.Release()
	rollback := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(rctx, "rollback")
	}

	var l lookups
	b := &pgx.Batch{}
	b.Queue(`begin`)
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, pr.lockKey)
	lookupBatch(b, p, pr, &l)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback()
		return IngestResult{}, err
	}
	res, writes, err := decide(p, pr, &l)
	if err != nil || writes == nil {
		rollback()
		return res, err
	}
	writes.Queue("commit")
	if err := conn.SendBatch(ctx, writes).Close(); err != nil {
		rollback()
		return IngestResult{}, err
	}
	return res, nil
}

// MaxBatch is the most messages IngestBatch takes.
const MaxBatch = 500

// IngestBatch stores messages of one company, in order, in one transaction
// (all or nothing), with the same rules as Ingest: a later message of the
// batch sees the earlier ones (a duplicate of one is a duplicate, a reply
// joins its thread). When then is not nil it runs in the same transaction
// after the messages, with their results, so that a caller can commit state
// that must move together with them (IMAP folder state, S2); its error rolls
// everything back. The messages are stored set-wise (see ingestSetwise): a
// fixed number of round trips and one commit for the whole batch, whatever
// its size. Messages whose account does not exist fail the batch with
// ErrAccountNotFound.
func (s *Store) IngestBatch(ctx context.Context, ps []IngestParams, then func(ctx context.Context, tx pgx.Tx, res []IngestResult) error) ([]IngestResult, error) {
	if len(ps) == 0 && then == nil {
		return nil, nil
	}
	prs := make([]prepared, len(ps))
	var keys []int64
	for i, p := range ps {
		if p.CompanyID != ps[0].CompanyID {
			return nil, ErrMixedCompanies
		}
		prs[i] = prepare(p)
		keys = append(keys, prs[i].lockKey)
	}
	// Every user's lock, in one order, so that two batches cannot deadlock.
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for attempt := 0; ; attempt++ {
		res, err := s.ingestBatchOnce(ctx, ps, prs, keys, then)
		if err != nil && attempt == 0 && pg.IsForeignKeyViolation(err) {
			continue
		}
		return res, err
	}
}

type stored struct {
	id, thread int64
	messageID  string
	hash       string
}

type lookups struct {
	accountOK     bool
	sharing       int16
	userAddrs     []string // sorted
	personEmails  []string // participants' addresses that belong to a person
	newThreadID   int64
	newMessageID  int64
	byRequest     *stored
	sameHash      []stored
	refThreads    map[string]int64 // referenced Message-ID -> thread
	reverseThread int64            // thread of a stored message referring to this one
	candidates    []threading.Candidate
}

// Kinds of rows of the message lookup.
const (
	kindSameHash = 1
	kindRequest  = 2
	kindRef      = 3
	kindReverse  = 4
)

// lookupBatch queues every read ingest needs, to go in one round trip after
// the user's lock, so that they see every ingest of the user committed
// before (READ COMMITTED: a snapshot per statement).
func lookupBatch(b *pgx.Batch, p IngestParams, pr *prepared, l *lookups) {
	m := p.Msg
	c, u := p.CompanyID, p.UserID
	b.Queue(`SELECT $3::bigint = 0 OR EXISTS (SELECT 1 FROM mail_accounts WHERE company_id = $1 AND user_id = $2 AND id = $3),
			coalesce((SELECT default_sharing FROM mail_settings WHERE company_id = $1 AND user_id = $2), $4),
			ARRAY(`+userAddressesSQL+`),
			ARRAY(SELECT DISTINCT email FROM person_emails WHERE company_id = $1 AND email = ANY($5)),
			nextval('threads_id_seq'), nextval('messages_id_seq')`,
		c, u, p.AccountID, DefaultSettings.DefaultSharing, pr.partEmails).
		QueryRow(func(r pgx.Row) error {
			if err := r.Scan(&l.accountOK, &l.sharing, &l.userAddrs, &l.personEmails, &l.newThreadID, &l.newMessageID); err != nil {
				return err
			}
			slices.Sort(l.userAddrs)
			return nil
		})
	ownID := ""
	if pr.hasMessageID {
		ownID = m.MessageID
	}
	// OFFSET 0 fences the lookups from their ORDER BY id LIMIT: otherwise,
	// for a company younger than the table's statistics, the planner walks
	// messages_pkey in id order through every message of the company and
	// filters (measured: 2.8 ms at 20,000 messages, growing with them, vs
	// 0.04 ms through the owner's hash or Message-ID index).
	b.Queue(dedupLookupSQL,
		c, u, m.ContentHash, p.RequestID, pr.refs, ownID).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var kind int
				var r stored
				if err := rows.Scan(&kind, &r.id, &r.thread, &r.messageID, &r.hash); err != nil {
					return err
				}
				switch kind {
				case kindSameHash:
					l.sameHash = append(l.sameHash, r)
				case kindRequest:
					l.byRequest = &r
				case kindRef:
					if l.refThreads == nil {
						l.refThreads = map[string]int64{}
					}
					if _, ok := l.refThreads[r.messageID]; !ok {
						l.refThreads[r.messageID] = r.thread
					}
				case kindReverse:
					l.reverseThread = r.thread
				}
			}
			return rows.Err()
		})
	if pr.subjectKey != "" && len(pr.keys) >= threading.MinCommonParticipants {
		b.Queue(subjectLookupSQL,
			c, u, pr.subjectKey, pr.at.Add(-SubjectWindow), pr.at.Add(SubjectWindow), maxSubjectCandidates).
			Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var cand threading.Candidate
					if err := rows.Scan(&cand.ThreadID, &cand.NormalizedSubject, &cand.Participants, &cand.LastMessageAt); err != nil {
						return err
					}
					l.candidates = append(l.candidates, cand)
				}
				return rows.Err()
			})
	}
}

// subjectLookupSQL finds the subject candidates of one message ($1
// company, $2 owner, $3 subject key, $4-$5 the window, $6 the limit).
const subjectLookupSQL = `SELECT id, subject_key, participant_keys, last_message_at FROM threads
			WHERE subject_key = $3 AND owner_id = $2 AND company_id + 0 = $1 AND last_message_at BETWEEN $4 AND $5
			ORDER BY last_message_at DESC LIMIT $6`

// dedupLookupSQL reads, for one message, the stored copies by content
// hash, a retried request_id, the stored messages it refers to, and a
// stored message referring to it ($1 company, $2 owner, $3 content hash,
// $4 request id, $5 referenced Message-IDs, $6 its own Message-ID).
// "company_id + 0" keeps every index beginning with company_id out of
// ingest's lookups: only the index of each lookup's key can serve it,
// whatever the statistics know of the company (migration 008).
const dedupLookupSQL = `(SELECT * FROM (SELECT 1, id, thread_id, coalesce(internet_message_id, ''), content_hash FROM messages
			WHERE content_hash = $3 AND owner_id = $2 AND company_id + 0 = $1 OFFSET 0) h ORDER BY id LIMIT 50)
		UNION ALL
		(SELECT 2, id, thread_id, '', content_hash FROM messages
			WHERE company_id = $1 AND owner_id = $2 AND request_id = $4)
		UNION ALL
		(SELECT * FROM (SELECT 3, id, thread_id, internet_message_id, '' FROM messages
			WHERE internet_message_id = ANY($5) AND owner_id = $2 AND company_id + 0 = $1 OFFSET 0) r ORDER BY id LIMIT 500)
		UNION ALL
		(SELECT 4, message_id, thread_id, '', '' FROM message_refs
			WHERE ref_id = $6 AND owner_id = $2 AND company_id + 0 = $1 ORDER BY message_id LIMIT 1)`

// plan is what ingest decided for one message.
type plan struct {
	res IngestResult
	// write: nothing to store (a retried request_id).
	write bool
	// dupOf: the message is a copy of this stored message (S3); res.Duplicate.
	dupOf, dupThread int64
	// Otherwise a new message in threadID.
	threadID                  int64
	isNew, outbound, autoLink bool
}

// decide turns the lookups into the result and the batch of writes (nil:
// nothing to write).
func decide(p IngestParams, pr *prepared, l *lookups) (IngestResult, *pgx.Batch, error) {
	pl, err := choose(p, pr, l)
	if err != nil || !pl.write {
		return pl.res, nil, err
	}
	if pl.res.Duplicate {
		return pl.res, mergeDuplicate(p, pl.dupOf, pl.dupThread), nil
	}
	return pl.res, insertBatch(p, pr, l, pl.threadID, pl.isNew, pl.outbound, pl.autoLink), nil
}

// choose applies the rules to the lookups: idempotent retry, duplicate
// (S3), thread (S3) and whether the thread may link automatically (M7).
func choose(p IngestParams, pr *prepared, l *lookups) (plan, error) {
	m := p.Msg
	if !l.accountOK {
		return plan{}, ErrAccountNotFound
	}
	if r := l.byRequest; r != nil {
		if r.hash != m.ContentHash {
			return plan{}, ErrRequestIDReused
		}
		return plan{res: IngestResult{ThreadID: r.thread, MessageID: r.id}}, nil
	}

	// S3: the same message is stored once. Same content and the same
	// Message-ID, or the same content where either has no Message-ID. The
	// same Message-ID with other content is a new message (a reused or
	// forged id).
	for _, d := range l.sameHash {
		if d.messageID == m.MessageID || d.messageID == "" || m.MessageID == "" {
			return plan{res: IngestResult{ThreadID: d.thread, MessageID: d.id, Duplicate: true}, write: true,
				dupOf: d.id, dupThread: d.thread}, nil
		}
	}

	outbound := false
	for _, f := range pr.fromEmails {
		if _, ok := slices.BinarySearch(l.userAddrs, f); ok {
			outbound = true
			break
		}
	}

	// S3: references first (the closest ancestor first), then a stored reply
	// that refers to this message, then subject and participants.
	threadID := int64(0)
	for _, ref := range pr.refs {
		if t, ok := l.refThreads[ref]; ok {
			threadID = t
			break
		}
	}
	if threadID == 0 {
		threadID = l.reverseThread
	}
	if threadID == 0 {
		if t, ok := threading.ChooseBySubject(m.Subject, pr.keys, l.candidates, SubjectWindow, pr.at); ok {
			threadID = t
		}
	}
	isNew := threadID == 0
	if isNew {
		threadID = l.newThreadID
	}
	// M7 is looked at only when a participant other than the owner is a
	// known person: otherwise the message cannot change the thread's link.
	autoLink := false
	for _, e := range l.personEmails {
		if _, own := slices.BinarySearch(l.userAddrs, e); !own {
			autoLink = true
			break
		}
	}
	return plan{res: IngestResult{ThreadID: threadID, MessageID: l.newMessageID}, write: true,
		threadID: threadID, isNew: isNew, outbound: outbound, autoLink: autoLink}, nil
}

func insertBatch(p IngestParams, pr *prepared, l *lookups, threadID int64, isNew, outbound, autoLink bool) *pgx.Batch {
	m := p.Msg
	c, u := p.CompanyID, p.UserID
	in, out := 1, 0
	if outbound {
		in, out = 0, 1
	}
	b := &pgx.Batch{}
	if isNew {
		// M4: a new thread takes the user's default sharing at arrival.
		b.Queue(`INSERT INTO threads (company_id, id, owner_id, subject, subject_key, snippet, participant_keys,
				message_count, inbound_count, outbound_count, first_message_at, last_message_at,
				read, archived, shared, smart_bcc, has_attachments)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $10, $11, false, $12, $13, $14)`,
			c, threadID, u, m.Subject, pr.subjectKey, m.Snippet, pr.keys, in, out, pr.at,
			p.Seen, l.sharing == SharingShared, p.SmartBcc, m.HasAttachments)
	} else {
		// An existing thread keeps its sharing; its aggregates take the message in.
		b.Queue(`UPDATE threads SET
				subject = CASE WHEN $3 < first_message_at THEN $4 ELSE subject END,
				subject_key = CASE WHEN $3 < first_message_at THEN $5 ELSE subject_key END,
				snippet = CASE WHEN $3 >= last_message_at THEN $6 ELSE snippet END,
				participant_keys = CASE WHEN participant_keys @> $7::text[] THEN participant_keys
					ELSE ARRAY(SELECT DISTINCT k FROM unnest(participant_keys || $7::text[]) k ORDER BY k) END,
				message_count = message_count + 1,
				inbound_count = inbound_count + $8,
				outbound_count = outbound_count + $9,
				first_message_at = LEAST(first_message_at, $3),
				last_message_at = GREATEST(last_message_at, $3),
				read = read AND $10,
				smart_bcc = smart_bcc OR $11,
				has_attachments = has_attachments OR $12,
				update_time = now()
			WHERE company_id = $1 AND id = $2`,
			c, threadID, pr.at, m.Subject, pr.subjectKey, m.Snippet, pr.keys, in, out, p.Seen, p.SmartBcc, m.HasAttachments)
	}
	b.Queue(`INSERT INTO messages (company_id, id, owner_id, thread_id, account_id, internet_message_id, content_hash,
			request_id, subject, addresses, sent_at, message_at, snippet, body_text, body_html, attachments,
			has_attachments, size_bytes, outbound, seen, smart_bcc, folders)
		VALUES ($1, $2, $3, $4, NULLIF($5::bigint, 0), NULLIF($6, ''), $7, NULLIF($8, ''), $9, $10, $11, $12, $13, $14, $15,
			$16, $17, $18, $19, $20, $21, $22)`,
		c, l.newMessageID, u, threadID, p.AccountID, m.MessageID, m.ContentHash, p.RequestID, m.Subject, pr.addrs,
		pr.sentAt, pr.at, m.Snippet, m.Text, m.HTML, pr.attachments, m.HasAttachments, m.Size, outbound, p.Seen,
		p.SmartBcc, pr.folders)
	if len(pr.partEmails) > 0 {
		b.Queue(`INSERT INTO thread_participants (company_id, thread_id, email, name)
			SELECT $1, $2, e, n FROM unnest($3::text[], $4::text[]) AS x(e, n)
			ON CONFLICT (company_id, thread_id, email) DO UPDATE SET name = EXCLUDED.name
			WHERE thread_participants.name = '' AND EXCLUDED.name <> ''`,
			c, threadID, pr.partEmails, pr.partNames)
	}
	if len(pr.refs) > 0 {
		b.Queue(`INSERT INTO message_refs (company_id, owner_id, ref_id, message_id, thread_id)
			SELECT $1, $2, r, $3, $4 FROM unnest($5::text[]) r ON CONFLICT DO NOTHING`,
			c, u, l.newMessageID, threadID, pr.refs)
	}
	if !autoLink {
		return b
	}
	// M7: a thread without a deal or lead (and not linked or unlinked by
	// hand) links to the one open deal of its participants' persons; with
	// several open deals, none. The owner's own addresses do not count.
	b.Queue(`UPDATE threads t SET deal_id = x.deal_id, update_time = now()
		FROM (SELECT min(d.id) AS deal_id
		      FROM thread_participants tp
		      JOIN person_emails pe ON pe.company_id = tp.company_id AND pe.email = tp.email
		      JOIN deal_persons dp ON dp.company_id = pe.company_id AND dp.person_id = pe.person_id
		      JOIN deals d ON d.company_id = dp.company_id AND d.id = dp.deal_id
		      WHERE tp.company_id = $1 AND tp.thread_id = $2 AND tp.email <> ALL($3::text[]) AND d.status = $4
		      HAVING count(DISTINCT d.id) = 1) x
		WHERE t.company_id = $1 AND t.id = $2 AND t.deal_id IS NULL AND t.lead_id IS NULL AND t.auto_link`,
		c, threadID, nonNil(l.userAddrs), DealOpen)
	return b
}

// mergeDuplicate records what a second copy of a stored message adds: the
// Smart Bcc flag, the seen flag, its folder and account (S3).
func mergeDuplicate(p IngestParams, messageID, threadID int64) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(`UPDATE messages SET smart_bcc = smart_bcc OR $3, seen = seen OR $4,
			folders = CASE WHEN $5 = '' OR $5 = ANY(folders) THEN folders ELSE folders || $5 END,
			account_id = coalesce(account_id, NULLIF($6::bigint, 0))
		WHERE company_id = $1 AND id = $2`, p.CompanyID, messageID, p.SmartBcc, p.Seen, p.Folder, p.AccountID)
	if p.SmartBcc || p.Seen {
		b.Queue(lockThreadsSQL, p.CompanyID, []int64{threadID})
		b.Queue(recomputeFlagsSQL, p.CompanyID, threadID, p.SmartBcc)
	}
	return b
}

// lockThreadsSQL locks threads ($1 company, $2 ids), in one order. A
// statement recomputing a thread's flags from its messages must run after
// it, as a statement of its own: under READ COMMITTED a statement that
// waits for a row lock re-reads that row when it gets it, but its
// subqueries keep the snapshot taken before the wait, so a message another
// transaction added or changed meanwhile (an ingest, a read flag set
// through the API) would be missed, e.g. a new unseen message leaving the
// thread read.
const lockThreadsSQL = `SELECT 1 FROM threads WHERE company_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE`

// lockThreads runs lockThreadsSQL.
func lockThreads(ctx context.Context, tx pgx.Tx, companyID int64, threads []int64) error {
	_, err := tx.Exec(ctx, lockThreadsSQL, companyID, threads)
	return err
}

// recomputeFlagsSQL sets a thread's read flag from its messages and adds
// a copy's Smart Bcc flag ($1 company, $2 thread, $3 smart bcc); after
// lockThreadsSQL.
const recomputeFlagsSQL = `UPDATE threads t SET smart_bcc = t.smart_bcc OR $3,
		read = NOT EXISTS (SELECT 1 FROM messages m WHERE m.company_id = $1 AND m.thread_id = $2 AND NOT m.seen),
		update_time = now()
	WHERE t.company_id = $1 AND t.id = $2`

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
