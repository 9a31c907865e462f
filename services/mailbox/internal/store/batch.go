package store

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sightline/sightline/services/mailbox/internal/threading"
)

// A batch is stored set-wise: every read of every message in one round
// trip (as the single path reads them, against the state before the
// batch); the decisions in Go with the batch's own effects laid over those
// reads (batchState), so that each message is decided exactly as if the
// earlier ones had been stored one by one; then a handful of multi-row
// writes for the whole batch. The single path costs ~8 statements per
// message, the batch ~3 per message plus ~8 per batch.

// threadState is a thread as the batch sees it: the stored values (or the
// first message's, for a new thread) with the batch's messages applied by
// the rules of insertBatch's UPDATE.
type threadState struct {
	id, owner        int64
	isNew            bool
	subject, key     string
	snippet          string
	keys             []string // participant keys, sorted
	first, last      time.Time
	dealID, leadID   int64
	autoLinkOK       bool
	emails           map[string]bool // participants
	read, shared     bool
	smartBcc, hasAtt bool
	count, in, out   int

	// What the batch adds to an existing thread, as insertBatch's UPDATE
	// would apply it message by message (see applyExisting).
	touched            bool
	minAt, maxAt       time.Time
	minSubject, minKey string
	maxSnippet         string
	allSeen, anySmart  bool
	anyAtt             bool
	link               int64
	dCount, dIn, dOut  int
}

// batchMessage is one message the batch inserts.
type batchMessage struct {
	p        IngestParams
	pr       *prepared
	id       int64
	threadID int64
	outbound bool
	seen     bool
	smartBcc bool
	folders  []string // never nil (prepare's), for a NOT NULL column
	account  int64
}

type ownerKey struct {
	owner int64
	s     string
}

type batchState struct {
	threads   map[int64]*threadState
	inserted  []*batchMessage
	byHash    map[ownerKey][]*batchMessage
	byMsgID   map[ownerKey]*batchMessage // first inserted with this Message-ID
	byRef     map[ownerKey]*batchMessage // first inserted referring to this id
	byRequest map[ownerKey]*batchMessage
	// Stored messages of which the batch brought copies, in order.
	merges []IngestParams
	dupIDs []int64
	dupThr []int64
	// Threads whose read and smart_bcc flags a merged copy may change.
	recompute map[int64]bool
	openDeals map[string][]int64 // participant email -> open deals of its persons
}

func (s *Store) ingestBatchOnce(ctx context.Context, ps []IngestParams, prs []prepared, keys []int64,
	then func(context.Context, pgx.Tx, []IngestResult) error) ([]IngestResult, error) {
	results := make([]IngestResult, len(ps))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if len(keys) > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) k`, keys); err != nil {
				return err
			}
		}
		if len(ps) > 0 {
			if err := ingestSetwise(ctx, tx, ps, prs, results); err != nil {
				return err
			}
		}
		if then != nil {
			return then(ctx, tx, results)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

func ingestSetwise(ctx context.Context, tx pgx.Tx, ps []IngestParams, prs []prepared, results []IngestResult) error {
	c := ps[0].CompanyID
	// 1. Every message's reads, against the state before the batch.
	ls := make([]lookups, len(ps))
	if err := lookupSetwise(ctx, tx, ps, prs, ls); err != nil {
		return err
	}
	for i := range ps {
		if !ls[i].accountOK {
			return &BatchError{Index: i, Err: ErrAccountNotFound}
		}
	}

	// 2. The stored threads the batch may touch, and the open deals of
	// every participant it may link through (M7).
	st := &batchState{threads: map[int64]*threadState{}, byHash: map[ownerKey][]*batchMessage{},
		byMsgID: map[ownerKey]*batchMessage{}, byRef: map[ownerKey]*batchMessage{},
		byRequest: map[ownerKey]*batchMessage{}, recompute: map[int64]bool{}, openDeals: map[string][]int64{}}
	var ids []int64
	var emails []string
	for i := range ls {
		l := &ls[i]
		for _, t := range l.refThreads {
			ids = append(ids, t)
		}
		if l.reverseThread != 0 {
			ids = append(ids, l.reverseThread)
		}
		for _, cand := range l.candidates {
			ids = append(ids, cand.ThreadID)
		}
		emails = append(emails, prs[i].partEmails...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	slices.Sort(emails)
	emails = slices.Compact(emails)
	b := &pgx.Batch{}
	b.Queue(`SELECT id, owner_id, subject_key, participant_keys, first_message_at, last_message_at,
			coalesce(deal_id, 0), coalesce(lead_id, 0), auto_link,
			ARRAY(SELECT email FROM thread_participants tp WHERE tp.company_id = t.company_id AND tp.thread_id = t.id)
		FROM threads t WHERE company_id = $1 AND id = ANY($2)`, c, ids).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var t threadState
				var parts []string
				if err := rows.Scan(&t.id, &t.owner, &t.key, &t.keys, &t.first, &t.last, &t.dealID, &t.leadID,
					&t.autoLinkOK, &parts); err != nil {
					return err
				}
				t.emails = make(map[string]bool, len(parts))
				for _, e := range parts {
					t.emails[e] = true
				}
				st.threads[t.id] = &t
			}
			return rows.Err()
		})
	b.Queue(`SELECT DISTINCT pe.email, d.id
		FROM person_emails pe
		JOIN deal_persons dp ON dp.company_id = pe.company_id AND dp.person_id = pe.person_id
		JOIN deals d ON d.company_id = dp.company_id AND d.id = dp.deal_id
		WHERE pe.company_id = $1 AND d.status = $2 AND (pe.email = ANY($3)
			OR pe.email IN (SELECT email FROM thread_participants WHERE company_id = $1 AND thread_id = ANY($4)))`,
		c, DealOpen, emails, ids).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var e string
				var d int64
				if err := rows.Scan(&e, &d); err != nil {
					return err
				}
				st.openDeals[e] = append(st.openDeals[e], d)
			}
			return rows.Err()
		})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}

	// 3. Decide each message in order, over the batch's own effects.
	for i := range ps {
		l := &ls[i]
		st.overlay(ps[i], &prs[i], l)
		pl, err := choose(ps[i], &prs[i], l)
		if err != nil {
			return &BatchError{Index: i, Err: err}
		}
		results[i] = pl.res
		if !pl.write {
			continue
		}
		if pl.res.Duplicate {
			st.merge(ps[i], pl)
			continue
		}
		st.insert(ps[i], &prs[i], l, pl)
	}

	// 4. The writes: the threads, the messages by COPY (the bodies go
	// to the server once, without a parameter array built around them),
	// then what refers to them.
	w := st.writes(c)
	for _, b := range []*pgx.Batch{w.before, nil, w.after} {
		if b == nil {
			if len(w.messages) > 0 {
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{"messages"}, messageColumns, pgx.CopyFromRows(w.messages)); err != nil {
					return err
				}
			}
			continue
		}
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
	}
	return nil
}

// overlay adds to one message's lookups what the batch stored before it.
func (st *batchState) overlay(p IngestParams, pr *prepared, l *lookups) {
	u := p.UserID
	m := p.Msg
	if l.byRequest == nil && p.RequestID != "" {
		if bm := st.byRequest[ownerKey{u, p.RequestID}]; bm != nil {
			l.byRequest = &stored{id: bm.id, thread: bm.threadID, hash: bm.p.Msg.ContentHash}
		}
	}
	for _, bm := range st.byHash[ownerKey{u, m.ContentHash}] {
		l.sameHash = append(l.sameHash, stored{id: bm.id, thread: bm.threadID, messageID: bm.p.Msg.MessageID,
			hash: bm.p.Msg.ContentHash})
	}
	for _, ref := range pr.refs {
		if _, ok := l.refThreads[ref]; ok {
			continue
		}
		if bm := st.byMsgID[ownerKey{u, ref}]; bm != nil {
			if l.refThreads == nil {
				l.refThreads = map[string]int64{}
			}
			l.refThreads[ref] = bm.threadID
		}
	}
	if l.reverseThread == 0 && pr.hasMessageID {
		if bm := st.byRef[ownerKey{u, m.MessageID}]; bm != nil {
			l.reverseThread = bm.threadID
		}
	}
	if len(l.candidates) == 0 && len(st.threads) == 0 {
		return
	}
	// Subject candidates: the stored ones as the batch left them, and every
	// thread of the user the batch created or changed (ChooseBySubject
	// checks the subject and the time window itself).
	seen := map[int64]bool{}
	cands := l.candidates[:0:0]
	for _, cand := range l.candidates {
		seen[cand.ThreadID] = true
		if t := st.threads[cand.ThreadID]; t != nil && (t.isNew || t.touched) {
			cand = threading.Candidate{ThreadID: t.id, NormalizedSubject: t.key, Participants: t.keys, LastMessageAt: t.last}
		}
		cands = append(cands, cand)
	}
	if pr.subjectKey != "" && len(pr.keys) >= threading.MinCommonParticipants {
		for _, t := range st.threads {
			if !seen[t.id] && t.owner == u && (t.isNew || t.touched) && t.key == pr.subjectKey {
				cands = append(cands, threading.Candidate{ThreadID: t.id, NormalizedSubject: t.key,
					Participants: t.keys, LastMessageAt: t.last})
			}
		}
	}
	l.candidates = cands
}

// merge records a copy of a message stored before or earlier in the batch
// (mergeDuplicate's rules).
func (st *batchState) merge(p IngestParams, pl plan) {
	for _, bm := range st.inserted {
		if bm.id != pl.dupOf {
			continue
		}
		bm.smartBcc = bm.smartBcc || p.SmartBcc
		bm.seen = bm.seen || p.Seen
		if p.Folder != "" && !slices.Contains(bm.folders, p.Folder) {
			bm.folders = append(bm.folders, p.Folder)
		}
		if bm.account == 0 {
			bm.account = p.AccountID
		}
		if p.SmartBcc || p.Seen {
			st.recompute[pl.dupThread] = st.recompute[pl.dupThread] || p.SmartBcc
		}
		return
	}
	st.merges = append(st.merges, p)
	st.dupIDs = append(st.dupIDs, pl.dupOf)
	st.dupThr = append(st.dupThr, pl.dupThread)
}

// insert records a new message and applies it to its thread.
func (st *batchState) insert(p IngestParams, pr *prepared, l *lookups, pl plan) {
	u := p.UserID
	m := p.Msg
	bm := &batchMessage{p: p, pr: pr, id: l.newMessageID, threadID: pl.threadID, outbound: pl.outbound,
		seen: p.Seen, smartBcc: p.SmartBcc, folders: slices.Clone(pr.folders), account: p.AccountID}
	st.inserted = append(st.inserted, bm)
	st.byHash[ownerKey{u, m.ContentHash}] = append(st.byHash[ownerKey{u, m.ContentHash}], bm)
	if pr.hasMessageID {
		if _, ok := st.byMsgID[ownerKey{u, m.MessageID}]; !ok {
			st.byMsgID[ownerKey{u, m.MessageID}] = bm
		}
	}
	for _, ref := range pr.refs {
		if _, ok := st.byRef[ownerKey{u, ref}]; !ok {
			st.byRef[ownerKey{u, ref}] = bm
		}
	}
	if p.RequestID != "" {
		st.byRequest[ownerKey{u, p.RequestID}] = bm
	}
	in, out := 1, 0
	if pl.outbound {
		in, out = 0, 1
	}

	t := st.threads[pl.threadID]
	if pl.isNew {
		// M4: a new thread takes the user's default sharing at arrival.
		t = &threadState{id: pl.threadID, owner: u, isNew: true, subject: m.Subject, key: pr.subjectKey,
			snippet: m.Snippet, keys: slices.Clone(pr.keys), first: pr.at, last: pr.at, autoLinkOK: true,
			emails: map[string]bool{}, read: p.Seen, shared: l.sharing == SharingShared, smartBcc: p.SmartBcc,
			hasAtt: m.HasAttachments, count: 1, in: in, out: out}
		st.threads[t.id] = t
	} else {
		if t == nil {
			// A thread found only through a copy's lookups; load-free
			// fallback: it is in ids whenever a rule can choose it.
			t = &threadState{id: pl.threadID, owner: u, emails: map[string]bool{}, autoLinkOK: true}
			st.threads[t.id] = t
		}
		if !t.isNew {
			if !t.touched {
				t.touched, t.minAt, t.maxAt, t.allSeen = true, pr.at, pr.at, true
				t.minSubject, t.minKey, t.maxSnippet = m.Subject, pr.subjectKey, m.Snippet
			} else {
				if pr.at.Before(t.minAt) {
					t.minAt, t.minSubject, t.minKey = pr.at, m.Subject, pr.subjectKey
				}
				if !pr.at.Before(t.maxAt) {
					t.maxAt, t.maxSnippet = pr.at, m.Snippet
				}
			}
			t.allSeen = t.allSeen && p.Seen
			t.anySmart = t.anySmart || p.SmartBcc
			t.anyAtt = t.anyAtt || m.HasAttachments
			t.dCount++
			t.dIn += in
			t.dOut += out
		} else {
			t.count++
			t.in += in
			t.out += out
			t.read = t.read && p.Seen
			t.smartBcc = t.smartBcc || p.SmartBcc
			t.hasAtt = t.hasAtt || m.HasAttachments
		}
		// insertBatch's UPDATE, on the batch's view of the thread.
		if pr.at.Before(t.first) {
			t.subject, t.key = m.Subject, pr.subjectKey
		}
		if !pr.at.Before(t.last) {
			t.snippet = m.Snippet
		}
		t.keys = threading.ParticipantKeys(t.keys, pr.keys)
		if pr.at.Before(t.first) {
			t.first = pr.at
		}
		if pr.at.After(t.last) {
			t.last = pr.at
		}
	}
	for _, e := range pr.partEmails {
		t.emails[e] = true
	}
	if !pl.autoLink || t.dealID != 0 || t.leadID != 0 || !t.autoLinkOK {
		return
	}
	// M7 as insertBatch's last statement decides it: the open deals of the
	// persons of every participant but the owner's own addresses; exactly
	// one links.
	var deals []int64
	for e := range t.emails {
		if _, own := slices.BinarySearch(l.userAddrs, e); own {
			continue
		}
		deals = append(deals, st.openDeals[e]...)
	}
	slices.Sort(deals)
	if deals = slices.Compact(deals); len(deals) == 1 {
		t.dealID = deals[0]
		t.link = deals[0]
	}
}

// textArray is a PostgreSQL text[] literal of ss, for a column of lists
// passed through unnest as one text per row (pgx cannot send ragged
// two-dimensional arrays); casting it with ::text[] is cheaper than
// expanding a JSON list with a subquery per row.
func textArray(ss []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for i := 0; i < len(s); i++ { // bytes: UTF-8 never has '"' or '\\' inside a rune
			if s[i] == '"' || s[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[i])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// messageColumns are the columns of a messages row of batchWrites.
var messageColumns = []string{"company_id", "id", "owner_id", "thread_id", "account_id", "internet_message_id",
	"content_hash", "request_id", "subject", "addresses", "sent_at", "message_at", "snippet", "body_text", "body_html",
	"attachments", "has_attachments", "size_bytes", "outbound", "seen", "smart_bcc", "folders"}

// batchWrites are a batch's changes in the order the single path would make
// them matter: threads (before), then the messages (rows of
// messageColumns), then participants and references, the copies' merges
// and the flags they recompute (after).
type batchWrites struct {
	before   *pgx.Batch
	messages [][]any
	after    *pgx.Batch
}

// nullIfZero is nil for the zero value (NULLIF(x, 0) of the single path).
func nullIfZero[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

func (st *batchState) writes(c int64) batchWrites {
	w := batchWrites{before: &pgx.Batch{}, after: &pgx.Batch{}}
	b := w.before
	// New threads, with their final aggregates and link.
	var nt struct {
		id, owner, deal                []int64
		subject, key, snippet, keys    []string
		count, in, out                 []int32
		first, last                    []time.Time
		read, shared, smartBcc, hasAtt []bool
	}
	// Existing threads: what the batch adds.
	var et struct {
		id, link                          []int64
		minAt, maxAt                      []time.Time
		minSubject, minKey, maxSnip, keys []string
		dCount, dIn, dOut                 []int32
		allSeen, anySmart, anyAtt         []bool
	}
	for _, t := range st.threads {
		switch {
		case t.isNew:
			nt.id = append(nt.id, t.id)
			nt.owner = append(nt.owner, t.owner)
			nt.deal = append(nt.deal, t.dealID)
			nt.subject = append(nt.subject, t.subject)
			nt.key = append(nt.key, t.key)
			nt.snippet = append(nt.snippet, t.snippet)
			nt.keys = append(nt.keys, textArray(t.keys))
			nt.count = append(nt.count, int32(t.count))
			nt.in = append(nt.in, int32(t.in))
			nt.out = append(nt.out, int32(t.out))
			nt.first = append(nt.first, t.first)
			nt.last = append(nt.last, t.last)
			nt.read = append(nt.read, t.read)
			nt.shared = append(nt.shared, t.shared)
			nt.smartBcc = append(nt.smartBcc, t.smartBcc)
			nt.hasAtt = append(nt.hasAtt, t.hasAtt)
		case t.touched:
			et.id = append(et.id, t.id)
			et.link = append(et.link, t.link)
			et.minAt = append(et.minAt, t.minAt)
			et.maxAt = append(et.maxAt, t.maxAt)
			et.minSubject = append(et.minSubject, t.minSubject)
			et.minKey = append(et.minKey, t.minKey)
			et.maxSnip = append(et.maxSnip, t.maxSnippet)
			et.keys = append(et.keys, textArray(t.keys))
			et.dCount = append(et.dCount, int32(t.dCount))
			et.dIn = append(et.dIn, int32(t.dIn))
			et.dOut = append(et.dOut, int32(t.dOut))
			et.allSeen = append(et.allSeen, t.allSeen)
			et.anySmart = append(et.anySmart, t.anySmart)
			et.anyAtt = append(et.anyAtt, t.anyAtt)
		}
	}
	if len(nt.id) > 0 {
		b.Queue(`INSERT INTO threads (company_id, id, owner_id, subject, subject_key, snippet, participant_keys,
				message_count, inbound_count, outbound_count, first_message_at, last_message_at,
				read, archived, shared, smart_bcc, has_attachments, deal_id)
			SELECT $1, x.id, x.owner, x.subject, x.key, x.snippet,
				x.keys::text[], x.n, x.i, x.o, x.f, x.l,
				x.read, false, x.shared, x.sb, x.att, NULLIF(x.deal, 0)
			FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[],
				$9::int[], $10::int[], $11::timestamptz[], $12::timestamptz[], $13::bool[], $14::bool[], $15::bool[],
				$16::bool[], $17::bigint[])
				AS x(id, owner, subject, key, snippet, keys, n, i, o, f, l, read, shared, sb, att, deal)`,
			c, nt.id, nt.owner, nt.subject, nt.key, nt.snippet, nt.keys, nt.count, nt.in, nt.out, nt.first, nt.last,
			nt.read, nt.shared, nt.smartBcc, nt.hasAtt, nt.deal)
	}
	if len(et.id) > 0 {
		// insertBatch's UPDATE for several messages at once: the earliest
		// message's subject when it is earlier than the thread, the latest
		// one's snippet when it is not older, and so on.
		b.Queue(`UPDATE threads t SET
				subject = CASE WHEN x.min_at < t.first_message_at THEN x.min_subject ELSE t.subject END,
				subject_key = CASE WHEN x.min_at < t.first_message_at THEN x.min_key ELSE t.subject_key END,
				snippet = CASE WHEN x.max_at >= t.last_message_at THEN x.max_snip ELSE t.snippet END,
				participant_keys = ARRAY(SELECT DISTINCT k FROM unnest(t.participant_keys || x.keys::text[]) k ORDER BY k),
				message_count = t.message_count + x.n,
				inbound_count = t.inbound_count + x.i,
				outbound_count = t.outbound_count + x.o,
				first_message_at = LEAST(t.first_message_at, x.min_at),
				last_message_at = GREATEST(t.last_message_at, x.max_at),
				read = t.read AND x.seen,
				smart_bcc = t.smart_bcc OR x.sb,
				has_attachments = t.has_attachments OR x.att,
				deal_id = CASE WHEN x.link > 0 AND t.deal_id IS NULL AND t.lead_id IS NULL AND t.auto_link
					THEN x.link ELSE t.deal_id END,
				update_time = now()
			FROM unnest($2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
				$8::text[], $9::int[], $10::int[], $11::int[], $12::bool[], $13::bool[], $14::bool[], $15::bigint[])
				AS x(id, min_at, max_at, min_subject, min_key, max_snip, keys, n, i, o, seen, sb, att, link)
			WHERE t.company_id = $1 AND t.id = x.id`,
			c, et.id, et.minAt, et.maxAt, et.minSubject, et.minKey, et.maxSnip, et.keys, et.dCount, et.dIn, et.dOut,
			et.allSeen, et.anySmart, et.anyAtt, et.link)
	}
	b = w.after
	if len(st.inserted) > 0 {
		var (
			refRef                      []string
			refMsg, refThread, refOwner []int64
			partThread                  []int64
			partEmail, partName         []string
			partIndex                   = map[ownerKey]int{} // {thread, email} -> row
		)
		w.messages = make([][]any, 0, len(st.inserted))
		for _, bm := range st.inserted {
			m := bm.p.Msg
			var sentAt any
			if bm.pr.sentAt != nil {
				sentAt = *bm.pr.sentAt
			}
			w.messages = append(w.messages, []any{c, bm.id, bm.p.UserID, bm.threadID, nullIfZero(bm.account),
				nullIfZero(m.MessageID), m.ContentHash, nullIfZero(bm.p.RequestID), m.Subject, bm.pr.addrs,
				sentAt, bm.pr.at, m.Snippet, m.Text, m.HTML, bm.pr.attachments, m.HasAttachments, m.Size,
				bm.outbound, bm.seen, bm.smartBcc, bm.folders})
			for _, r := range bm.pr.refs {
				refOwner = append(refOwner, bm.p.UserID)
				refRef = append(refRef, r)
				refMsg = append(refMsg, bm.id)
				refThread = append(refThread, bm.threadID)
			}
			// thread_participants: one row per thread and address, the
			// first non-empty name (the single path's ON CONFLICT rule).
			for j, e := range bm.pr.partEmails {
				k := ownerKey{bm.threadID, e}
				if row, ok := partIndex[k]; ok {
					if partName[row] == "" {
						partName[row] = bm.pr.partNames[j]
					}
					continue
				}
				partIndex[k] = len(partEmail)
				partThread = append(partThread, bm.threadID)
				partEmail = append(partEmail, e)
				partName = append(partName, bm.pr.partNames[j])
			}
		}
		if len(partEmail) > 0 {
			b.Queue(`INSERT INTO thread_participants (company_id, thread_id, email, name)
				SELECT $1, t, e, n FROM unnest($2::bigint[], $3::text[], $4::text[]) AS x(t, e, n)
				ON CONFLICT (company_id, thread_id, email) DO UPDATE SET name = EXCLUDED.name
				WHERE thread_participants.name = '' AND EXCLUDED.name <> ''`,
				c, partThread, partEmail, partName)
		}
		if len(refRef) > 0 {
			b.Queue(`INSERT INTO message_refs (company_id, owner_id, ref_id, message_id, thread_id)
				SELECT $1, o, r, m, t FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[]) AS x(o, r, m, t)
				ON CONFLICT DO NOTHING`, c, refOwner, refRef, refMsg, refThread)
		}
	}
	// Copies of messages stored before the batch, one by one as the single
	// path merges them; then the flags of the threads that copies of the
	// batch's own messages may have changed.
	for i, p := range st.merges {
		mb := mergeDuplicate(p, st.dupIDs[i], st.dupThr[i])
		for _, q := range mb.QueuedQueries {
			b.Queue(q.SQL, q.Arguments...)
		}
	}
	if len(st.recompute) > 0 {
		b.Queue(lockThreadsSQL, c, slices.Collect(maps.Keys(st.recompute)))
	}
	for thread, smart := range st.recompute {
		b.Queue(recomputeFlagsSQL, c, thread, smart)
	}
	return w
}
