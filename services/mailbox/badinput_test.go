package mailbox_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

func TestBadInput_ClearCodesAndNothingChanged(t *testing.T) {
	e := start(t)
	e.person(t, 100, 0, carol)
	e.deal(t, 10, mailboxv1.DealStatus_DEAL_STATUS_OPEN, 100)
	mine := e.ingest(t, owner, inbound("mine@x", "Mine")) // auto-linked to deal 10
	bobs := e.ingest(t, bob, mail{ID: "bobs@x", From: carol, To: bobAddr, Subject: "Bob's"})
	// Company 2 has a thread of its own, with a shared link to a deal 10 of its own.
	c2 := e.Service(t, 2)
	foreign, err := e.mb.IngestMessage(c2, &mailboxv1.IngestMessageRequest{UserId: owner, Raw: inbound("c2@x", "Other company").raw()})
	if err != nil {
		t.Fatal(err)
	}
	e.vis.AllowAll(company, owner)
	e.vis.Allow(company, bob, visibilityclient.Item{Type: visibilityclient.Deal, ID: 10})

	me := e.u(t, owner)
	svc := e.svc(t)
	var (
		invalidArg     = commonv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT.String()
		pageToken      = commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN.String()
		userRequired   = mr(mailboxv1.ErrorReason_ERROR_REASON_USER_PRINCIPAL_REQUIRED)
		svcRequired    = mr(mailboxv1.ErrorReason_ERROR_REASON_SERVICE_PRINCIPAL_REQUIRED)
		malformed      = mr(mailboxv1.ErrorReason_ERROR_REASON_MALFORMED_MESSAGE)
		tooLarge       = mr(mailboxv1.ErrorReason_ERROR_REASON_MESSAGE_TOO_LARGE)
		accountMissing = mr(mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NOT_FOUND)
	)
	rawIngest := func(raw []byte) func() error {
		return func() error {
			_, err := e.mb.IngestMessage(svc, &mailboxv1.IngestMessageRequest{UserId: owner, Raw: raw})
			return err
		}
	}
	deep := []byte("Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := range 30 {
		deep = append(deep, []byte("--b"+strconv.Itoa(i)+"\r\nContent-Type: multipart/mixed; boundary=b"+strconv.Itoa(i+1)+"\r\n\r\n")...)
	}
	tests := []struct {
		name   string
		call   func() error
		code   codes.Code
		reason string
	}{
		{"unknown thread", func() error {
			_, err := e.mb.GetThread(me, &mailboxv1.GetThreadRequest{ThreadId: 424242})
			return err
		}, codes.NotFound, errThreadNotFound},
		{"another company's thread", func() error {
			_, err := e.mb.GetThread(me, &mailboxv1.GetThreadRequest{ThreadId: foreign.ThreadId})
			return err
		}, codes.NotFound, errThreadNotFound},
		{"another company's thread on an item view", func() error {
			_, err := e.mb.GetItemThread(me, &mailboxv1.GetItemThreadRequest{Item: dealRef(10), ThreadId: foreign.ThreadId})
			return err
		}, codes.NotFound, errThreadNotFound},
		{"another company's thread: update", func() error {
			_, err := e.mb.UpdateThread(me, &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: foreign.ThreadId, Archived: true}, UpdateMask: mask("archived")})
			return err
		}, codes.NotFound, errThreadNotFound},
		{"another company's thread: delete", func() error {
			_, err := e.mb.DeleteThread(me, &mailboxv1.DeleteThreadRequest{ThreadId: foreign.ThreadId})
			return err
		}, codes.NotFound, errThreadNotFound},
		{"unknown item", func() error {
			_, err := e.mb.ListItemThreads(e.u(t, bob), &mailboxv1.ListItemThreadsRequest{Item: dealRef(31337)})
			return err
		}, codes.NotFound, errItemNotFound},
		{"item of unspecified type", func() error {
			_, err := e.mb.ListItemThreads(me, &mailboxv1.ListItemThreadsRequest{Item: &mailboxv1.ItemRef{Id: 10}})
			return err
		}, codes.InvalidArgument, invalidArg},
		{"linking a second deal", func() error {
			_, err := e.mb.LinkThread(me, &mailboxv1.LinkThreadRequest{ThreadId: mine.ThreadId, Target: &mailboxv1.LinkThreadRequest_DealId{DealId: 11}})
			return err
		}, codes.FailedPrecondition, errAlreadyLinked},
		{"linking another user's thread", func() error {
			_, err := e.mb.LinkThread(me, &mailboxv1.LinkThreadRequest{ThreadId: bobs.ThreadId, Target: &mailboxv1.LinkThreadRequest_DealId{DealId: 10}})
			return err
		}, codes.NotFound, errThreadNotFound},
		{"non-owner sharing", func() error {
			_, err := e.mb.ShareThreads(e.u(t, bob), &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{mine.ThreadId}})
			return err
		}, codes.NotFound, errThreadNotFound},
		{"bulk share with a foreign id", func() error {
			_, err := e.mb.ShareThreads(me, &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{mine.ThreadId, foreign.ThreadId}})
			return err
		}, codes.NotFound, errThreadNotFound},
		{"update without a mask", func() error {
			_, err := e.mb.UpdateThread(me, &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: mine.ThreadId}})
			return err
		}, codes.InvalidArgument, invalidArg},
		{"update with an unknown path", func() error {
			_, err := e.mb.UpdateThread(me, &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: mine.ThreadId}, UpdateMask: mask("deal_id")})
			return err
		}, codes.InvalidArgument, invalidArg},
		{"list without a folder", func() error {
			_, err := e.mb.ListThreads(me, &mailboxv1.ListThreadsRequest{})
			return err
		}, codes.InvalidArgument, invalidArg},
		{"a page token of another folder", func() error {
			r, err := e.mb.ListThreads(me, &mailboxv1.ListThreadsRequest{Folder: inbox, PageSize: 1})
			if err != nil {
				return err
			}
			e.ingest(t, owner, inbound("x2@x", "Second")) // (the snapshot below is taken per case: re-taken)
			_, err = e.mb.ListThreads(me, &mailboxv1.ListThreadsRequest{Folder: sent, PageToken: r.NextPageToken + "x"})
			return err
		}, codes.InvalidArgument, pageToken},
		{"a service calling a user method", func() error {
			_, err := e.mb.ListThreads(svc, &mailboxv1.ListThreadsRequest{Folder: inbox})
			return err
		}, codes.PermissionDenied, userRequired},
		{"a user calling ingest", func() error {
			_, err := e.mb.IngestMessage(me, &mailboxv1.IngestMessageRequest{UserId: owner, Raw: inbound("u@x", "U").raw()})
			return err
		}, codes.PermissionDenied, svcRequired},
		{"a user feeding the contact index", func() error {
			_, err := e.mb.UpsertPerson(me, &mailboxv1.UpsertPersonRequest{PersonId: 5, Emails: []string{"x@y.test"}})
			return err
		}, codes.PermissionDenied, svcRequired},
		{"a user listing another user's addresses", func() error {
			_, err := e.mb.ListUserAddresses(me, &mailboxv1.ListUserAddressesRequest{UserId: bob})
			return err
		}, codes.PermissionDenied, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED.String()},
		{"ingest: empty raw", rawIngest(nil), codes.InvalidArgument, malformed},
		{"ingest: whitespace", rawIngest([]byte("  \r\n\r\n ")), codes.InvalidArgument, malformed},
		{"ingest: not a message", rawIngest([]byte("\x00\x01\x02 garbage without any header")), codes.InvalidArgument, malformed},
		{"ingest: too deeply nested", rawIngest(deep), codes.InvalidArgument, malformed},
		{"ingest: over 25 MiB", rawIngest(append(inbound("big@x", "Big").raw(), bytes.Repeat([]byte("a"), 25<<20)...)), codes.InvalidArgument, tooLarge},
		{"ingest: unknown account", func() error {
			_, err := e.mb.IngestMessage(svc, &mailboxv1.IngestMessageRequest{UserId: owner, AccountId: 99, Raw: inbound("acc@x", "Acc").raw()})
			return err
		}, codes.NotFound, accountMissing},
		{"ingest: no user", func() error {
			_, err := e.mb.IngestMessage(svc, &mailboxv1.IngestMessageRequest{Raw: inbound("nouser@x", "N").raw()})
			return err
		}, codes.InvalidArgument, invalidArg},
		{"person with a bad email", func() error {
			_, err := e.mb.UpsertPerson(svc, &mailboxv1.UpsertPersonRequest{PersonId: 7, Emails: []string{"not an email"}})
			return err
		}, codes.InvalidArgument, invalidArg},
		{"deal without status", func() error {
			_, err := e.mb.UpsertDeal(svc, &mailboxv1.UpsertDealRequest{DealId: 7})
			return err
		}, codes.InvalidArgument, invalidArg},
		{"account with a bad port", func() error {
			a := testAccount("new@acme.test")
			a.Imap.Port = 70000
			_, err := e.mb.CreateMailAccount(me, &mailboxv1.CreateMailAccountRequest{MailAccount: a})
			return err
		}, codes.InvalidArgument, invalidArg},
		{"unknown mail account", func() error {
			_, err := e.mb.GetMailAccount(me, &mailboxv1.GetMailAccountRequest{MailAccountId: 5})
			return err
		}, codes.NotFound, accountMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot(t)
			err := tt.call()
			wantCode(t, err, tt.code, tt.reason)
			if strings.HasPrefix(tt.name, "a page token") {
				return // that case ingests on purpose
			}
			if after := e.snapshot(t); after != before {
				t.Fatalf("the failed call changed the mailbox:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}
