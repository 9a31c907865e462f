package mailbox_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/secretbox"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/mailbox"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

func TestS3_ThreadingByReferencesThenSubjectAndParticipants(t *testing.T) {
	e := start(t)
	in := func(m mail) int64 { t.Helper(); return e.ingest(t, owner, m).ThreadId }
	parent := in(mail{ID: "p1@x", From: carol, To: alice, Subject: "Pricing"})
	alpha := in(mail{ID: "a1@x", From: carol, To: alice, Subject: "Alpha"})
	beta := in(mail{ID: "b1@x", From: carol, To: alice, Subject: "Beta"})
	budget := in(mail{ID: "s1@x", From: carol, To: alice, Subject: "Budget 2026", Date: "Mon, 02 Mar 2026 10:00:00 +0000"})

	tests := []struct {
		name string
		msg  mail
		want int64 // 0: a new thread
	}{
		{"In-Reply-To joins the parent, whatever the subject",
			mail{ID: "p2@x", From: alice, To: "someone@else.test", Subject: "Something else entirely", InReplyTo: "<p1@x>"}, parent},
		{"References: the closest known ancestor",
			mail{ID: "p3@x", From: dave, To: alice, Subject: "Fwd: x", References: "<p1@x> <unknown@x>"}, parent},
		{"references win over the subject",
			mail{ID: "z1@x", From: carol, To: alice, Subject: "Re: Beta", InReplyTo: "<a1@x>"}, alpha},
		{"same subject and two common participants within 60 days",
			mail{ID: "s2@x", From: alice, To: carol, Cc: dave, Subject: "RE: Budget 2026", Date: "Fri, 20 Mar 2026 10:00:00 +0000"}, budget},
		{"same subject, reply prefixes and tags ignored",
			mail{ID: "s3@x", From: dave, To: alice + ", " + carol, Subject: "AW: [EXT] Fwd: Budget 2026", Date: "Sat, 21 Mar 2026 10:00:00 +0000"}, budget},
		{"same subject but one common participant: new thread",
			mail{ID: "s4@x", From: "zed@other.test", To: alice, Subject: "Re: Budget 2026", Date: "Sun, 22 Mar 2026 10:00:00 +0000"}, 0},
		{"same subject and participants but 60 days after the last message: new thread",
			mail{ID: "s5@x", From: carol, To: alice, Subject: "Budget 2026", Date: "Fri, 22 May 2026 10:00:00 +0000"}, 0},
		{"empty subject never threads by subject",
			mail{ID: "e1@x", From: carol, To: alice, Subject: ""}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := in(tt.msg)
			if tt.want == 0 {
				if slices.Contains([]int64{parent, alpha, beta, budget}, got) {
					t.Fatalf("joined thread %d, want a new thread", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("thread %d, want %d", got, tt.want)
			}
		})
	}

	t.Run("a parent that arrives after its reply joins the reply's thread", func(t *testing.T) {
		reply := in(mail{ID: "late-reply@x", From: carol, To: alice, Subject: "Re: Late", InReplyTo: "<late-parent@x>"})
		if got := in(mail{ID: "late-parent@x", From: alice, To: "x@y.test", Subject: "Unrelated words",
			Date: "Sun, 01 Mar 2026 09:00:00 +0000"}); got != reply {
			t.Fatalf("parent in %d, want %d", got, reply)
		}
		th := e.thread(t, owner, reply)
		if th.Subject != "Unrelated words" || th.Snippet != "Hello, this is Re: Late." || th.MessageCount != 2 {
			t.Fatalf("the earliest message gives the subject: %v", th)
		}
	})

	t.Run("threading stays within one user's mailbox", func(t *testing.T) {
		got := e.ingest(t, bob, mail{ID: "bob-p@x", From: carol, To: bobAddr, Subject: "Pricing", InReplyTo: "<p1@x>"}).ThreadId
		if got == parent {
			t.Fatal("bob's message joined alice's thread")
		}
	})

	t.Run("aggregates", func(t *testing.T) {
		th := e.thread(t, owner, budget)
		if th.MessageCount != 3 || th.Subject != "Budget 2026" {
			t.Fatalf("budget thread %v", th)
		}
		if !th.LastMessageTime.AsTime().Equal(time.Date(2026, 3, 21, 10, 0, 0, 0, time.UTC)) ||
			!th.FirstMessageTime.AsTime().Equal(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("times %v %v", th.FirstMessageTime.AsTime(), th.LastMessageTime.AsTime())
		}
		var emails []string
		for _, p := range th.Participants {
			emails = append(emails, p.Email)
		}
		if !slices.Equal(emails, []string{alice, carol, dave}) {
			t.Fatalf("participants %v", emails)
		}
		// Sent: the thread has a message from alice; inbox: it has inbound ones.
		for _, f := range []mailboxv1.Folder{inbox, sent} {
			if !slices.Contains(folderIDs(t, e.mb, e.u(t, owner), f), budget) {
				t.Fatalf("budget thread missing from %v", f)
			}
		}
		if slices.Contains(folderIDs(t, e.mb, e.u(t, owner), sent), beta) {
			t.Fatal("an inbound-only thread is in sent")
		}
	})
}

// withHeaders prepends header lines, as a relay or the Smart Bcc path would.
func withHeaders(raw []byte, lines ...string) []byte {
	return append([]byte(strings.Join(lines, "\r\n")+"\r\n"), raw...)
}

func TestS3_SameMessageStoredOnce(t *testing.T) {
	e := start(t)
	acct, err := e.mb.CreateMailAccount(e.u(t, owner), &mailboxv1.CreateMailAccountRequest{MailAccount: testAccount(alice)})
	if err != nil {
		t.Fatal(err)
	}
	accountID := acct.MailAccount.Id
	m := mail{ID: "dup@x", From: carol, To: alice, Subject: "Once"}
	ingest := func(user int64, raw []byte, o func(*mailboxv1.IngestMessageRequest)) *mailboxv1.IngestMessageResponse {
		t.Helper()
		req := &mailboxv1.IngestMessageRequest{UserId: user, Raw: raw}
		if o != nil {
			o(req)
		}
		r, err := e.mb.IngestMessage(e.svc(t), req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	synced := ingest(owner, m.raw(), func(r *mailboxv1.IngestMessageRequest) { r.AccountId, r.Folder = accountID, "INBOX" })
	if synced.Duplicate {
		t.Fatal("first copy reported duplicate")
	}

	t.Run("sync copy then Smart Bcc copy", func(t *testing.T) {
		bcc := ingest(owner, withHeaders(m.raw(), "Received: from relay.smartbcc.test", "X-Sightline-Smart-Bcc: 1"),
			func(r *mailboxv1.IngestMessageRequest) { r.SmartBcc = true })
		if !bcc.Duplicate || bcc.ThreadId != synced.ThreadId || bcc.MessageId != synced.MessageId {
			t.Fatalf("smart bcc copy %v, want duplicate of %v", bcc, synced)
		}
		th := e.thread(t, owner, synced.ThreadId)
		if th.MessageCount != 1 || !th.SmartBcc {
			t.Fatalf("thread %v: want one message and the smart_bcc flag merged", th)
		}
	})
	t.Run("the same message in a second folder", func(t *testing.T) {
		r := ingest(owner, m.raw(), func(r *mailboxv1.IngestMessageRequest) { r.AccountId, r.Folder, r.Seen = accountID, "Archive", true })
		if !r.Duplicate || r.MessageId != synced.MessageId {
			t.Fatalf("%v", r)
		}
		msg, err := e.mb.GetMessage(e.u(t, owner), &mailboxv1.GetMessageRequest{MessageId: synced.MessageId})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(msg.Message.Folders, []string{"INBOX", "Archive"}) || !msg.Message.Seen || !msg.Message.SmartBcc || msg.Message.AccountId != accountID {
			t.Fatalf("merged message %v", msg.Message)
		}
		if !e.thread(t, owner, synced.ThreadId).Read {
			t.Fatal("the thread should be read once its only message is seen")
		}
	})
	t.Run("without a Message-ID: by content", func(t *testing.T) {
		noID := mail{From: carol, To: alice, Subject: "No id", Body: "same words"}
		a := ingest(owner, noID.raw(), nil)
		b := ingest(owner, withHeaders(noID.raw(), "Received: by another hop"), nil)
		if a.Duplicate || !b.Duplicate || b.MessageId != a.MessageId {
			t.Fatalf("%v then %v", a, b)
		}
		// A relay that adds a Message-ID to the copy does not make it a new message.
		relayed := noID
		relayed.ID = "added-by-relay@x"
		if c := ingest(owner, relayed.raw(), nil); !c.Duplicate || c.MessageId != a.MessageId {
			t.Fatalf("relayed copy %v", c)
		}
	})
	t.Run("a forged Message-ID with other content is another message", func(t *testing.T) {
		forged := m
		forged.Body = "Please wire the money to this new account."
		r := ingest(owner, forged.raw(), nil)
		if r.Duplicate || r.MessageId == synced.MessageId {
			t.Fatalf("forged message %v deduplicated", r)
		}
	})
	t.Run("each user stores their own copy", func(t *testing.T) {
		r := ingest(bob, m.raw(), nil)
		if r.Duplicate || r.ThreadId == synced.ThreadId {
			t.Fatalf("bob's copy %v", r)
		}
	})
	t.Run("request_id retries return the first result", func(t *testing.T) {
		req := func(raw []byte) *mailboxv1.IngestMessageRequest {
			return &mailboxv1.IngestMessageRequest{UserId: owner, Raw: raw, RequestId: "sync-42"}
		}
		first, err := e.mb.IngestMessage(e.svc(t), req(mail{ID: "rq@x", From: carol, To: alice, Subject: "Retry"}.raw()))
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.mb.IngestMessage(e.svc(t), req(mail{ID: "rq@x", From: carol, To: alice, Subject: "Retry"}.raw()))
		if err != nil || !proto.Equal(first, again) {
			t.Fatalf("retry %v, want %v (%v)", again, first, err)
		}
		_, err = e.mb.IngestMessage(e.svc(t), req(mail{ID: "other@x", From: carol, To: alice, Subject: "Other"}.raw()))
		wantCode(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_REQUEST_ID_REUSED.String())
	})
}

func TestS3_ConcurrentIngestOfOneUserThreadsDeterministically(t *testing.T) {
	e := start(t)
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			m := mail{ID: fmt.Sprintf("c%d@x", i), From: carol, To: alice, Subject: "Re: Concurrent"}
			if i%2 == 1 {
				m.InReplyTo = "<c0@x>" // half refer to the first, the rest thread by subject
			}
			_, err := e.mb.IngestMessage(e.svc(t), &mailboxv1.IngestMessageRequest{UserId: owner, Raw: m.raw()})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := folderIDs(t, e.mb, e.u(t, owner), inbox)
	if len(got) != 1 {
		t.Fatalf("%d threads, want all %d messages in one", len(got), n)
	}
	if c := e.thread(t, owner, got[0]).MessageCount; c != n {
		t.Fatalf("message_count %d, want %d", c, n)
	}
}

func TestS5_SecretsNeverReturnedNorLogged(t *testing.T) {
	e := start(t)
	random := func() string {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		return "pw-" + hex.EncodeToString(b)
	}
	secret1, secret2 := random(), random()
	ctx := e.u(t, owner)
	var responses []proto.Message
	keep := func(m proto.Message, err error) proto.Message {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		responses = append(responses, m)
		return m
	}
	created := keep(e.mb.CreateMailAccount(ctx, &mailboxv1.CreateMailAccountRequest{MailAccount: testAccount(alice), Secret: secret1})).(*mailboxv1.CreateMailAccountResponse)
	id := created.MailAccount.Id
	if !created.MailAccount.HasSecret {
		t.Fatal("has_secret should be true")
	}
	keep(e.mb.GetMailAccount(ctx, &mailboxv1.GetMailAccountRequest{MailAccountId: id}))
	keep(e.mb.ListMailAccounts(ctx, &mailboxv1.ListMailAccountsRequest{}))
	upd := keep(e.mb.UpdateMailAccount(ctx, &mailboxv1.UpdateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{Id: id, DisplayName: "Renamed"}, Secret: secret2, UpdateMask: mask("display_name")})).(*mailboxv1.UpdateMailAccountResponse)
	if !upd.MailAccount.HasSecret {
		t.Fatal("a mask without \"secret\" must keep the secret")
	}
	keep(e.mb.UpdateMailAccount(ctx, &mailboxv1.UpdateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{Id: id}, Secret: secret2, UpdateMask: mask("secret")}))
	keep(e.mb.GetMailAccount(ctx, &mailboxv1.GetMailAccountRequest{MailAccountId: id}))
	// Failing calls carrying a secret.
	for _, req := range []*mailboxv1.CreateMailAccountRequest{
		{MailAccount: testAccount(alice), Secret: secret1},                                     // already exists
		{MailAccount: &mailboxv1.MailAccount{EmailAddress: "not-an-address"}, Secret: secret1}, // invalid
	} {
		_, err := e.mb.CreateMailAccount(ctx, req)
		if err == nil || strings.Contains(err.Error(), secret1) {
			t.Fatalf("error %v", err)
		}
	}

	// At rest: sealed, not the plaintext, and it opens with the configured key.
	var sealed []byte
	if err := e.pool.QueryRow(t.Context(), `SELECT secret FROM mail_accounts WHERE id = $1`, id).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), secret2) || strings.Contains(string(sealed), secret1) {
		t.Fatal("the secret is stored in plaintext")
	}
	box, err := secretbox.ParseKeys(e.secretKeys)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := box.Open(sealed, fmt.Appendf(nil, "sightline.mailbox.mail_accounts/%d/%d", company, owner))
	if err != nil || string(pt) != secret2 {
		t.Fatalf("open: %q %v", pt, err)
	}
	// Clearing it.
	cleared := keep(e.mb.UpdateMailAccount(ctx, &mailboxv1.UpdateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{Id: id}, UpdateMask: mask("secret")})).(*mailboxv1.UpdateMailAccountResponse)
	if cleared.MailAccount.HasSecret {
		t.Fatal("an empty secret with the mask clears it")
	}
	keep(e.mb.DeleteMailAccount(ctx, &mailboxv1.DeleteMailAccountRequest{MailAccountId: id}))

	for _, r := range responses {
		js := protojson.Format(r)
		if strings.Contains(js, secret1) || strings.Contains(js, secret2) {
			t.Fatalf("a response carries the secret: %s", js)
		}
	}
	logs := e.Logs()
	if !strings.Contains(logs, "CreateMailAccount") {
		t.Fatal("expected the calls in the logs")
	}
	if strings.Contains(logs, secret1) || strings.Contains(logs, secret2) {
		t.Fatal("the logs carry the secret")
	}

	t.Run("without secret keys secrets are refused", func(t *testing.T) {
		url := pgtest.New(t, migrated)
		in := servicetest.Start(t, mailbox.ServiceWithVisibility(visibilityclient.NewTable()), servicetest.Options{DatabaseURL: url})
		c := mailboxv1.NewMailboxServiceClient(in.Conn)
		_, err := c.CreateMailAccount(in.User(t, company, owner), &mailboxv1.CreateMailAccountRequest{MailAccount: testAccount(alice), Secret: secret1})
		wantCode(t, err, codes.FailedPrecondition, mr(mailboxv1.ErrorReason_ERROR_REASON_SECRET_STORAGE_UNAVAILABLE))
		if _, err := c.CreateMailAccount(in.User(t, company, owner), &mailboxv1.CreateMailAccountRequest{MailAccount: testAccount(alice)}); err != nil {
			t.Fatalf("an account without a secret: %v", err)
		}
		if strings.Contains(in.Logs(), secret1) {
			t.Fatal("the logs carry the secret")
		}
	})
}

func TestIngestStoresBodiesAttachmentsAndTimes(t *testing.T) {
	e := start(t)
	raw, err := os.ReadFile("internal/mime/testdata/mixed_attachments.eml")
	if err != nil {
		t.Fatal(err)
	}
	e.setAddresses(t, owner, "anna@acme.example")
	r, err := e.mb.IngestMessage(e.svc(t), &mailboxv1.IngestMessageRequest{UserId: owner, Folder: "INBOX", Raw: raw})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.mb.GetMessage(e.u(t, owner), &mailboxv1.GetMessageRequest{MessageId: r.MessageId})
	if err != nil {
		t.Fatal(err)
	}
	msg := got.Message
	if msg.Subject != "SV: Återkoppling på offerten" || !strings.Contains(msg.BodyText, "Bifogat finns") ||
		!strings.Contains(msg.BodyHtml, "<p>Hej Anna,</p>") || !msg.HasAttachments || len(msg.Attachments) == 0 ||
		msg.Attachments[0].Filename != "Avtalsutkast för granskning.pdf" || msg.Attachments[0].ContentType != "application/pdf" ||
		msg.Direction != mailboxv1.Direction_DIRECTION_INBOUND || msg.InternetMessageId != "att-001@mail.nordlast.se" {
		t.Fatalf("message %v", msg)
	}
	if !e.thread(t, owner, r.ThreadId).HasAttachments {
		t.Fatal("thread has_attachments")
	}
	basic, err := e.mb.GetMessage(e.u(t, owner), &mailboxv1.GetMessageRequest{MessageId: r.MessageId, View: mailboxv1.MessageView_MESSAGE_VIEW_BASIC})
	if err != nil || basic.Message.BodyText != "" || basic.Message.BodyHtml != "" || basic.Message.Snippet == "" {
		t.Fatalf("basic view %v %v", basic, err)
	}

	received := time.Date(2026, 4, 1, 8, 30, 0, 0, time.UTC)
	r2 := e.ingest(t, owner, inbound("t@x", "Times"), func(r *mailboxv1.IngestMessageRequest) { r.ReceivedTime = timestamppb.New(received) })
	m, err := e.mb.GetMessage(e.u(t, owner), &mailboxv1.GetMessageRequest{MessageId: r2.MessageId})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Message.MessageTime.AsTime().Equal(received) || m.Message.SentTime.AsTime().Year() != 2026 {
		t.Fatalf("times %v", m.Message)
	}
	// A Date far in the future does not pin the thread to the top.
	future := e.ingest(t, owner, mail{ID: "f@x", From: carol, To: alice, Subject: "Future", Date: "Fri, 01 Jan 2100 00:00:00 +0000"})
	th := e.thread(t, owner, future.ThreadId)
	if th.LastMessageTime.AsTime().Year() == 2100 {
		t.Fatal("a forged future date became the message time")
	}
}
