package mailbox_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline/sightline/pkg/apierr"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/services/mailbox/internal/dovecottest"
	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/smtptest"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

// Passwords at the test providers (Dovecot and the submission server).
var providerPasswords = map[string]string{
	alice:               "alice-secret-pw",
	bobAddr:             "bob-secret-pw",
	carol:               "carol-pw",
	dave:                "dave-pw",
	"erin@partner.test": "erin-pw",
	"frank@else.test":   "frank-pw",
}

const (
	reply    = mailboxv1.SendMode_SEND_MODE_REPLY
	replyAll = mailboxv1.SendMode_SEND_MODE_REPLY_ALL
	forward  = mailboxv1.SendMode_SEND_MODE_FORWARD
)

var (
	errNotParticipant = mr(mailboxv1.ErrorReason_ERROR_REASON_NOT_A_PARTICIPANT)
	errNeedsReauth    = mr(mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NEEDS_REAUTH)
	errSendFailed     = mr(mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED)
)

// sendEnv is a mailbox with real providers: a Dovecot holding every user's
// mail and a submission server (STARTTLS, AUTH PLAIN) that delivers into it.
type sendEnv struct {
	*env
	dc   *dovecottest.Server
	smtp *smtptest.Server
}

func startSend(t *testing.T, o smtptest.Options) *sendEnv {
	t.Helper()
	dc := dovecottest.Start(t)
	for u, p := range providerPasswords {
		dc.AddUser(t, u, p)
	}
	o.Users = map[string]string{alice: providerPasswords[alice], bobAddr: providerPasswords[bobAddr]}
	o.Deliver = func(rcpt string, data []byte) error {
		if pass, ok := providerPasswords[rcpt]; ok {
			return imapAppend(dc.Addr(), rcpt, pass, "INBOX", data)
		}
		return nil // another domain: recorded only
	}
	srv := smtptest.Start(t, o)
	e := start(t, "--provider-ca-file", srv.CAFile)
	return &sendEnv{env: e, dc: dc, smtp: srv}
}

// imapAppend delivers a message (from the submission server's goroutine:
// errors are returned, not fatal).
func imapAppend(addr, user, pass, folder string, data []byte) error {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		return err
	}
	cmd := c.Append(folder, int64(len(data)), nil)
	if _, err := cmd.Write(data); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	if _, err := cmd.Wait(); err != nil {
		return err
	}
	return c.Logout().Wait()
}

// account connects a mail account of user at the test providers.
func (s *sendEnv) account(t *testing.T, user int64, email, secret string) int64 {
	t.Helper()
	_, port, _ := net.SplitHostPort(s.dc.Addr())
	imapPort, _ := strconv.Atoi(port)
	r, err := s.mb.CreateMailAccount(s.u(t, user), &mailboxv1.CreateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{
			EmailAddress: email,
			DisplayName:  "Alice Åström",
			Imap: &mailboxv1.ServerSettings{Host: "127.0.0.1", Port: int32(imapPort),
				Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_NONE},
			Smtp: &mailboxv1.ServerSettings{Host: s.smtp.Host(), Port: s.smtp.Port(),
				Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_STARTTLS},
			Username: email,
			AuthKind: mailboxv1.AuthKind_AUTH_KIND_PASSWORD,
		},
		Secret: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetMailAccount().GetId()
}

// providerMail is one message of a Dovecot folder.
type providerMail struct {
	raw   []byte
	msg   *mime.Message
	flags []imap.Flag
}

func (s *sendEnv) folder(t *testing.T, user, folder string) []providerMail {
	t.Helper()
	c := s.dc.Login(t, user, providerPasswords[user])
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("select %s of %s: %v", folder, user, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	body := &imap.FetchItemBodySection{Peek: true}
	var all imap.SeqSet
	all.AddRange(1, 0) // 1:*
	msgs, err := c.Fetch(all, &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	if err != nil {
		t.Fatalf("fetch %s of %s: %v", folder, user, err)
	}
	out := make([]providerMail, 0, len(msgs))
	for _, m := range msgs {
		raw := m.FindBodySection(body)
		pm, err := mime.Parse(raw, mime.Options{})
		if err != nil {
			t.Fatalf("parse a message of %s/%s: %v", user, folder, err)
		}
		out = append(out, providerMail{raw: raw, msg: pm, flags: m.Flags})
	}
	return out
}

func (s *sendEnv) send(t *testing.T, user int64, req *mailboxv1.SendThreadMessageRequest) *mailboxv1.SendThreadMessageResponse {
	t.Helper()
	resp, err := s.mb.SendThreadMessage(s.u(t, user), req)
	if err != nil {
		t.Fatalf("SendThreadMessage: %v", err)
	}
	return resp
}

func viaAccount(id int64) func(*mailboxv1.IngestMessageRequest) {
	return func(r *mailboxv1.IngestMessageRequest) { r.AccountId = id }
}

func addrs(l []mime.Address) []string {
	out := make([]string, len(l))
	for i, a := range l {
		out[i] = a.Email
	}
	return out
}

func wantViolations(t *testing.T, err error, fields ...string) {
	t.Helper()
	var got []string
	for _, v := range apierr.Violations(err) {
		got = append(got, v.Field)
	}
	if !slices.Equal(got, fields) {
		t.Fatalf("field violations %v, want %v (%v)", got, fields, err)
	}
}

func TestM5_ParticipantRepliesThroughSMTP(t *testing.T) {
	s := startSend(t, smtptest.Options{})
	acct := s.account(t, owner, alice, providerPasswords[alice])
	orig := inbound("contract@customer.test", "Contract")
	orig.Body = "Please sign the contract.\n\nBest, Carol"
	in := s.ingest(t, owner, orig, viaAccount(acct))

	resp := s.send(t, owner, &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply,
		BodyText: "Signed, see you Monday.\nAlice"})
	if resp.ThreadId != in.ThreadId || resp.MessageId == 0 || !strings.HasSuffix(resp.InternetMessageId, "@acme.test") {
		t.Fatalf("response %v", resp)
	}

	// Submitted once, authenticated, over STARTTLS, from the account to Carol.
	envs := s.smtp.Messages()
	if len(envs) != 1 || envs[0].User != alice || !envs[0].TLS || envs[0].From != alice || !slices.Equal(envs[0].To, []string{carol}) {
		t.Fatalf("envelopes %+v", envs)
	}
	// Carol's INBOX has the reply, threaded to her message.
	got := s.folder(t, carol, "INBOX")
	if len(got) != 1 {
		t.Fatalf("carol's INBOX has %d messages", len(got))
	}
	m := got[0].msg
	if m.MessageID != resp.InternetMessageId || m.Subject != "Re: Contract" {
		t.Errorf("Message-ID %q subject %q", m.MessageID, m.Subject)
	}
	if !slices.Equal(m.InReplyTo, []string{"contract@customer.test"}) || !slices.Equal(m.References, []string{"contract@customer.test"}) {
		t.Errorf("In-Reply-To %v References %v", m.InReplyTo, m.References)
	}
	if len(m.From) != 1 || m.From[0].Email != alice || m.From[0].Name != "Alice Åström" || !slices.Equal(addrs(m.To), []string{carol}) {
		t.Errorf("from %+v to %+v", m.From, m.To)
	}
	for _, want := range []string{"Signed, see you Monday.\nAlice\n\nOn Mon, 2 Mar 2026 at 10:00 +0000, Carol Customer <carol@customer.test> wrote:\n",
		"> Please sign the contract.\n>\n> Best, Carol\n"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	// The sender's Sent folder has the copy, seen.
	sentCopies := s.folder(t, alice, "Sent")
	if len(sentCopies) != 1 || sentCopies[0].msg.MessageID != resp.InternetMessageId || !slices.Contains(sentCopies[0].flags, imap.FlagSeen) {
		t.Fatalf("alice's Sent: %d messages %+v", len(sentCopies), sentCopies)
	}
	// The mailbox's thread has the reply, outbound and seen; it is in SENT.
	th := s.thread(t, owner, in.ThreadId)
	if th.MessageCount != 2 {
		t.Errorf("thread: %d messages", th.MessageCount)
	}
	msgs, err := s.mb.ListThreadMessages(s.u(t, owner), &mailboxv1.ListThreadMessagesRequest{ThreadId: in.ThreadId})
	if err != nil {
		t.Fatal(err)
	}
	last := msgs.Messages[len(msgs.Messages)-1]
	if last.Id != resp.MessageId || last.Direction != mailboxv1.Direction_DIRECTION_OUTBOUND || !last.Seen ||
		last.AccountId != acct || !slices.Contains(last.Folders, "Sent") {
		t.Errorf("stored reply %v", last)
	}
	if !slices.Contains(folderIDs(t, s.mb, s.u(t, owner), sent), in.ThreadId) {
		t.Error("the thread is not in SENT")
	}
	// S5: the provider password never reaches the logs.
	if strings.Contains(s.Logs(), providerPasswords[alice]) {
		t.Error("the logs contain the account's secret")
	}
}

func TestM5_NonParticipantCannotSend(t *testing.T) {
	s := startSend(t, smtptest.Options{})
	s.account(t, owner, alice, providerPasswords[alice])
	s.account(t, bob, bobAddr, providerPasswords[bobAddr]) // bob could send, were he allowed
	thread, _ := sharedLinked(t, s.env)
	s.vis.Allow(company, bob, visibilityclient.Item{Type: visibilityclient.Deal, ID: 10})
	if !seesOnItem(t, s.mb, s.u(t, bob), dealRef(10), thread) {
		t.Fatal("bob should read the thread on the deal")
	}
	for _, mode := range []mailboxv1.SendMode{reply, replyAll, forward} {
		_, err := s.mb.SendThreadMessage(s.u(t, bob), &mailboxv1.SendThreadMessageRequest{ThreadId: thread, Mode: mode,
			To: []string{"frank@else.test"}, BodyText: "Let me answer"})
		wantCode(t, err, codes.PermissionDenied, errNotParticipant)
	}
	// A colleague who cannot read it, and an unknown thread: NOT_FOUND, like every thread method.
	_, err := s.mb.SendThreadMessage(s.u(t, other), &mailboxv1.SendThreadMessageRequest{ThreadId: thread, Mode: reply})
	wantCode(t, err, codes.NotFound, errThreadNotFound)
	_, err = s.mb.SendThreadMessage(s.u(t, bob), &mailboxv1.SendThreadMessageRequest{ThreadId: 987654, Mode: reply})
	wantCode(t, err, codes.NotFound, errThreadNotFound)
	if n := len(s.smtp.Messages()); n != 0 {
		t.Fatalf("the SMTP server received %d messages", n)
	}
	// A service principal cannot send.
	_, err = s.mb.SendThreadMessage(s.svc(t), &mailboxv1.SendThreadMessageRequest{ThreadId: thread, Mode: reply})
	wantCode(t, err, codes.PermissionDenied, mr(mailboxv1.ErrorReason_ERROR_REASON_USER_PRINCIPAL_REQUIRED))
}

// offerRaw is a message from Carol to Alice and Dave, Cc Erin, with a PDF.
func offerRaw(id string) []byte {
	return []byte("Message-ID: <" + id + ">\r\nFrom: Carol Customer <carol@customer.test>\r\n" +
		"To: Alice <alice@acme.test>, Dave <dave@customer.test>\r\nCc: erin@partner.test\r\n" +
		"Subject: =?utf-8?q?Offert_f=C3=B6r_2026?=\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHere is our offer.\r\n" +
		"--XX\r\nContent-Type: application/pdf; name=\"offert.pdf\"\r\n" +
		"Content-Disposition: attachment; filename*=utf-8''Offert%20f%C3%B6r%202026.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCg==\r\n--XX--\r\n")
}

func TestM5_ReplyAllAndForwardRecipients(t *testing.T) {
	s := startSend(t, smtptest.Options{})
	acct := s.account(t, owner, alice, providerPasswords[alice])
	raw := offerRaw("offer@customer.test")
	s.dc.Append(t, alice, "INBOX", raw) // the provider holds the original, attachment and all
	in, err := s.mb.IngestMessage(s.svc(t), &mailboxv1.IngestMessageRequest{UserId: owner, AccountId: acct, Folder: "INBOX", Raw: raw})
	if err != nil {
		t.Fatal(err)
	}

	// Reply all: Carol and Dave, Cc Erin; never Alice herself.
	ra := s.send(t, owner, &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: replyAll, BodyText: "Thanks all!"})
	env := s.smtp.Messages()[0]
	if want := []string{carol, dave, "erin@partner.test"}; !slices.Equal(env.To, want) {
		t.Errorf("reply all envelope %v, want %v", env.To, want)
	}
	for _, rcpt := range []string{carol, dave, "erin@partner.test"} {
		box := s.folder(t, rcpt, "INBOX")
		if len(box) != 1 || box[0].msg.MessageID != ra.InternetMessageId {
			t.Fatalf("%s's INBOX: %d messages", rcpt, len(box))
		}
		m := box[0].msg
		if !slices.Equal(addrs(m.To), []string{carol, dave}) || !slices.Equal(addrs(m.Cc), []string{"erin@partner.test"}) ||
			m.Subject != "Re: Offert för 2026" || m.HasAttachments {
			t.Errorf("%s received to %v cc %v subject %q attachments %v", rcpt, addrs(m.To), addrs(m.Cc), m.Subject, m.HasAttachments)
		}
	}

	// Reply (not all) to a message with Reply-To goes there; added recipients join.
	rt := s.ingest(t, owner, mail{ID: "rt@customer.test", From: customer, To: alice, Subject: "Support",
		Body: "Reply to the desk, please."}, func(r *mailboxv1.IngestMessageRequest) {
		r.AccountId = acct
		r.Raw = bytes.Replace(r.Raw, []byte("Subject:"), []byte("Reply-To: Desk <desk@customer.test>\r\nSubject:"), 1)
	})
	s.send(t, owner, &mailboxv1.SendThreadMessageRequest{ThreadId: rt.ThreadId, Mode: reply, Cc: []string{"Gina@Else.test"}})
	env = s.smtp.Messages()[1]
	if want := []string{"desk@customer.test", "gina@else.test"}; !slices.Equal(env.To, want) {
		t.Errorf("reply to Reply-To: envelope %v, want %v", env.To, want)
	}

	// Forward: only the given recipients, with the original's attachment fetched from Dovecot.
	fw := s.send(t, owner, &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, MessageId: in.MessageId, Mode: forward,
		To: []string{"frank@else.test"}, BodyText: "FYI, Frank."})
	env = s.smtp.Messages()[2]
	if !slices.Equal(env.To, []string{"frank@else.test"}) {
		t.Errorf("forward envelope %v", env.To)
	}
	box := s.folder(t, "frank@else.test", "INBOX")
	if len(box) != 1 {
		t.Fatalf("frank's INBOX: %d messages", len(box))
	}
	m := box[0].msg
	if m.MessageID != fw.InternetMessageId || m.Subject != "Fwd: Offert för 2026" || !slices.Equal(addrs(m.To), []string{"frank@else.test"}) {
		t.Errorf("forward: id %q subject %q to %v", m.MessageID, m.Subject, addrs(m.To))
	}
	if !strings.Contains(m.Text, "FYI, Frank.\n\n---------- Forwarded message ---------\nFrom: Carol Customer <carol@customer.test>\n") ||
		!strings.Contains(m.Text, "\nHere is our offer.") {
		t.Errorf("forward text:\n%s", m.Text)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "Offert för 2026.pdf" || m.Attachments[0].ContentType != "application/pdf" {
		t.Fatalf("forwarded attachments %+v", m.Attachments)
	}
	if !bytes.Contains(box[0].raw, []byte("JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCg==")) {
		t.Errorf("the attachment's bytes changed:\n%s", box[0].raw)
	}
	// The forward joined the thread in the mailbox.
	if fw.ThreadId != in.ThreadId || s.thread(t, owner, in.ThreadId).MessageCount != 3 {
		t.Errorf("forward stored in thread %d (want %d)", fw.ThreadId, in.ThreadId)
	}

	// A forward of a message with attachments the provider no longer has fails before sending.
	gone := offerRaw("gone@customer.test")
	g, err := s.mb.IngestMessage(s.svc(t), &mailboxv1.IngestMessageRequest{UserId: owner, AccountId: acct, Folder: "INBOX", Raw: gone})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.mb.SendThreadMessage(s.u(t, owner), &mailboxv1.SendThreadMessageRequest{ThreadId: g.ThreadId, Mode: forward,
		To: []string{"frank@else.test"}})
	wantCode(t, err, codes.FailedPrecondition, errSendFailed)
	if !strings.Contains(status.Convert(err).Message(), "attachments") {
		t.Errorf("message %q", status.Convert(err).Message())
	}
	if n := len(s.smtp.Messages()); n != 3 {
		t.Fatalf("the SMTP server received %d messages, want 3", n)
	}
}

func TestSend_WrongPasswordNeedsReauth(t *testing.T) {
	s := startSend(t, smtptest.Options{})
	const wrong = "not-the-password-42"
	acct := s.account(t, owner, alice, wrong)
	in := s.ingest(t, owner, inbound("x@customer.test", "Hello"), viaAccount(acct))
	_, err := s.mb.SendThreadMessage(s.u(t, owner), &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply,
		BodyText: "Hi", RequestId: "r-1"})
	wantCode(t, err, codes.FailedPrecondition, errNeedsReauth)
	if strings.Contains(err.Error(), wrong) || strings.Contains(s.Logs(), wrong) {
		t.Fatal("the secret leaked into the error or the logs")
	}
	if len(s.smtp.Messages()) != 0 || s.thread(t, owner, in.ThreadId).MessageCount != 1 {
		t.Fatal("something was sent or stored")
	}
	// Fixed secret, same request_id: nothing was sent the first time, so it sends now.
	if _, err := s.mb.UpdateMailAccount(s.u(t, owner), &mailboxv1.UpdateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{Id: acct}, UpdateMask: mask("secret"), Secret: providerPasswords[alice]}); err != nil {
		t.Fatal(err)
	}
	s.send(t, owner, &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply, BodyText: "Hi", RequestId: "r-1"})
	if len(s.smtp.Messages()) != 1 {
		t.Fatal("not sent after the secret was fixed")
	}
}

func TestSend_RequestIDSendsOnce(t *testing.T) {
	s := startSend(t, smtptest.Options{})
	acct := s.account(t, owner, alice, providerPasswords[alice])
	in := s.ingest(t, owner, inbound("once@customer.test", "Once"), viaAccount(acct))
	req := &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply, BodyText: "Only once", RequestId: "req-7"}
	first := s.send(t, owner, req)
	again := s.send(t, owner, req)
	if first.MessageId != again.MessageId || first.ThreadId != again.ThreadId || first.InternetMessageId != again.InternetMessageId {
		t.Fatalf("retry answered %v, first %v", again, first)
	}
	if n := len(s.smtp.Messages()); n != 1 {
		t.Fatalf("the SMTP server received %d messages", n)
	}
	// The same id for another message is refused.
	other := &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply, BodyText: "Something else", RequestId: "req-7"}
	_, err := s.mb.SendThreadMessage(s.u(t, owner), other)
	wantCode(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_REQUEST_ID_REUSED.String())
	// Request ids are per user: bob's "req-7" is his own (he is no participant: refused for that reason).
	_, err = s.mb.SendThreadMessage(s.u(t, bob), req)
	wantCode(t, err, codes.NotFound, errThreadNotFound)

	ctx := context.Background()
	// A crash after the SMTP server accepted, before the message was stored:
	// the retry stores it (once) without sending again, and the Sent copy is not doubled.
	if _, err := s.pool.Exec(ctx, `UPDATE outgoing_messages SET state = 'sent', raw = $1, thread_id = NULL, message_id = NULL,
		lease_until = now() - interval '1 hour' WHERE request_id = 'req-7'`, s.folder(t, alice, "Sent")[0].raw); err != nil {
		t.Fatal(err)
	}
	resumed := s.send(t, owner, req)
	if resumed.MessageId != first.MessageId || len(s.smtp.Messages()) != 1 || len(s.folder(t, alice, "Sent")) != 1 ||
		s.thread(t, owner, in.ThreadId).MessageCount != 2 {
		t.Fatalf("resumed %v (first %v), %d sent, %d in Sent", resumed, first, len(s.smtp.Messages()), len(s.folder(t, alice, "Sent")))
	}
	// A crash between handing the message over and hearing back: unknown, never re-sent.
	if _, err := s.pool.Exec(ctx, `UPDATE outgoing_messages SET state = 'sending', thread_id = NULL, message_id = NULL,
		lease_until = now() - interval '1 hour' WHERE request_id = 'req-7'`); err != nil {
		t.Fatal(err)
	}
	_, err = s.mb.SendThreadMessage(s.u(t, owner), req)
	wantCode(t, err, codes.FailedPrecondition, errSendFailed)
	if !strings.Contains(status.Convert(err).Message(), first.InternetMessageId) {
		t.Errorf("the answer does not name the Message-ID to look for: %v", err)
	}
	// While another attempt holds the record: ABORTED, try later.
	if _, err := s.pool.Exec(ctx, `UPDATE outgoing_messages SET lease_until = now() + interval '1 hour' WHERE request_id = 'req-7'`); err != nil {
		t.Fatal(err)
	}
	_, err = s.mb.SendThreadMessage(s.u(t, owner), req)
	wantCode(t, err, codes.Aborted, errSendFailed)
	if n := len(s.smtp.Messages()); n != 1 {
		t.Fatalf("the SMTP server received %d messages", n)
	}
}

func TestSend_BadInput(t *testing.T) {
	s := startSend(t, smtptest.Options{})
	in := s.ingest(t, owner, inbound("bad@customer.test", "Bad"))
	me := s.u(t, owner)
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("r%d@x.test", i)
	}
	for _, tc := range []struct {
		name   string
		req    *mailboxv1.SendThreadMessageRequest
		fields []string
	}{
		{"no thread", &mailboxv1.SendThreadMessageRequest{Mode: reply}, []string{"thread_id"}},
		{"no mode", &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId}, []string{"mode"}},
		{"unknown mode", &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: 9}, []string{"mode"}},
		{"forward without recipients", &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: forward}, []string{"to"}},
		{"bad addresses", &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply,
			To: []string{"ok@x.test", "not an address"}, Cc: []string{"<x@y>"}}, []string{"to[1]", "cc[0]"}},
		{"too many in to", &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: forward, To: many}, []string{"to"}},
		{"too many together", &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: forward, To: many[:60], Cc: many[60:]}, []string{"cc"}},
		{"body over 1 MiB", &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply,
			BodyText: strings.Repeat("x", 1<<20+1)}, []string{"body_text"}},
		{"body with NUL", &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply, BodyText: "a\x00b"}, []string{"body_text"}},
		{"negative ids", &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply, MessageId: -1, MailAccountId: -2},
			[]string{"message_id", "mail_account_id"}},
		{"long request id", &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply, RequestId: strings.Repeat("r", 129)},
			[]string{"request_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.mb.SendThreadMessage(me, tc.req)
			wantCode(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT.String())
			wantViolations(t, err, tc.fields...)
		})
	}
	// Valid requests the state refuses.
	_, err := s.mb.SendThreadMessage(me, &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply})
	wantCode(t, err, codes.FailedPrecondition, mr(mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NOT_FOUND)) // no account yet
	acct := s.account(t, owner, alice, providerPasswords[alice])
	_, err = s.mb.SendThreadMessage(me, &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply, MailAccountId: acct + 100})
	wantCode(t, err, codes.NotFound, mr(mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NOT_FOUND))
	_, err = s.mb.SendThreadMessage(me, &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply, MessageId: in.MessageId + 100})
	wantCode(t, err, codes.NotFound, mr(mailboxv1.ErrorReason_ERROR_REASON_MESSAGE_NOT_FOUND))
	if n := len(s.smtp.Messages()); n != 0 {
		t.Fatalf("%d messages sent", n)
	}
}

func TestSend_RefusedRecipientIsFailedPrecondition(t *testing.T) {
	s := startSend(t, smtptest.Options{RejectRcpt: func(rcpt string) error {
		if rcpt == "nobody@customer.test" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
		}
		return nil
	}})
	acct := s.account(t, owner, alice, providerPasswords[alice])
	in := s.ingest(t, owner, inbound("refused@customer.test", "Refused"), viaAccount(acct))
	req := &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply, Cc: []string{"nobody@customer.test"}, RequestId: "r"}
	_, err := s.mb.SendThreadMessage(s.u(t, owner), req)
	wantCode(t, err, codes.FailedPrecondition, errSendFailed)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "550 5.1.1 No such user here") || !strings.Contains(msg, "nobody@customer.test") {
		t.Errorf("message %q lacks the server's reply", msg)
	}
	if len(s.smtp.Messages()) != 0 || s.thread(t, owner, in.ThreadId).MessageCount != 1 {
		t.Fatal("something was sent or stored")
	}
}

func TestSend_SMTPDownIsUnavailable(t *testing.T) {
	s := startSend(t, smtptest.Options{})
	acct := s.account(t, owner, alice, providerPasswords[alice])
	in := s.ingest(t, owner, inbound("down@customer.test", "Down"), viaAccount(acct))
	// Point the account at a closed port: 1 (tcpmux), which no test can take,
	// as one could a port closed just now.
	const closed = 1
	if _, err := s.mb.UpdateMailAccount(s.u(t, owner), &mailboxv1.UpdateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{Id: acct, Smtp: &mailboxv1.ServerSettings{Host: "127.0.0.1", Port: closed,
			Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_STARTTLS}}, UpdateMask: mask("smtp")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(s.u(t, owner), 30*time.Second)
	defer cancel()
	req := &mailboxv1.SendThreadMessageRequest{ThreadId: in.ThreadId, Mode: reply, BodyText: "Hello?", RequestId: "down-1"}
	_, err := s.mb.SendThreadMessage(ctx, req)
	wantCode(t, err, codes.Unavailable, errSendFailed)
	if s.thread(t, owner, in.ThreadId).MessageCount != 1 {
		t.Fatal("stored although not sent")
	}
	// Back up: the same request_id sends (nothing went out the first time).
	if _, err := s.mb.UpdateMailAccount(s.u(t, owner), &mailboxv1.UpdateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{Id: acct, Smtp: &mailboxv1.ServerSettings{Host: s.smtp.Host(), Port: s.smtp.Port(),
			Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_STARTTLS}}, UpdateMask: mask("smtp")}); err != nil {
		t.Fatal(err)
	}
	s.send(t, owner, req)
	if len(s.smtp.Messages()) != 1 {
		t.Fatal("not sent once the server was back")
	}
	// Without the test CA the server's certificate is not trusted: UNAVAILABLE too, nothing sent.
	plain := start(t)
	pa, err := plain.mb.CreateMailAccount(plain.u(t, owner), &mailboxv1.CreateMailAccountRequest{MailAccount: &mailboxv1.MailAccount{
		EmailAddress: alice, Imap: &mailboxv1.ServerSettings{Host: "127.0.0.1", Port: 1, Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_NONE},
		Smtp:     &mailboxv1.ServerSettings{Host: s.smtp.Host(), Port: s.smtp.Port(), Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_STARTTLS},
		AuthKind: mailboxv1.AuthKind_AUTH_KIND_PASSWORD}, Secret: providerPasswords[alice]})
	if err != nil {
		t.Fatal(err)
	}
	pin := plain.ingest(t, owner, inbound("tls@customer.test", "TLS"), viaAccount(pa.MailAccount.Id))
	_, err = plain.mb.SendThreadMessage(plain.u(t, owner), &mailboxv1.SendThreadMessageRequest{ThreadId: pin.ThreadId, Mode: reply})
	wantCode(t, err, codes.Unavailable, errSendFailed)
	if len(s.smtp.Messages()) != 1 {
		t.Fatal("sent over an untrusted connection")
	}
}
