package mailbox_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sightline/sightline/pkg/apierr"
	"github.com/sightline/sightline/pkg/cli"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/pg"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/mailbox"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
	"github.com/sightline/sightline/services/mailbox/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// migrated is a database template with the mailbox schema applied once.
var migrated = pgtest.WithMigrated(pgtest.Schema{Name: "mailbox", Migrations: migrations.FS})

// The company and users of the rule tests.
const (
	company = int64(1)
	owner   = int64(1) // alice@acme.test: owns the threads
	bob     = int64(2) // bob@acme.test: a colleague
	admin   = int64(3) // an app admin in visibility
	other   = int64(4) // a colleague who sees nothing

	alice    = "alice@acme.test"
	bobAddr  = "bob@acme.test"
	carol    = "carol@customer.test" // a customer, person 100
	dave     = "dave@customer.test"  // another customer, person 101
	customer = "Carol Customer <carol@customer.test>"
)

// Short names.
var (
	inbox   = mailboxv1.Folder_FOLDER_INBOX
	sent    = mailboxv1.Folder_FOLDER_SENT
	archive = mailboxv1.Folder_FOLDER_ARCHIVE
)

func dealRef(id int64) *mailboxv1.ItemRef {
	return &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_DEAL, Id: id}
}
func leadRef(id int64) *mailboxv1.ItemRef {
	return &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_LEAD, Id: id}
}
func personRef(id int64) *mailboxv1.ItemRef {
	return &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_PERSON, Id: id}
}
func orgRef(id int64) *mailboxv1.ItemRef {
	return &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_ORGANIZATION, Id: id}
}

func visItem(r *mailboxv1.ItemRef) visibilityclient.Item {
	return visibilityclient.Item{Type: visibilityclient.ItemType(r.GetType()), ID: r.GetId()}
}

// newSecretKeys returns a --secret-keys value with one fresh key.
func newSecretKeys(t testing.TB) string {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return "test1=" + base64.StdEncoding.EncodeToString(k)
}

// env is one mailbox service on a fresh database, with an in-process
// visibility table.
type env struct {
	*servicetest.Instance
	mb         mailboxv1.MailboxServiceClient
	vis        *visibilityclient.Table
	pool       *pgxpool.Pool
	secretKeys string
	smtpAddr   string // the Smart Bcc listener's, with --smtp-addr (give 127.0.0.1:0)
}

func start(t *testing.T, extraArgs ...string) *env { return startB(t, extraArgs...) }

func startB(t testing.TB, extraArgs ...string) *env {
	t.Helper()
	url := pgtest.New(t, migrated)
	table := visibilityclient.NewTable()
	keys := newSecretKeys(t)
	args := append([]string{"--secret-keys", keys}, extraArgs...)
	smtpAddr := make(chan string, 1) // sent during Start, before the service serves
	svc := mailbox.ServiceForTests(table, func(addr string) { smtpAddr <- addr })
	in := servicetest.Start(t, svc, servicetest.Options{DatabaseURL: url, Args: args})
	pool := openPool(t, url, 4)
	e := &env{Instance: in, mb: mailboxv1.NewMailboxServiceClient(in.Conn), vis: table, pool: pool, secretKeys: keys}
	select {
	case e.smtpAddr = <-smtpAddr:
	default: // no --smtp-addr
	}
	// The owner's and bob's addresses (M5, direction).
	e.setAddresses(t, owner, alice)
	e.setAddresses(t, bob, bobAddr)
	return e
}

// openPool opens a pool of conns connections to the mailbox schema at url,
// closed when the test ends.
func openPool(t testing.TB, url string, conns int32) *pgxpool.Pool {
	t.Helper()
	pool, err := pg.Open(context.Background(), url, "mailbox", conns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// queryer is a pool or a transaction.
type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// scalar runs a query of one integer; a failure fails the test.
func scalar(t testing.TB, q queryer, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := q.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// seedVisibility writes the company into a real visibility: the owner and
// bob as active users, and deal 10 visible to the entire company.
func seedVisibility(t testing.TB, vc visibilityv1.VisibilityServiceClient, svc context.Context) {
	t.Helper()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(vc.CreateCompany(svc, &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ENTERPRISE}))
	for _, u := range []int64{owner, bob} {
		must(vc.UpsertUser(svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: u, Name: "u", Active: true}}))
	}
	must(vc.UpsertItem(svc, &visibilityv1.UpsertItemRequest{ActingUserId: owner, Item: &visibilityv1.Item{
		Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: 10, VisibleTo: visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY}}))
}

func (e *env) u(t testing.TB, user int64) context.Context { return e.User(t, company, user) }
func (e *env) svc(t testing.TB) context.Context           { return e.Service(t, company) }

func (e *env) setAddresses(t testing.TB, user int64, emails ...string) {
	t.Helper()
	if _, err := e.mb.SetUserAddresses(e.svc(t), &mailboxv1.SetUserAddressesRequest{UserId: user, EmailAddresses: emails}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) person(t testing.TB, id, org int64, emails ...string) {
	t.Helper()
	if _, err := e.mb.UpsertPerson(e.svc(t), &mailboxv1.UpsertPersonRequest{PersonId: id, OrganizationId: org,
		Name: fmt.Sprintf("Person %d", id), Emails: emails}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) deal(t testing.TB, id int64, st mailboxv1.DealStatus, persons ...int64) {
	t.Helper()
	if _, err := e.mb.UpsertDeal(e.svc(t), &mailboxv1.UpsertDealRequest{DealId: id, Status: st, PersonIds: persons}); err != nil {
		t.Fatal(err)
	}
}

// mail is a test message.
type mail struct {
	ID, From, To, Cc, Bcc, Subject, Date, InReplyTo, References, Body string
}

func (m mail) raw() []byte {
	var b strings.Builder
	h := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	if m.ID != "" {
		h("Message-ID", "<"+m.ID+">")
	}
	h("From", m.From)
	h("To", m.To)
	h("Cc", m.Cc)
	h("Bcc", m.Bcc)
	h("Subject", m.Subject)
	date := m.Date
	if date == "" {
		date = "Mon, 02 Mar 2026 10:00:00 +0000"
	}
	h("Date", date)
	h("In-Reply-To", m.InReplyTo)
	h("References", m.References)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	body := m.Body
	if body == "" {
		body = "Hello, this is " + m.Subject + "."
	}
	b.WriteString(body + "\r\n")
	return []byte(b.String())
}

// ingest stores a message for a user and returns the result.
func (e *env) ingest(t testing.TB, user int64, m mail, opts ...func(*mailboxv1.IngestMessageRequest)) *mailboxv1.IngestMessageResponse {
	t.Helper()
	req := &mailboxv1.IngestMessageRequest{UserId: user, Folder: "INBOX", Raw: m.raw()}
	for _, o := range opts {
		o(req)
	}
	resp, err := e.mb.IngestMessage(e.svc(t), req)
	if err != nil {
		t.Fatalf("ingest %q: %v", m.Subject, err)
	}
	return resp
}

// inbound is a message from carol to alice.
func inbound(id, subject string) mail {
	return mail{ID: id, From: customer, To: "Alice <" + alice + ">", Subject: subject}
}

func (e *env) thread(t testing.TB, user, id int64) *mailboxv1.Thread {
	t.Helper()
	r, err := e.mb.GetThread(e.u(t, user), &mailboxv1.GetThreadRequest{ThreadId: id})
	if err != nil {
		t.Fatalf("GetThread %d as %d: %v", id, user, err)
	}
	return r.GetThread()
}

func (e *env) share(t testing.TB, ids ...int64) {
	t.Helper()
	if _, err := e.mb.ShareThreads(e.u(t, owner), &mailboxv1.ShareThreadsRequest{ThreadIds: ids}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) link(t testing.TB, thread, deal int64) {
	t.Helper()
	e.vis.Allow(company, owner, visibilityclient.Item{Type: visibilityclient.Deal, ID: deal})
	if _, err := e.mb.LinkThread(e.u(t, owner), &mailboxv1.LinkThreadRequest{ThreadId: thread,
		Target: &mailboxv1.LinkThreadRequest_DealId{DealId: deal}}); err != nil {
		t.Fatal(err)
	}
}

// folderIDs lists the thread ids of a user's folder.
func folderIDs(t testing.TB, c mailboxv1.MailboxServiceClient, ctx context.Context, f mailboxv1.Folder) []int64 {
	t.Helper()
	r, err := c.ListThreads(ctx, &mailboxv1.ListThreadsRequest{Folder: f, PageSize: 500})
	if err != nil {
		t.Fatalf("ListThreads %v: %v", f, err)
	}
	return ids(r.GetThreads())
}

func ids(ts []*mailboxv1.Thread) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.GetId()
	}
	return out
}

// itemView returns the thread ids a user sees on an item's detail view, or
// the error code (NOT_FOUND, UNAVAILABLE, ...).
func itemView(t testing.TB, c mailboxv1.MailboxServiceClient, ctx context.Context, item *mailboxv1.ItemRef) ([]int64, codes.Code) {
	t.Helper()
	r, err := c.ListItemThreads(ctx, &mailboxv1.ListItemThreadsRequest{Item: item, PageSize: 500})
	if err != nil {
		return nil, status.Code(err)
	}
	return ids(r.GetThreads()), codes.OK
}

// seesOnItem reports whether a user sees the thread on the item's detail view,
// both in the list and with GetItemThread.
func seesOnItem(t testing.TB, c mailboxv1.MailboxServiceClient, ctx context.Context, item *mailboxv1.ItemRef, thread int64) bool {
	t.Helper()
	list, code := itemView(t, c, ctx, item)
	if code != codes.OK && code != codes.NotFound {
		t.Fatalf("ListItemThreads: %v", code)
	}
	inList := slices.Contains(list, thread)
	_, err := c.GetItemThread(ctx, &mailboxv1.GetItemThreadRequest{Item: item, ThreadId: thread})
	code = status.Code(err)
	if code != codes.OK && code != codes.NotFound {
		t.Fatalf("GetItemThread: %v", err)
	}
	if inList != (code == codes.OK) {
		t.Fatalf("ListItemThreads says %v but GetItemThread says %v", inList, code)
	}
	return inList
}

// wantCode fails unless err has the code and, when reason is set, the ErrorInfo reason.
func wantCode(t testing.TB, err error, code codes.Code, reason string) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Fatalf("code %v, want %v (%v)", got, code, err)
	}
	if reason != "" {
		if got := apierr.Reason(err); got != reason {
			t.Fatalf("reason %q, want %q (%v)", got, reason, err)
		}
	}
}

func mr(r mailboxv1.ErrorReason) string { return r.String() }

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

// snapshot is a digest of every mailbox table, to check that a failed call changed nothing.
func (e *env) snapshot(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"mail_settings", "mail_accounts", "user_addresses", "persons", "person_emails",
		"deals", "deal_persons", "threads", "messages", "message_refs", "thread_participants"} {
		var n int64
		var digest string
		err := e.pool.QueryRow(context.Background(), `SELECT count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '')
			FROM `+table+` x`).Scan(&n, &digest)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%d:%s\n", table, n, digest)
	}
	return b.String()
}

func cliRun(ctx context.Context, svc cli.Service, args []string, stderr *bytes.Buffer) error {
	return cli.Run(ctx, svc, args, &bytes.Buffer{}, stderr)
}
