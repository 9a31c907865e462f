package mailbox_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/sightline/sightline/pkg/apierr"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
)

func entry(m mail) *mailboxv1.IngestMessageRequest {
	return &mailboxv1.IngestMessageRequest{Folder: "INBOX", Raw: m.raw()}
}

// A batch stores its messages in order: a reply joins the thread of a
// message earlier in the same batch and a second copy is a duplicate (S3).
func TestBatchIngest_ThreadsAndDeduplicatesInOrder(t *testing.T) {
	e := start(t)
	first := inbound("b1@x", "Renewal")
	reply := mail{ID: "b2@x", From: customer, To: alice, Subject: "Re: Renewal", InReplyTo: "<b1@x>"}
	resp, err := e.mb.BatchIngestMessages(e.svc(t), &mailboxv1.BatchIngestMessagesRequest{UserId: owner,
		Messages: []*mailboxv1.IngestMessageRequest{entry(first), entry(reply), entry(first)}})
	if err != nil {
		t.Fatal(err)
	}
	r := resp.GetResults()
	if len(r) != 3 {
		t.Fatalf("%d results, want 3", len(r))
	}
	if r[1].GetThreadId() != r[0].GetThreadId() {
		t.Errorf("the reply is in thread %d, want %d", r[1].GetThreadId(), r[0].GetThreadId())
	}
	if !r[2].GetDuplicate() || r[2].GetMessageId() != r[0].GetMessageId() {
		t.Errorf("second copy: %v, want a duplicate of message %d", r[2], r[0].GetMessageId())
	}
	if got := e.thread(t, owner, r[0].GetThreadId()).GetMessageCount(); got != 2 {
		t.Errorf("thread has %d messages, want 2", got)
	}
}

// All or nothing: one malformed message fails the batch, names it, and
// nothing of the batch is stored.
func TestBatchIngest_MalformedMessageStoresNothing(t *testing.T) {
	e := start(t)
	before := e.snapshot(t)
	bad := &mailboxv1.IngestMessageRequest{Raw: []byte{}}
	_, err := e.mb.BatchIngestMessages(e.svc(t), &mailboxv1.BatchIngestMessagesRequest{UserId: owner,
		Messages: []*mailboxv1.IngestMessageRequest{entry(inbound("ok@x", "Fine")), bad}})
	wantCode(t, err, codes.InvalidArgument, mr(mailboxv1.ErrorReason_ERROR_REASON_MALFORMED_MESSAGE))
	if vs := apierr.Violations(err); len(vs) != 1 || vs[0].Field != "messages[1].raw" {
		t.Errorf("violations %v, want one on messages[1].raw", vs)
	}
	if after := e.snapshot(t); after != before {
		t.Errorf("a failed batch changed the tables:\n%s\nwant\n%s", after, before)
	}

	// An unknown account fails the whole batch too, after parsing.
	_, err = e.mb.BatchIngestMessages(e.svc(t), &mailboxv1.BatchIngestMessagesRequest{UserId: owner, AccountId: 77,
		Messages: []*mailboxv1.IngestMessageRequest{entry(inbound("ok2@x", "Fine"))}})
	wantCode(t, err, codes.NotFound, mr(mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NOT_FOUND))
	if after := e.snapshot(t); after != before {
		t.Errorf("a failed batch changed the tables")
	}
}

func TestBatchIngest_Limits(t *testing.T) {
	e := start(t)
	invalidArg := commonv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT.String()
	tooMany := make([]*mailboxv1.IngestMessageRequest, 501)
	for i := range tooMany {
		tooMany[i] = entry(inbound("", "x"))
	}
	for _, tc := range []struct {
		name  string
		req   *mailboxv1.BatchIngestMessagesRequest
		field string
	}{
		{"empty", &mailboxv1.BatchIngestMessagesRequest{UserId: owner}, "messages"},
		{"too many", &mailboxv1.BatchIngestMessagesRequest{UserId: owner, Messages: tooMany}, "messages"},
		{"no user", &mailboxv1.BatchIngestMessagesRequest{Messages: tooMany[:1]}, "user_id"},
		{"another user in an entry", &mailboxv1.BatchIngestMessagesRequest{UserId: owner,
			Messages: []*mailboxv1.IngestMessageRequest{{UserId: bob, Raw: inbound("", "x").raw()}}}, "messages[0].user_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.mb.BatchIngestMessages(e.svc(t), tc.req)
			wantCode(t, err, codes.InvalidArgument, invalidArg)
			found := false
			for _, v := range apierr.Violations(err) {
				found = found || v.Field == tc.field
			}
			if !found {
				t.Errorf("violations %v, want one on %s", apierr.Violations(err), tc.field)
			}
		})
	}
	// A user token is refused: ingest is for services.
	_, err := e.mb.BatchIngestMessages(e.u(t, owner), &mailboxv1.BatchIngestMessagesRequest{UserId: owner,
		Messages: []*mailboxv1.IngestMessageRequest{entry(inbound("u@x", "x"))}})
	wantCode(t, err, codes.PermissionDenied, mr(mailboxv1.ErrorReason_ERROR_REASON_SERVICE_PRINCIPAL_REQUIRED))
}
