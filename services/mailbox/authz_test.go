package mailbox_test

// TestAuthzMatrix_Mailbox calls every RPC of the mailbox service as every
// kind of caller and checks the status code (and ErrorInfo reason) of each
// cell against the table below. The rows are checked against the service
// descriptor at run time: an RPC without a row fails the test.
//
// Reading the table: each row names its access class, the class gives the
// expected answer per caller, and a row's except map overrides single
// cells. The three unauthenticated columns are the same for every row.
//
// The mailbox has no admins of its own: M1 makes every inbox private to its
// user, admins included. Admin rights reach the mailbox only through
// visibility (M2: an admin who sees a deal sees the threads shared on it);
// here the in-process visibility table answers as visibility would by V6.

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/pkg/servicetest/authz"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

var (
	mUserRequired    = mr(mailboxv1.ErrorReason_ERROR_REASON_USER_PRINCIPAL_REQUIRED)
	mServiceRequired = mr(mailboxv1.ErrorReason_ERROR_REASON_SERVICE_PRINCIPAL_REQUIRED)
	mThreadNotFound  = mr(mailboxv1.ErrorReason_ERROR_REASON_THREAD_NOT_FOUND)
	mMessageNotFound = mr(mailboxv1.ErrorReason_ERROR_REASON_MESSAGE_NOT_FOUND)
	mAccountNotFound = mr(mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NOT_FOUND)
	mItemNotFound    = mr(mailboxv1.ErrorReason_ERROR_REASON_ITEM_NOT_FOUND)
	mNotParticipant  = mr(mailboxv1.ErrorReason_ERROR_REASON_NOT_A_PARTICIPANT)
	commonDenied     = commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED.String()

	// M1: a user's mail is the user's own; anyone else, admins included,
	// gets NOT_FOUND for its ids. Services have no mailbox.
	mcOwn = authz.NewClass("the caller's own mail (M1): its owner only, admins included",
		authz.OK, authz.NFRow, authz.NFRow, authz.NFRow, authz.NFRow, authz.NFRow, authz.Denied(mUserRequired), authz.Denied(mUserRequired))
	mcOwnNoID = authz.NewClass("the caller's own mailbox, no id: any user",
		authz.OK, authz.OK, authz.OK, authz.OK, authz.OK, authz.OK, authz.Denied(mUserRequired), authz.Denied(mUserRequired))
	// M2: the detail view of a deal: the owner's own threads, and shared
	// threads to whoever sees the deal (the app and the deal admin, V6).
	mcItemView = authz.NewClass("an item's detail view (M2): who sees the item",
		authz.OK, authz.NFRow, authz.OK, authz.OK, authz.NFRow, authz.NFRow, authz.Denied(mUserRequired), authz.Denied(mUserRequired))
	// Data the CRM and the sync workers feed in.
	mcServiceOnly = authz.NewClass("company data feed: service principals only",
		authz.Denied(mServiceRequired), authz.Denied(mServiceRequired), authz.Denied(mServiceRequired), authz.Denied(mServiceRequired),
		authz.Denied(mServiceRequired), authz.Denied(mServiceRequired), authz.OK, authz.OK)
)

// The fixture: company A, whose user uUser owns the mail, and company B.
// Names and subjects of A carry "alpha", B's "bravo", so that responses can
// be scanned for the other company's data; what a row re-sends from every
// column (and so creates in B) is neutral.
const (
	mcoA, mcoB = int64(101), int64(202)

	mUser, mSettings, mApp, mDeal, mGlobal = int64(11), int64(12), int64(13), int64(14), int64(15)
	mOtherAdmin                            = int64(21)

	mUserAddr  = "u11@example.test"
	mCustomer  = "carol@customer.test"
	mPerson    = int64(100)
	mDealA     = int64(1001)
	mDealB     = int64(2001)
	neutralRaw = "neutral"
)

type mFixture struct {
	e                            *env
	ctx                          [authz.NCols]context.Context
	svcA, svcB, owner            context.Context
	thShared, thPrivate, thLoose int64 // the owner's threads: shared on the deal, private on the deal, unlinked
	msgShared                    int64
	acct                         int64
	thB                          int64
	fresh                        atomic.Int64
}

// rawMessage is a small RFC 5322 message.
func rawMessage(id, from, to, subject string) []byte {
	return fmt.Appendf(nil, "Message-ID: <%s>\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAbout %s.\r\n", id, from, to, subject, subject)
}

func (f *mFixture) ingest(t testing.TB, ctx context.Context, user int64, raw []byte) *mailboxv1.IngestMessageResponse {
	t.Helper()
	return servicetest.Try(f.e.mb.IngestMessage(ctx, &mailboxv1.IngestMessageRequest{UserId: user, Folder: "INBOX", Raw: raw, Seen: true})).Must(t)
}

// neutralMessage is what the ingest rows send from every column.
func neutralMessage() []byte {
	return rawMessage("neutral@customer.test", mCustomer, mUserAddr, neutralRaw)
}

// accountAt is a mail account whose SMTP server is a closed local port:
// sending fails at once, after every authorization check.
func accountAt(email string) *mailboxv1.MailAccount {
	closed := &mailboxv1.ServerSettings{Host: "127.0.0.1", Port: 1, Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_NONE}
	return &mailboxv1.MailAccount{EmailAddress: email, DisplayName: "Owner", Imap: closed, Smtp: closed,
		AuthKind: mailboxv1.AuthKind_AUTH_KIND_PASSWORD}
}

func newMFixture(t *testing.T) *mFixture {
	e := start(t)
	f := &mFixture{e: e}
	in := e.Instance
	f.svcA, f.svcB = in.Service(t, mcoA), in.Service(t, mcoB)
	f.owner = in.User(t, mcoA, mUser)
	servicetest.Try(e.mb.SetUserAddresses(f.svcA, &mailboxv1.SetUserAddressesRequest{UserId: mUser, EmailAddresses: []string{mUserAddr}})).Must(t)
	servicetest.Try(e.mb.UpsertPerson(f.svcA, &mailboxv1.UpsertPersonRequest{PersonId: mPerson, Name: "Carol", Emails: []string{mCustomer}})).Must(t)
	servicetest.Try(e.mb.UpsertDeal(f.svcA, &mailboxv1.UpsertDealRequest{DealId: mDealA, Status: mailboxv1.DealStatus_DEAL_STATUS_OPEN, PersonIds: []int64{mPerson}})).Must(t)
	deal := func(id int64) visibilityclient.Item {
		return visibilityclient.Item{Type: visibilityclient.Deal, ID: id}
	}
	e.vis.Allow(mcoA, mUser, deal(mDealA))
	e.vis.AllowAll(mcoA, mApp)
	e.vis.Allow(mcoA, mDeal, deal(mDealA))
	e.vis.Allow(mcoA, mGlobal, visibilityclient.Item{Type: visibilityclient.Person, ID: mPerson})
	e.vis.Allow(mcoB, mOtherAdmin, deal(mDealB))

	r := f.ingest(t, f.svcA, mUser, rawMessage("shared@customer.test", mCustomer, mUserAddr, "alpha shared quote"))
	f.thShared, f.msgShared = r.GetThreadId(), r.GetMessageId()
	f.thPrivate = f.ingest(t, f.svcA, mUser, rawMessage("private@customer.test", mCustomer, mUserAddr, "alpha private note")).GetThreadId()
	f.thLoose = f.ingest(t, f.svcA, mUser, rawMessage("loose@customer.test", "dan@elsewhere.test", mUserAddr, "alpha loose end")).GetThreadId()
	f.ingest(t, f.svcA, mUser, neutralMessage())
	for _, th := range []int64{f.thShared, f.thPrivate} {
		servicetest.Try(e.mb.LinkThread(f.owner, &mailboxv1.LinkThreadRequest{ThreadId: th, Target: &mailboxv1.LinkThreadRequest_DealId{DealId: mDealA}})).Must(t)
	}
	servicetest.Try(e.mb.UnshareThreads(f.owner, &mailboxv1.UnshareThreadsRequest{ThreadIds: []int64{f.thPrivate, f.thLoose}})).Must(t)
	servicetest.Try(e.mb.ShareThreads(f.owner, &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{f.thShared}})).Must(t)
	f.acct = servicetest.Try(e.mb.CreateMailAccount(f.owner, &mailboxv1.CreateMailAccountRequest{MailAccount: accountAt(mUserAddr), Secret: "pw"})).Must(t).GetMailAccount().GetId()

	// Company B: one shared thread on its own deal.
	otherAdmin := in.User(t, mcoB, mOtherAdmin)
	servicetest.Try(e.mb.UpsertDeal(f.svcB, &mailboxv1.UpsertDealRequest{DealId: mDealB, Status: mailboxv1.DealStatus_DEAL_STATUS_OPEN})).Must(t)
	f.thB = f.ingest(t, f.svcB, mOtherAdmin, rawMessage("b@bravo.test", "zed@bravo.test", "admin@bravo.test", "bravo secret")).GetThreadId()
	servicetest.Try(e.mb.LinkThread(otherAdmin, &mailboxv1.LinkThreadRequest{ThreadId: f.thB, Target: &mailboxv1.LinkThreadRequest_DealId{DealId: mDealB}})).Must(t)
	servicetest.Try(e.mb.ShareThreads(otherAdmin, &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{f.thB}})).Must(t)

	f.ctx = authz.Contexts(t, in, mcoA, mcoB, mApp, map[authz.Col]int64{authz.User: mUser, authz.Settings: mSettings,
		authz.AppAdmin: mApp, authz.DealAdmin: mDeal, authz.GlobalAdmin: mGlobal}, mOtherAdmin)
	f.fresh.Store(500)
	return f
}

func (f *mFixture) next() int64 { return f.fresh.Add(1) }

type cell struct {
	t   testing.TB
	col authz.Col
}

type mrow struct {
	method string
	what   string
	class  *authz.Class
	nf     string
	req    func(c cell) proto.Message
	except map[authz.Col]authz.Want
}

func (r mrow) want(c authz.Col) authz.Want { return r.class.For(c, r.nf, r.except) }

func fieldMask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

func (f *mFixture) rows() []mrow {
	e := f.e
	dealRefA := &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_DEAL, Id: mDealA}
	freshThread := func(c cell) int64 {
		n := f.next()
		return f.ingest(c.t, f.svcA, mUser, rawMessage(fmt.Sprintf("fresh%d@customer.test", n), mCustomer, mUserAddr, "alpha fresh")).GetThreadId()
	}
	return []mrow{
		// Settings and accounts: the caller's own.
		{method: "GetMailSettings", class: mcOwnNoID, req: func(cell) proto.Message { return &mailboxv1.GetMailSettingsRequest{} }},
		{method: "UpdateMailSettings", class: mcOwnNoID, req: func(cell) proto.Message {
			return &mailboxv1.UpdateMailSettingsRequest{Settings: &mailboxv1.MailSettings{TwoWaySync: false}, UpdateMask: fieldMask("two_way_sync")}
		}},
		{method: "CreateMailAccount", class: mcOwnNoID, req: func(cell) proto.Message {
			return &mailboxv1.CreateMailAccountRequest{MailAccount: accountAt(fmt.Sprintf("new%d@example.test", f.next()))}
		}},
		{method: "GetMailAccount", class: mcOwn, nf: mAccountNotFound,
			req: func(cell) proto.Message { return &mailboxv1.GetMailAccountRequest{MailAccountId: f.acct} }},
		{method: "ListMailAccounts", class: mcOwnNoID, req: func(cell) proto.Message { return &mailboxv1.ListMailAccountsRequest{} }},
		{method: "UpdateMailAccount", class: mcOwn, nf: mAccountNotFound, req: func(cell) proto.Message {
			return &mailboxv1.UpdateMailAccountRequest{MailAccount: &mailboxv1.MailAccount{Id: f.acct, DisplayName: "Owner"},
				UpdateMask: fieldMask("display_name")}
		}},
		{method: "DeleteMailAccount", class: mcOwn, nf: mAccountNotFound, req: func(c cell) proto.Message {
			a := servicetest.Try(e.mb.CreateMailAccount(f.owner, &mailboxv1.CreateMailAccountRequest{
				MailAccount: accountAt(fmt.Sprintf("gone%d@example.test", f.next()))})).Must(c.t)
			return &mailboxv1.DeleteMailAccountRequest{MailAccountId: a.GetMailAccount().GetId()}
		}},
		// Addresses.
		{method: "SetUserAddresses", class: mcServiceOnly, req: func(cell) proto.Message {
			return &mailboxv1.SetUserAddressesRequest{UserId: mUser, EmailAddresses: []string{mUserAddr}}
		}},
		// A user lists its own addresses, a service any user's of its company
		// (another company's service: that company's user mUser, who has none).
		{method: "ListUserAddresses", what: "of a named user", class: authz.NewClass("a user's addresses: the user itself or a service",
			authz.OK, authz.Denied(commonDenied), authz.Denied(commonDenied), authz.Denied(commonDenied), authz.Denied(commonDenied), authz.Denied(commonDenied), authz.OK, authz.OK),
			req: func(cell) proto.Message { return &mailboxv1.ListUserAddressesRequest{UserId: mUser} }},
		{method: "GetSmartBccAddress", class: mcOwnNoID, req: func(cell) proto.Message { return &mailboxv1.GetSmartBccAddressRequest{} }},
		// The contact index.
		{method: "UpsertPerson", class: mcServiceOnly, req: func(cell) proto.Message {
			return &mailboxv1.UpsertPersonRequest{PersonId: mPerson, Name: "Carol", Emails: []string{mCustomer}}
		}},
		{method: "DeletePerson", class: mcServiceOnly, req: func(c cell) proto.Message {
			id := f.next()
			servicetest.Try(e.mb.UpsertPerson(f.svcA, &mailboxv1.UpsertPersonRequest{PersonId: id, Name: "Temp"})).Must(c.t)
			return &mailboxv1.DeletePersonRequest{PersonId: id}
		}},
		{method: "UpsertDeal", class: mcServiceOnly, req: func(cell) proto.Message {
			return &mailboxv1.UpsertDealRequest{DealId: mDealA, Status: mailboxv1.DealStatus_DEAL_STATUS_OPEN, PersonIds: []int64{mPerson}}
		}},
		{method: "DeleteDeal", class: mcServiceOnly, req: func(c cell) proto.Message {
			id := f.next()
			servicetest.Try(e.mb.UpsertDeal(f.svcA, &mailboxv1.UpsertDealRequest{DealId: id, Status: mailboxv1.DealStatus_DEAL_STATUS_OPEN})).Must(c.t)
			return &mailboxv1.DeleteDealRequest{DealId: id}
		}},
		{method: "BatchUpsertPersons", class: mcServiceOnly, req: func(cell) proto.Message {
			return &mailboxv1.BatchUpsertPersonsRequest{Requests: []*mailboxv1.UpsertPersonRequest{
				{PersonId: mPerson, Name: "Carol", Emails: []string{mCustomer}}}}
		}},
		{method: "BatchUpsertDeals", class: mcServiceOnly, req: func(cell) proto.Message {
			return &mailboxv1.BatchUpsertDealsRequest{Requests: []*mailboxv1.UpsertDealRequest{
				{DealId: mDealA, Status: mailboxv1.DealStatus_DEAL_STATUS_OPEN, PersonIds: []int64{mPerson}}}}
		}},
		// Threads and messages: the owner's own (M1, M3, M6, M7).
		{method: "ListThreads", class: mcOwnNoID, req: func(cell) proto.Message {
			return &mailboxv1.ListThreadsRequest{Folder: mailboxv1.Folder_FOLDER_INBOX}
		}},
		{method: "GetThread", what: "shared", class: mcOwn, nf: mThreadNotFound,
			req: func(cell) proto.Message { return &mailboxv1.GetThreadRequest{ThreadId: f.thShared} }},
		{method: "ListThreadMessages", class: mcOwn, nf: mThreadNotFound,
			req: func(cell) proto.Message { return &mailboxv1.ListThreadMessagesRequest{ThreadId: f.thShared} }},
		{method: "GetMessage", class: mcOwn, nf: mMessageNotFound,
			req: func(cell) proto.Message { return &mailboxv1.GetMessageRequest{MessageId: f.msgShared} }},
		{method: "UpdateThread", class: mcOwn, nf: mThreadNotFound, req: func(cell) proto.Message {
			return &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: f.thShared, Read: true}, UpdateMask: fieldMask("read")}
		}},
		{method: "ShareThreads", class: mcOwn, nf: mThreadNotFound,
			req: func(cell) proto.Message { return &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{f.thShared}} }},
		{method: "UnshareThreads", class: mcOwn, nf: mThreadNotFound,
			req: func(cell) proto.Message { return &mailboxv1.UnshareThreadsRequest{ThreadIds: []int64{f.thLoose}} }},
		{method: "LinkThread", class: mcOwn, nf: mThreadNotFound, req: func(cell) proto.Message {
			return &mailboxv1.LinkThreadRequest{ThreadId: f.thShared, Target: &mailboxv1.LinkThreadRequest_DealId{DealId: mDealA}}
		}},
		{method: "UnlinkThread", class: mcOwn, nf: mThreadNotFound,
			req: func(cell) proto.Message { return &mailboxv1.UnlinkThreadRequest{ThreadId: f.thLoose} }},
		{method: "DeleteThread", class: mcOwn, nf: mThreadNotFound,
			req: func(c cell) proto.Message { return &mailboxv1.DeleteThreadRequest{ThreadId: freshThread(c)} }},
		// The detail view of a deal (M2).
		{method: "ListItemThreads", class: mcItemView, nf: mItemNotFound,
			req: func(cell) proto.Message { return &mailboxv1.ListItemThreadsRequest{Item: dealRefA} }},
		{method: "GetItemThread", what: "shared", class: mcItemView, nf: mThreadNotFound, req: func(cell) proto.Message {
			return &mailboxv1.GetItemThreadRequest{Item: dealRefA, ThreadId: f.thShared}
		}},
		{method: "GetItemThread", what: "private", class: mcOwn, nf: mThreadNotFound, req: func(cell) proto.Message {
			return &mailboxv1.GetItemThreadRequest{Item: dealRefA, ThreadId: f.thPrivate}
		}},
		// A thread linked to no deal is on no deal's detail view: NOT_FOUND
		// for everyone, its owner included (M2). (The service answers
		// INTERNAL here: the store scans "t.deal_id = $3", NULL for an
		// unlinked thread, into a bool.)
		{method: "GetItemThread", what: "unlinked", class: authz.NewClass("a thread that is not on the item: nobody",
			authz.NFRow, authz.NFRow, authz.NFRow, authz.NFRow, authz.NFRow, authz.NFRow, authz.Denied(mUserRequired), authz.Denied(mUserRequired)),
			nf: mThreadNotFound, req: func(cell) proto.Message {
				return &mailboxv1.GetItemThreadRequest{Item: dealRefA, ThreadId: f.thLoose}
			}},
		// M5: the answer (ALLOWED, NOT_VISIBLE, NOT_A_PARTICIPANT) is in the response.
		{method: "CheckReplyPermission", class: mcOwnNoID,
			req: func(cell) proto.Message { return &mailboxv1.CheckReplyPermissionRequest{ThreadId: f.thShared} }},
		// The owner passes every check and fails at its SMTP server, a closed
		// port. The admins who read the shared thread, on the deal or (the
		// global admin) on its participant's person, may not reply to it (M5:
		// they take no part in it).
		{method: "SendThreadMessage", class: mcItemView, nf: mThreadNotFound, req: func(cell) proto.Message {
			return &mailboxv1.SendThreadMessageRequest{ThreadId: f.thShared, Mode: mailboxv1.SendMode_SEND_MODE_REPLY, BodyText: "Thanks"}
		}, except: map[authz.Col]authz.Want{
			authz.User:        {Code: codes.Unavailable, Reason: mr(mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED)},
			authz.AppAdmin:    authz.Denied(mNotParticipant),
			authz.DealAdmin:   authz.Denied(mNotParticipant),
			authz.GlobalAdmin: authz.Denied(mNotParticipant),
		}},
		// Intake: the sync workers and Smart Bcc (the same message again: a duplicate).
		{method: "IngestMessage", class: mcServiceOnly, req: func(cell) proto.Message {
			return &mailboxv1.IngestMessageRequest{UserId: mUser, Folder: "INBOX", Raw: neutralMessage(), Seen: true}
		}},
		{method: "BatchIngestMessages", class: mcServiceOnly, req: func(cell) proto.Message {
			return &mailboxv1.BatchIngestMessagesRequest{UserId: mUser, Messages: []*mailboxv1.IngestMessageRequest{
				{Folder: "INBOX", Raw: neutralMessage(), Seen: true}}}
		}},
	}
}

// fingerprint renders the fixture as its owners read it, without times.
func (f *mFixture) fingerprint(t testing.TB) string {
	t.Helper()
	mb := f.e.mb
	var b strings.Builder
	add := func(m proto.Message, err error) {
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(render(m) + "\n")
	}
	for _, th := range []int64{f.thShared, f.thPrivate, f.thLoose} {
		add(mb.GetThread(f.owner, &mailboxv1.GetThreadRequest{ThreadId: th}))
	}
	add(mb.ListThreadMessages(f.owner, &mailboxv1.ListThreadMessagesRequest{ThreadId: f.thShared}))
	add(mb.GetMailAccount(f.owner, &mailboxv1.GetMailAccountRequest{MailAccountId: f.acct}))
	add(mb.GetMailSettings(f.owner, &mailboxv1.GetMailSettingsRequest{}))
	add(mb.GetThread(f.e.User(t, mcoB, mOtherAdmin), &mailboxv1.GetThreadRequest{ThreadId: f.thB}))
	return b.String()
}

var volatile = map[protoreflect.Name]bool{"create_time": true, "update_time": true, "sync_status": true}

func render(m proto.Message) string {
	if m == nil {
		return "<nil>"
	}
	m = proto.Clone(m)
	scrub(m.ProtoReflect())
	return protojson.MarshalOptions{}.Format(m)
}

func scrub(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case volatile[fd.Name()]:
			m.Clear(fd)
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				scrub(v.List().Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			scrub(v.Message())
		}
		return true
	})
}

func TestAuthzMatrix_Mailbox(t *testing.T) {
	f := newMFixture(t)
	var rows []authz.Row
	for _, r := range f.rows() {
		rows = append(rows, authz.Row{Method: r.method, What: r.what, Want: r.want,
			Request: func(t testing.TB, c authz.Col) proto.Message { return r.req(cell{t: t, col: c}) }})
	}
	authz.Run(t, mailboxv1.File_sightline_mailbox_v1_mailbox_service_proto.Services().ByName("MailboxService"),
		f.e.Conn, f.ctx, rows, "alpha", "bravo", f.fingerprint)
}
