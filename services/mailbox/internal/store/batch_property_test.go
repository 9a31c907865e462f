package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// TestIngestBatchMatchesOneByOne is the batch path's reference check: random
// mail (replies to earlier and later messages, copies with other flags,
// same subjects with and without common participants, equal and out-of-order
// dates, persons with zero, one or two open deals, retried request ids,
// reused Message-IDs) is stored one message at a time in one database and
// in random batches in another; every table must come out identical after
// every batch, ids included (both paths draw the same ids in the same
// order). Between batches both databases get the same hand-made links and
// unlinks (M7: such a thread no longer links automatically), which the
// later batches' replies and same-subject messages must respect alike.
func TestIngestBatchMatchesOneByOne(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			msgs := randomMail(r, 120)
			one, poolOne := newStore(t, 2)
			batch, poolBatch := newStore(t, 2)
			ctx := context.Background()
			for _, pool := range []*pgxpool.Pool{poolOne, poolBatch} {
				seedContacts(t, pool)
			}
			changed := map[int64]int32{} // thread -> message count when changed by hand
			for i := 0; i < len(msgs); {
				n := 1 + r.IntN(40)
				if i+n > len(msgs) {
					n = len(msgs) - i
				}
				for _, p := range msgs[i : i+n] {
					if _, err := one.Ingest(ctx, p); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := batch.IngestBatch(ctx, msgs[i:i+n], nil); err != nil {
					t.Fatal(err)
				}
				i += n
				a, b := dump(t, poolOne), dump(t, poolBatch)
				if a != b {
					t.Fatalf("after messages 0-%d: batch and one-by-one differ:\n%s", i-1, diffLines(a, b))
				}
				if i < len(msgs) {
					changeLinks(t, r, poolOne, changed, one, batch)
				}
			}
			// The hand-made links must have been put to the test: threads
			// changed by hand that later batches brought messages to.
			if n := grownSince(t, poolOne, changed); n == 0 {
				t.Errorf("none of the %d threads linked or unlinked by hand got later messages", len(changed))
			}
		})
	}
}

// changeLinks links or unlinks some threads by hand, the same way in every
// store (the threads are read from pool, whose store has the same ones).
// changed records each thread's message count at its latest change.
func changeLinks(t *testing.T, r *rand.Rand, pool *pgxpool.Pool, changed map[int64]int32, sts ...*store.Store) {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT id, owner_id, message_count FROM threads ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type thread struct {
		id, owner int64
		count     int32
	}
	threads, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (thread, error) {
		var th thread
		err := row.Scan(&th.id, &th.owner, &th.count)
		return th, err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range threads {
		if r.IntN(6) != 0 {
			continue
		}
		// Unlink; link to a lead; link to a deal: open (also one of the
		// participants' own), won, or unknown to the contacts.
		action, deal, lead := r.IntN(3), []int64{10, 20, 30, 99}[r.IntN(4)], int64(500+r.IntN(3))
		for _, st := range sts {
			switch action {
			case 0:
				_, err = st.Unlink(ctx, 1, th.owner, th.id)
			case 1:
				_, err = st.Link(ctx, 1, th.owner, th.id, 0, lead, true)
			default:
				_, err = st.Link(ctx, 1, th.owner, th.id, deal, 0, true)
			}
			if err != nil {
				t.Fatalf("thread %d, change %d: %v", th.id, action, err)
			}
		}
		changed[th.id] = th.count
	}
}

// grownSince counts the threads of changed that have more messages now.
func grownSince(t *testing.T, pool *pgxpool.Pool, changed map[int64]int32) int {
	t.Helper()
	n := 0
	for id, count := range changed {
		var now int32
		if err := pool.QueryRow(context.Background(), `SELECT message_count FROM threads WHERE id = $1`, id).
			Scan(&now); err != nil {
			t.Fatal(err)
		}
		if now > count {
			n++
		}
	}
	return n
}

// seedContacts: persons 1-4 with addresses; person 1 has one open deal,
// person 2 two, person 3 one won deal, person 4 none.
func seedContacts(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `
		INSERT INTO persons (company_id, id, organization_id) VALUES (1, 1, 50), (1, 2, NULL), (1, 3, NULL), (1, 4, NULL);
		INSERT INTO person_emails VALUES (1, 1, 'p1@c.test'), (1, 2, 'p2@c.test'), (1, 3, 'p3@c.test'), (1, 4, 'p4@c.test');
		INSERT INTO deals (company_id, id, status) VALUES (1, 10, 1), (1, 20, 1), (1, 21, 1), (1, 30, 2);
		INSERT INTO deal_persons VALUES (1, 10, 1), (1, 20, 2), (1, 21, 2), (1, 30, 3);
		INSERT INTO user_addresses (company_id, user_id, email) VALUES (1, 1, 'u1@acme.test'), (1, 2, 'u2@acme.test');
		INSERT INTO mail_settings (company_id, user_id, default_sharing, two_way_sync) VALUES (1, 2, 2, false)`)
	if err != nil {
		t.Fatal(err)
	}
}

func randomMail(r *rand.Rand, n int) []store.IngestParams {
	addrs := []string{"p1@c.test", "p2@c.test", "p3@c.test", "p4@c.test", "x@other.test", "y@other.test", "Name <z@other.test>", "z@other.test", "Other <p1@c.test>"}
	subjects := []string{"Renewal", "Re: Renewal", "Pricing", "Fwd: Pricing", "", "Hello"}
	var out []store.IngestParams
	for i := range n {
		user := int64(1 + r.IntN(2))
		own := fmt.Sprintf("u%d@acme.test", user)
		if r.IntN(6) == 0 && len(out) > 0 {
			// A copy of an earlier message, maybe with other flags and folder.
			j := r.IntN(len(out))
			p := out[j]
			p.Folder = []string{"INBOX", "Sent", "Archive"}[r.IntN(3)]
			p.Seen, p.SmartBcc = r.IntN(2) == 0, r.IntN(3) == 0
			p.RequestID = ""
			if r.IntN(3) == 0 {
				p.RequestID = out[j].RequestID // a retry
			}
			out = append(out, p)
			continue
		}
		var h strings.Builder
		id := fmt.Sprintf("m%d@x.test", i)
		if r.IntN(10) == 0 && i > 0 {
			id = fmt.Sprintf("m%d@x.test", r.IntN(i)) // a reused Message-ID
		}
		if r.IntN(8) != 0 {
			fmt.Fprintf(&h, "Message-ID: <%s>\r\n", id)
		}
		from, to := addrs[r.IntN(len(addrs))], own
		if r.IntN(3) == 0 {
			from, to = own, addrs[r.IntN(len(addrs))]
		}
		fmt.Fprintf(&h, "From: %s\r\nTo: %s\r\n", from, to)
		if r.IntN(2) == 0 {
			fmt.Fprintf(&h, "Cc: %s\r\n", addrs[r.IntN(len(addrs))])
		}
		fmt.Fprintf(&h, "Subject: %s\r\n", subjects[r.IntN(len(subjects))])
		if r.IntN(2) == 0 {
			// Replies to earlier messages and, sometimes, to later ones.
			fmt.Fprintf(&h, "In-Reply-To: <m%d@x.test>\r\n", r.IntN(i+10))
		}
		if r.IntN(4) == 0 {
			fmt.Fprintf(&h, "References: <m%d@x.test> <m%d@x.test>\r\n", r.IntN(i+5), r.IntN(i+5))
		}
		// Dates in a few hours, with ties and out of order.
		fmt.Fprintf(&h, "Date: Mon, 02 Mar 2026 %02d:%02d:00 +0000\r\n", 8+r.IntN(4), r.IntN(3)*20)
		fmt.Fprintf(&h, "Content-Type: text/plain\r\n\r\nBody %d %d\r\n", i, r.IntN(3))
		raw := []byte(h.String())
		m, err := mime.Parse(raw, mime.Options{})
		if err != nil {
			panic(err)
		}
		p := store.IngestParams{CompanyID: 1, UserID: user, Folder: "INBOX", Msg: m, Seen: r.IntN(2) == 0,
			SmartBcc: r.IntN(8) == 0}
		if r.IntN(5) == 0 {
			p.RequestID = fmt.Sprintf("req-%d", i)
		}
		out = append(out, p)
	}
	return out
}

func dump(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, owner_id, subject, subject_key, snippet, participant_keys, message_count, inbound_count,
			outbound_count, first_message_at, last_message_at, deal_id, lead_id, auto_link, read, archived, shared,
			smart_bcc, has_attachments FROM threads ORDER BY id`,
		`SELECT id, owner_id, thread_id, account_id, internet_message_id, content_hash, request_id, subject, addresses,
			sent_at, message_at, snippet, body_text, body_html, attachments, has_attachments, size_bytes, outbound,
			seen, smart_bcc, folders FROM messages ORDER BY id`,
		`SELECT thread_id, email, name FROM thread_participants ORDER BY 1, 2`,
		`SELECT owner_id, ref_id, message_id, thread_id FROM message_refs ORDER BY 1, 2, 3`,
	} {
		rows, err := pool.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			fmt.Fprintf(&out, "- %s\n+ %s\n", x, y)
			if out.Len() > 4000 {
				break
			}
		}
	}
	return out.String()
}
