package load

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

// MailboxSet is the mailbox data set of issue 4, scaled: per unit of Scale,
// 10,000 users and 1,000,000 messages (4 per thread) as background volume,
// plus one deal with DealThreads threads of other users linked to it and
// shared, which Viewer (who sees the deal and owns none of them) opens.
type MailboxSet struct {
	Company     int64
	Scale       float64
	Users       int   // mailbox owners of the background volume
	Messages    int   // background messages (seeded with SQL)
	Threads     int   // background threads
	Deal        int64 // the measured deal
	DealThreads int   // threads linked to Deal (ingested and shared through the API)
	Viewer      int64 // a user who sees Deal and owns none of its threads
}

// dealThreads is how many threads the measured deal has: the first page of
// the detail view.
const dealThreads = 50

// SeedMailbox builds the mailbox data set in company (fresh: it must not
// exist in visibility). The background volume goes straight into the
// mailbox schema with SQL through db (IngestMessage would take ~10 minutes
// for 1,000,000 messages); the deal's threads, the path measured, go
// through the API: IngestMessage links them to the deal automatically (its
// person is a participant) and ShareThreads shares them as their owners.
// Visibility learns the company, the deal (visible to the entire company)
// and the users the detail view involves: the threads' owners and Viewer.
// svc calls as a service principal of company, user as a user of it.
func SeedMailbox(ctx context.Context, vis, mb *grpc.ClientConn, db *pgx.Conn, svc func(context.Context) context.Context,
	user func(ctx context.Context, id int64) context.Context, company int64, scale float64, logf func(string, ...any)) (*MailboxSet, error) {
	users := max(int(math.Round(10000*scale)), dealThreads+2)
	msgs := max(int(math.Round(1000000*scale)), 4*users)
	set := &MailboxSet{Company: company, Scale: scale, Users: users, Messages: msgs, Threads: (msgs + 3) / 4,
		Deal: 5_000_000, DealThreads: dealThreads, Viewer: int64(users)}
	sctx := svc(ctx)

	// Visibility: the company, the users of the detail view, the deal.
	vc := visibilityv1.NewVisibilityServiceClient(vis)
	if _, err := vc.CreateCompany(sctx, &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ENTERPRISE}); err != nil {
		return nil, fmt.Errorf("visibility: create company: %w", err)
	}
	owners := make([]int64, dealThreads)
	for i := range owners {
		owners[i] = int64(1 + i*(users-1)/dealThreads) // spread over the users, never Viewer
	}
	for _, u := range append(owners, set.Viewer) {
		if _, err := vc.UpsertUser(sctx, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: u,
			Name: fmt.Sprintf("user %d", u), Active: true, Permissions: &visibilityv1.Permissions{}}}); err != nil {
			return nil, fmt.Errorf("visibility: upsert user: %w", err)
		}
	}
	if _, err := vc.BatchUpsertItems(sctx, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: owners[0],
		Items: []*visibilityv1.Item{{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: set.Deal, OwnerId: owners[0],
			VisibleTo: visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY}}}); err != nil {
		return nil, fmt.Errorf("visibility: upsert deal: %w", err)
	}

	// Background volume, with SQL.
	t0 := time.Now()
	if err := seedMailboxSQL(ctx, db, set, logf); err != nil {
		return nil, fmt.Errorf("seed mailbox with SQL: %w", err)
	}
	logf("mailbox: seeded the background volume with SQL (not through the API): %d users, %d threads, %d messages in %s",
		set.Users, set.Threads, set.Messages, time.Since(t0).Round(time.Millisecond))

	// The deal's threads, through the API: a person on the deal writes to each owner.
	mc := mailboxv1.NewMailboxServiceClient(mb)
	const person = 9_000_001
	contact := "buyer@deal-customer.test"
	if _, err := mc.UpsertPerson(sctx, &mailboxv1.UpsertPersonRequest{PersonId: person, Name: "Dana Buyer", Emails: []string{contact}}); err != nil {
		return nil, fmt.Errorf("mailbox: upsert person: %w", err)
	}
	if _, err := mc.UpsertDeal(sctx, &mailboxv1.UpsertDealRequest{DealId: set.Deal, Status: mailboxv1.DealStatus_DEAL_STATUS_OPEN,
		PersonIds: []int64{person}}); err != nil {
		return nil, fmt.Errorf("mailbox: upsert deal: %w", err)
	}
	base := time.Now().Add(-30 * 24 * time.Hour)
	for i, u := range owners {
		raw := realisticMessage(messageSpec{ID: fmt.Sprintf("deal-%d-%d@deal-customer.test", company, i),
			FromName: "Dana Buyer", From: contact, To: fmt.Sprintf("user%d@acme.test", u),
			Subject: fmt.Sprintf("Renewal of the 2027 contract, part %d", i), Date: base.Add(time.Duration(i) * 7 * time.Hour), Seed: i})
		res, err := mc.IngestMessage(sctx, &mailboxv1.IngestMessageRequest{UserId: u, Folder: "INBOX", Raw: raw})
		if err != nil {
			return nil, fmt.Errorf("mailbox: ingest: %w", err)
		}
		if _, err := mc.ShareThreads(user(ctx, u), &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{res.ThreadId}}); err != nil {
			return nil, fmt.Errorf("mailbox: share threads: %w", err)
		}
	}
	// The detail view must show all of them (visibility applies its writes
	// asynchronously: wait for it a little).
	vctx := user(ctx, set.Viewer)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := mc.ListItemThreads(vctx, &mailboxv1.ListItemThreadsRequest{
			Item: &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_DEAL, Id: set.Deal}, PageSize: dealThreads})
		n := len(resp.GetThreads())
		if err == nil && n == dealThreads {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("mailbox: the deal's detail view shows %d threads, want %d (last error: %v)", n, dealThreads, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return set, nil
}

// seedMailboxSQL writes the background volume into the mailbox schema in
// chunks: threads of 4 messages (3 inbound, 1 outbound, each but the first
// referring to the one before), 1 in 5 linked to one of 100,000 other deals,
// half of them shared, over the last year; two participants per thread;
// ~1.2 KB of text per message (the ingest scenario uses ~5 KB messages).
func seedMailboxSQL(ctx context.Context, db *pgx.Conn, set *MailboxSet, logf func(string, ...any)) error {
	c := set.Company
	var tb, mb int64
	// Reserve the ids, so that ingest through the API never collides with them.
	if err := db.QueryRow(ctx, `SELECT setval('threads_id_seq', nextval('threads_id_seq') + $1) - $1,
		setval('messages_id_seq', nextval('messages_id_seq') + $2) - $2`, set.Threads, set.Messages).Scan(&tb, &mb); err != nil {
		return err
	}
	const chunk = 25000 // threads per statement
	body := strings.Repeat("Thanks for the call today. As discussed, we would like to move forward with the proposal "+
		"for the next quarter, pending the review of the terms by our legal team.\r\n", 8)
	for start := 0; start < set.Threads; start += chunk {
		end := min(start+chunk, set.Threads)
		tx, err := db.Begin(ctx)
		if err != nil {
			return err
		}
		// g: thread number; messages 4g .. 4g+3.
		_, err = tx.Exec(ctx, `INSERT INTO threads (company_id, id, owner_id, subject, subject_key, snippet, participant_keys,
				message_count, inbound_count, outbound_count, first_message_at, last_message_at, deal_id,
				read, shared, smart_bcc, has_attachments)
			SELECT $1, $2 + g, 1 + g % $3, 'Re: Conversation ' || g, 'conversation ' || g, 'Thanks for the call today',
				ARRAY['c' || (g % 50000) || '@customer.test', 'user' || (1 + g % $3) || '@acme.test'],
				n, n - n / 4, n / 4, now() - (g % 525600) * interval '1 minute' - interval '3 hours',
				now() - (g % 525600) * interval '1 minute', CASE WHEN g % 5 = 0 THEN 1 + g % 100000 END,
				true, g % 2 = 0, false, false
			FROM generate_series($4::bigint, $5::bigint - 1) g, LATERAL (SELECT least(4, $6 - 4 * g)::int AS n) x`,
			c, tb, set.Users, start, end, set.Messages)
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO thread_participants (company_id, thread_id, email, name)
				SELECT $1, $2 + g, e, nm FROM generate_series($4::bigint, $5::bigint - 1) g,
					LATERAL (VALUES ('c' || (g % 50000) || '@customer.test', 'Customer ' || (g % 50000)),
					                ('user' || (1 + g % $3) || '@acme.test', 'User ' || (1 + g % $3))) p(e, nm)`,
				c, tb, set.Users, start, end)
		}
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO messages (company_id, id, owner_id, thread_id, internet_message_id, content_hash,
					subject, addresses, sent_at, message_at, snippet, body_text, body_html, attachments, has_attachments,
					size_bytes, outbound, seen, smart_bcc, folders)
				SELECT $1::bigint, $2 + j, 1 + (j / 4) % $4, $3 + j / 4, 'bg-' || $1::bigint || '-' || j || '@bench.test',
					md5($1::bigint || '-' || j) || md5(j || '-' || $1::bigint),
					'Re: Conversation ' || j / 4,
					jsonb_build_object('from', jsonb_build_array(jsonb_build_object('name', 'Customer', 'email', cu)),
						'to', jsonb_build_array(jsonb_build_object('email', us)), 'cc', '[]'::jsonb, 'bcc', '[]'::jsonb),
					at, at, 'Thanks for the call today', 'Message ' || j || E'\r\n' || $7, '', '[]'::jsonb, false,
					1400, j % 4 = 3, true, false, ARRAY['INBOX']
				FROM generate_series(4 * $5::bigint, least(4 * $6::bigint, $8) - 1) j,
					LATERAL (SELECT 'c' || ((j / 4) % 50000) || '@customer.test' AS cu, 'user' || (1 + (j / 4) % $4) || '@acme.test' AS us,
						now() - ((j / 4) % 525600) * interval '1 minute' - (3 - j % 4) * interval '1 hour' AS at) x`,
				c, mb, tb, set.Users, start, end, body, set.Messages)
		}
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO message_refs (company_id, owner_id, ref_id, message_id, thread_id)
				SELECT $1::bigint, 1 + (j / 4) % $4, 'bg-' || $1::bigint || '-' || (j - 1) || '@bench.test', $2 + j, $3 + j / 4
				FROM generate_series(4 * $5::bigint, least(4 * $6::bigint, $7) - 1) j WHERE j % 4 <> 0`,
				c, mb, tb, set.Users, start, end, set.Messages)
		}
		if err == nil {
			err = tx.Commit(ctx)
		}
		if err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		if logf != nil && (end == set.Threads || (end/chunk)%10 == 0) {
			logf("mailbox: SQL seeding: %d / %d threads", end, set.Threads)
		}
	}
	_, err := db.Exec(ctx, `ANALYZE threads, thread_participants, messages, message_refs`)
	return err
}

// messageSpec is one message of realisticMessage.
type messageSpec struct {
	ID, InReplyTo      string
	FromName, From, To string
	Cc                 string
	Subject            string
	Date               time.Time
	Seed               int
}

var sentences = []string{
	"Thanks for taking the time to walk us through the proposal on Tuesday.",
	"Our procurement team reviewed the pricing tiers and has a few questions about the volume discount.",
	"Could you confirm whether the onboarding package includes the data migration from our current system?",
	"We would also like to understand the support hours for customers in the European time zones.",
	"The legal team asked for a copy of the data processing agreement before we sign anything.",
	"I have attached the list of requirements we put together after the workshop last week.",
	"Please let me know if the delivery date in March still works on your side.",
	"We are comparing two other vendors, so a quick answer on the renewal terms would help a lot.",
	"Our finance department prefers quarterly invoicing; is that something you can offer?",
	"The pilot with the sales team in Lisbon went well and they are keen to continue.",
	"One open point is single sign-on with our identity provider, which is a hard requirement for IT.",
	"I will be out of the office on Friday, but my colleague can answer any urgent questions.",
}

// realisticMessage is a multipart/alternative message of about 5 KB (text
// and HTML bodies of a business conversation), distinct per spec.
func realisticMessage(s messageSpec) []byte {
	var text, html strings.Builder
	text.WriteString("Hello,\r\n\r\n")
	html.WriteString("<html><body><p>Hello,</p>\r\n")
	for p := range 5 {
		html.WriteString("<p>")
		for k := range 4 {
			line := sentences[(s.Seed*7+p*5+k*3)%len(sentences)]
			text.WriteString(line)
			text.WriteString("\r\n")
			html.WriteString(line)
			html.WriteString("<br>\r\n")
		}
		fmt.Fprintf(&text, "(ref %d-%d)\r\n\r\n", s.Seed, p)
		fmt.Fprintf(&html, "(ref %d-%d)</p>\r\n", s.Seed, p)
	}
	text.WriteString("Best regards,\r\n" + s.FromName + "\r\n")
	html.WriteString("<p>Best regards,<br>" + s.FromName + "</p></body></html>\r\n")
	var b strings.Builder
	fmt.Fprintf(&b, "Message-ID: <%s>\r\n", s.ID)
	if s.InReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\nReferences: <%s>\r\n", s.InReplyTo, s.InReplyTo)
	}
	fmt.Fprintf(&b, "From: %s <%s>\r\nTo: %s\r\n", s.FromName, s.From, s.To)
	if s.Cc != "" {
		fmt.Fprintf(&b, "Cc: %s\r\n", s.Cc)
	}
	fmt.Fprintf(&b, "Subject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\n", s.Subject, s.Date.UTC().Format(time.RFC1123Z))
	boundary := fmt.Sprintf("b-%d-%x", s.Seed, len(s.ID))
	fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", boundary, text.String())
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n", boundary, html.String())
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return []byte(b.String())
}

// MailboxScenarios runs each scenario runs times: the detail view of set's
// deal (ListItemThreads, first page of 50, which asks visibility once) as
// Viewer at concurrency 1 and 8 and IngestMessage at concurrency 8
// (distinct ~5 KB messages over 100 users, 1 in 4 starting a thread, the
// others replying), each beside the empty call on the mailbox connection at
// the same concurrency; BatchIngestMessages of 100 such messages at
// concurrency 1 and 4, in messages/s.
func MailboxScenarios(ctx context.Context, mb *grpc.ClientConn, set *MailboxSet, svc func(context.Context) context.Context,
	user func(ctx context.Context, id int64) context.Context, d time.Duration, runs int) []Result {
	mc := mailboxv1.NewMailboxServiceClient(mb)
	group := fmt.Sprintf("mailbox x%g", set.Scale)
	empty := emptyCalls(ctx, mb, group, d)
	viewer := user(ctx, set.Viewer)
	req := &mailboxv1.ListItemThreadsRequest{Item: &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_DEAL, Id: set.Deal}, PageSize: dealThreads}
	var out []Result
	for _, n := range []int{1, 8} {
		e, r := Paired(runs, empty(n), func() Result {
			return Run(ctx, group, "detail view: ListItemThreads, deal with 50 threads", n, 1, d, func(ctx context.Context, w, i int) error {
				resp, err := mc.ListItemThreads(viewer, req)
				if err == nil && len(resp.Threads) != dealThreads {
					err = fmt.Errorf("detail view: %d threads, want %d", len(resp.Threads), dealThreads)
				}
				return err
			})
		})
		out = append(out, e, r)
	}

	// Ingest: worker w writes for users w+1, w+1+conc, ... (of the first
	// 100), so that each user's conversation is written in order by one
	// goroutine; msg numbers them per user across runs and scenarios.
	const ingestUsers = 100
	sctx := svc(ctx)
	var seq [ingestUsers + 1]atomic.Int64
	tag := time.Now().UnixNano()
	start := time.Now().Add(-time.Hour)
	msg := func(u, n int) []byte {
		spec := messageSpec{ID: fmt.Sprintf("load-%d-u%d-m%d@customer.test", tag, u, n),
			FromName: fmt.Sprintf("Customer %d", n/4), From: fmt.Sprintf("c%d-%d@customer.test", u, n/4),
			To: fmt.Sprintf("user%d@acme.test", u), Cc: "colleague@acme.test",
			Subject: fmt.Sprintf("Re: Proposal %d-%d", u, n/4), Date: start.Add(time.Duration(n) * time.Second), Seed: n}
		if n%4 != 0 {
			spec.InReplyTo = fmt.Sprintf("load-%d-u%d-m%d@customer.test", tag, u, n-1)
		}
		return realisticMessage(spec)
	}
	userOf := func(conc, w, i int) int {
		mine := (ingestUsers - w + conc - 1) / conc // users u with (u-1) % conc == w
		return 1 + w + conc*(i%mine)
	}
	const conc = 8
	e, r := Paired(runs, empty(conc), func() Result {
		return Run(ctx, group, "IngestMessage (~5 KB, 100 users)", conc, 1, d, func(ctx context.Context, w, i int) error {
			u := userOf(conc, w, i)
			n := int(seq[u].Add(1) - 1)
			_, err := mc.IngestMessage(sctx, &mailboxv1.IngestMessageRequest{UserId: int64(u), Folder: "INBOX", Raw: msg(u, n)})
			return err
		})
	})
	out = append(out, e, r)

	// BatchIngestMessages: 100 messages of one user per call.
	const batch = 100
	batchName := fmt.Sprintf("BatchIngestMessages (%d x ~5 KB)", batch)
	ingestBatch := func(ctx context.Context, u int) error {
		n := int(seq[u].Add(batch) - batch)
		req := &mailboxv1.BatchIngestMessagesRequest{UserId: int64(u), Messages: make([]*mailboxv1.IngestMessageRequest, batch)}
		for k := range batch {
			req.Messages[k] = &mailboxv1.IngestMessageRequest{Folder: "INBOX", Raw: msg(u, n+k)}
		}
		resp, err := mc.BatchIngestMessages(sctx, req)
		if err == nil && len(resp.Results) != batch {
			err = fmt.Errorf("BatchIngestMessages: %d results, want %d", len(resp.Results), batch)
		}
		return err
	}
	for _, n := range []int{1, 4} {
		// Like BatchCheckAccess, not beside the empty call: what compares
		// is messages/s, with IngestMessage's above.
		out = append(out, Repeat(runs, func() Result {
			return Run(ctx, group, batchName, n, batch, d, func(ctx context.Context, w, i int) error {
				return ingestBatch(ctx, userOf(n, w, i))
			})
		}))
	}
	return out
}
