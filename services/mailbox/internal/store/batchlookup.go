package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sightline/sightline/services/mailbox/internal/threading"
)

// hashLookupSQL finds the stored copies of each (owner $2[i], content hash
// $3[i]) of company $1.
const hashLookupSQL = `SELECT DISTINCT x.o, x.h, m.id, m.thread_id, coalesce(m.internet_message_id, '')
		FROM (SELECT DISTINCT o, h FROM unnest($2::bigint[], $3::text[]) AS u(o, h)) x
		CROSS JOIN LATERAL (SELECT * FROM (SELECT id, thread_id, internet_message_id FROM messages
			WHERE content_hash = x.h AND owner_id = x.o AND company_id + 0 = $1 OFFSET 0) s ORDER BY id LIMIT 50) m
		ORDER BY m.id`

// refLookupSQL finds the thread of the lowest stored message with each
// referenced Message-ID ($3[i]) of each owner ($2[i]).
const refLookupSQL = `SELECT DISTINCT ON (x.o, x.r) x.o, x.r, m.thread_id
			FROM (SELECT DISTINCT o, r FROM unnest($2::bigint[], $3::text[]) AS u(o, r)) x
			JOIN messages m ON m.internet_message_id = x.r AND m.owner_id = x.o AND m.company_id + 0 = $1
			ORDER BY x.o, x.r, m.id`

// reverseLookupSQL finds, for each Message-ID ($3[i]) of each owner
// ($2[i]), the thread of the lowest stored message referring to it.
const reverseLookupSQL = `SELECT DISTINCT ON (x.o, x.r) x.o, x.r, mr.thread_id
			FROM (SELECT DISTINCT o, r FROM unnest($2::bigint[], $3::text[]) AS u(o, r)) x
			JOIN message_refs mr ON mr.ref_id = x.r AND mr.owner_id = x.o AND mr.company_id + 0 = $1
			ORDER BY x.o, x.r, mr.message_id`

// candidateLookupSQL finds the subject candidates of each message.
const candidateLookupSQL = `SELECT x.i, t.id, t.subject_key, t.participant_keys, t.last_message_at
			FROM unnest($2::int[], $3::bigint[], $4::text[], $5::timestamptz[], $6::timestamptz[]) AS x(i, o, k, f, l)
			CROSS JOIN LATERAL (SELECT id, subject_key, participant_keys, last_message_at FROM threads
				WHERE subject_key = x.k AND owner_id = x.o AND company_id + 0 = $1 AND last_message_at BETWEEN x.f AND x.l
				ORDER BY last_message_at DESC LIMIT $7) t`

// threadsByKey reads rows of (owner, key, thread) into m.
func threadsByKey(m map[ownerKey]int64) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		for rows.Next() {
			var k ownerKey
			var t int64
			if err := rows.Scan(&k.owner, &k.s, &t); err != nil {
				return err
			}
			m[k] = t
		}
		return rows.Err()
	}
}

// lookupSetwise fills every message's lookups with a fixed number of
// statements in one round trip, whatever the batch's size: the reads of
// lookupBatch, each done for all messages at once (unnest and LATERAL),
// against the state before the batch. ids come out in the order the
// one-by-one path draws them (a thread and a message id per message).
func lookupSetwise(ctx context.Context, tx pgx.Tx, ps []IngestParams, prs []prepared, ls []lookups) error {
	n := len(ps)
	c := ps[0].CompanyID
	var (
		owners           []int64
		hashes, reqs     []string
		refOwner         []int64
		refID            []string
		ownOwner         []int64
		ownID            []string
		candIdx          []int32
		candOwner        []int64
		candKey          []string
		candFrom, candTo []time.Time
		emails           []string
	)
	type ua struct{ u, a int64 }
	users := map[ua]bool{}
	for i, p := range ps {
		owners = append(owners, p.UserID)
		hashes = append(hashes, p.Msg.ContentHash)
		reqs = append(reqs, p.RequestID)
		users[ua{p.UserID, p.AccountID}] = true
		for _, r := range prs[i].refs {
			refOwner = append(refOwner, p.UserID)
			refID = append(refID, r)
		}
		if prs[i].hasMessageID {
			ownOwner = append(ownOwner, p.UserID)
			ownID = append(ownID, p.Msg.MessageID)
		}
		if prs[i].subjectKey != "" && len(prs[i].keys) >= threading.MinCommonParticipants {
			candIdx = append(candIdx, int32(i))
			candOwner = append(candOwner, p.UserID)
			candKey = append(candKey, prs[i].subjectKey)
			candFrom = append(candFrom, prs[i].at.Add(-SubjectWindow))
			candTo = append(candTo, prs[i].at.Add(SubjectWindow))
		}
		emails = append(emails, prs[i].partEmails...)
	}
	slices.Sort(emails)
	emails = slices.Compact(emails)

	type userInfo struct {
		accountOK bool
		sharing   int16
		addrs     []string
	}
	info := map[ua]*userInfo{}
	var uaU, uaA []int64
	for k := range users {
		uaU = append(uaU, k.u)
		uaA = append(uaA, k.a)
	}
	persons := map[string]bool{}
	byHash := map[ownerKey][]stored{}
	byReq := map[ownerKey]stored{}
	refThread := map[ownerKey]int64{}
	reverse := map[ownerKey]int64{}
	cands := make([][]threading.Candidate, n)

	b := &pgx.Batch{}
	b.Queue(`SELECT x.u, x.a, x.a = 0 OR EXISTS (SELECT 1 FROM mail_accounts WHERE company_id = $1 AND user_id = x.u AND id = x.a),
			coalesce((SELECT default_sharing FROM mail_settings WHERE company_id = $1 AND user_id = x.u), $4),
			ARRAY(SELECT email FROM mail_accounts WHERE company_id = $1 AND user_id = x.u
				UNION SELECT email FROM user_addresses WHERE company_id = $1 AND user_id = x.u)
		FROM unnest($2::bigint[], $3::bigint[]) AS x(u, a)`, c, uaU, uaA, DefaultSettings.DefaultSharing).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var k ua
				ui := &userInfo{}
				if err := rows.Scan(&k.u, &k.a, &ui.accountOK, &ui.sharing, &ui.addrs); err != nil {
					return err
				}
				slices.Sort(ui.addrs)
				info[k] = ui
			}
			return rows.Err()
		})
	// Ids in the one-by-one order: message i takes the i-th of each sequence.
	b.Queue(`SELECT nextval('threads_id_seq'), nextval('messages_id_seq') FROM generate_series(1, $1::int) g ORDER BY g`, n).
		Query(func(rows pgx.Rows) error {
			i := 0
			for rows.Next() {
				if err := rows.Scan(&ls[i].newThreadID, &ls[i].newMessageID); err != nil {
					return err
				}
				i++
			}
			return rows.Err()
		})
	b.Queue(`SELECT DISTINCT email FROM person_emails WHERE company_id = $1 AND email = ANY($2)`, c, emails).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var e string
				if err := rows.Scan(&e); err != nil {
					return err
				}
				persons[e] = true
			}
			return rows.Err()
		})
	// The stored copies by content, per (owner, hash), lowest ids first.
	// Here and below, "company_id + 0": see dedupLookupSQL.
	b.Queue(hashLookupSQL, c, owners, hashes).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var k ownerKey
				var s stored
				if err := rows.Scan(&k.owner, &k.s, &s.id, &s.thread, &s.messageID); err != nil {
					return err
				}
				s.hash = k.s
				byHash[k] = append(byHash[k], s)
			}
			return rows.Err()
		})
	b.Queue(`SELECT m.owner_id, m.request_id, m.id, m.thread_id, m.content_hash FROM messages m
		JOIN (SELECT DISTINCT o, r FROM unnest($2::bigint[], $3::text[]) AS u(o, r) WHERE r <> '') x
			ON m.company_id = $1 AND m.owner_id = x.o AND m.request_id = x.r`, c, owners, reqs).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var k ownerKey
				var s stored
				if err := rows.Scan(&k.owner, &k.s, &s.id, &s.thread, &s.hash); err != nil {
					return err
				}
				byReq[k] = s
			}
			return rows.Err()
		})
	if len(refID) > 0 {
		// The thread of the lowest stored message with each referenced Message-ID.
		b.Queue(refLookupSQL, c, refOwner, refID).Query(threadsByKey(refThread))
	}
	if len(ownID) > 0 {
		// A stored message that refers to this one (the lowest).
		b.Queue(reverseLookupSQL, c, ownOwner, ownID).Query(threadsByKey(reverse))
	}
	if len(candIdx) > 0 {
		b.Queue(candidateLookupSQL, c, candIdx, candOwner, candKey, candFrom, candTo, maxSubjectCandidates).
			Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var i int32
					var cand threading.Candidate
					if err := rows.Scan(&i, &cand.ThreadID, &cand.NormalizedSubject, &cand.Participants, &cand.LastMessageAt); err != nil {
						return err
					}
					cands[i] = append(cands[i], cand)
				}
				return rows.Err()
			})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}

	for i, p := range ps {
		l := &ls[i]
		ui := info[ua{p.UserID, p.AccountID}]
		if ui == nil { // the first statement has a row for every pair
			return fmt.Errorf("store: no row for user %d, account %d", p.UserID, p.AccountID)
		}
		l.accountOK, l.sharing, l.userAddrs = ui.accountOK, ui.sharing, ui.addrs
		for _, e := range prs[i].partEmails {
			if persons[e] && !slices.Contains(l.personEmails, e) {
				l.personEmails = append(l.personEmails, e)
			}
		}
		l.sameHash = byHash[ownerKey{p.UserID, p.Msg.ContentHash}]
		if p.RequestID != "" {
			if s, ok := byReq[ownerKey{p.UserID, p.RequestID}]; ok {
				l.byRequest = &s
			}
		}
		for _, r := range prs[i].refs {
			if t, ok := refThread[ownerKey{p.UserID, r}]; ok {
				if l.refThreads == nil {
					l.refThreads = map[string]int64{}
				}
				l.refThreads[r] = t
			}
		}
		if prs[i].hasMessageID {
			l.reverseThread = reverse[ownerKey{p.UserID, p.Msg.MessageID}]
		}
		l.candidates = cands[i]
	}
	return nil
}
