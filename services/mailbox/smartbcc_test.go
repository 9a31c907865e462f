package mailbox_test

import (
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
)

// bccEnv is a mailbox service with the Smart Bcc listener on a free port.
type bccEnv struct {
	*env
	bcc string // the company's Smart Bcc address
}

func startBcc(t *testing.T) *bccEnv {
	t.Helper()
	e := start(t, "--smtp-addr", "127.0.0.1:0", "--smartbcc-domain", "bcc.example.test")
	r, err := e.mb.GetSmartBccAddress(e.u(t, owner), &mailboxv1.GetSmartBccAddressRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(r.EmailAddress, "@bcc.example.test") {
		t.Fatalf("smart bcc address %q", r.EmailAddress)
	}
	// Stable, and the same for every user of the company.
	again, err := e.mb.GetSmartBccAddress(e.u(t, bob), &mailboxv1.GetSmartBccAddressRequest{})
	if err != nil || again.EmailAddress != r.EmailAddress {
		t.Fatalf("second call: %v, %v; want %q", again, err, r.EmailAddress)
	}
	_, err = e.mb.GetSmartBccAddress(e.svc(t), &mailboxv1.GetSmartBccAddressRequest{})
	wantCode(t, err, codes.PermissionDenied, mr(mailboxv1.ErrorReason_ERROR_REASON_USER_PRINCIPAL_REQUIRED))
	return &bccEnv{env: e, bcc: r.EmailAddress}
}

// sendStep is where an SMTP transaction stopped.
type sendStep string

// send runs one transaction with net/smtp and returns the failing step and
// its error ("" and nil when the message was accepted).
func (b *bccEnv) send(t *testing.T, from string, to []string, raw []byte) (sendStep, error) {
	t.Helper()
	c, err := smtp.Dial(b.smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(from); err != nil {
		return "mail", err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return "rcpt", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "data", err
	}
	if _, err := w.Write(raw); err != nil {
		return "data", err
	}
	if err := w.Close(); err != nil {
		return "end", err
	}
	_ = c.Quit()
	return "", nil
}

func wantReply(t *testing.T, step sendStep, err error, wantStep sendStep, code int, enhanced string) {
	t.Helper()
	var te *textproto.Error
	if step != wantStep || !errors.As(err, &te) || te.Code != code || !strings.HasPrefix(te.Msg, enhanced) {
		t.Fatalf("stopped at %q with %v; want %q with %d %s", step, err, wantStep, code, enhanced)
	}
}

// swaks runs the swaks client and returns its transcript and exit code.
func (b *bccEnv) swaks(t *testing.T, args ...string) (string, int) {
	t.Helper()
	if _, err := exec.LookPath("swaks"); err != nil {
		t.Fatal("swaks not installed: apt-get install -y swaks")
	}
	cmd := exec.Command("swaks", append([]string{"--server", b.smtpAddr, "--helo", "client.test", "--timeout", "20"}, args...)...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// ownThread finds the owner's thread with a subject in INBOX or SENT.
func (b *bccEnv) ownThread(t *testing.T, subject string) *mailboxv1.Thread {
	t.Helper()
	for _, f := range []mailboxv1.Folder{inbox, sent} {
		r, err := b.mb.ListThreads(b.u(t, owner), &mailboxv1.ListThreadsRequest{Folder: f, PageSize: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range r.Threads {
			if th.Subject == subject {
				return th
			}
		}
	}
	t.Fatalf("no thread %q in the owner's inbox or sent", subject)
	return nil
}

func TestS4_SmartBccAcceptsVerifiedSender(t *testing.T) {
	b := startBcc(t)
	// net/smtp: the envelope sender is alice's verified address (any case).
	m := mail{ID: "bcc1@acme.test", From: "Alice <" + alice + ">", To: customer, Subject: "Proposal via bcc"}
	if step, err := b.send(t, "Alice@Acme.Test", []string{b.bcc}, m.raw()); err != nil {
		t.Fatalf("net/smtp: %s: %v", step, err)
	}
	th := b.ownThread(t, "Proposal via bcc")
	if !th.SmartBcc || th.MessageCount != 1 {
		t.Fatalf("thread %v: want one message with the smart_bcc flag", th)
	}

	// swaks, replying in the same thread.
	out, code := b.swaks(t, "--from", alice, "--to", b.bcc,
		"--header", "Message-Id: <bcc2@acme.test>", "--header", "From: Alice <"+alice+">",
		"--header", "To: "+customer, "--header", "Subject: Re: Proposal via bcc",
		"--header", "In-Reply-To: <bcc1@acme.test>", "--body", "Thanks, see attached terms.")
	if code != 0 || !strings.Contains(out, "<-  250") {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	th = b.ownThread(t, "Proposal via bcc")
	if !th.SmartBcc || th.MessageCount != 2 {
		t.Fatalf("thread %v: want the swaks reply joined (2 messages, smart_bcc)", th)
	}
	// Bob's mailbox is untouched (the sender's mailbox only).
	r, err := b.mb.ListThreads(b.u(t, bob), &mailboxv1.ListThreadsRequest{Folder: sent})
	if err != nil || len(r.Threads) != 0 {
		t.Fatalf("bob's sent: %v, %v", r, err)
	}
	if logs := b.Logs(); strings.Contains(logs, "Thanks, see attached") || strings.Contains(logs, b.bcc) {
		t.Error("the logs carry the message body or the Smart Bcc address")
	}
}

func TestS4_UnknownRecipientIs550(t *testing.T) {
	b := startBcc(t)
	m := mail{ID: "u1@acme.test", From: alice, To: carol, Subject: "Unknown rcpt"}
	for _, to := range []string{"zzzzzzzzzzzzzzzz@bcc.example.test", strings.Replace(b.bcc, "bcc.example.test", "other.test", 1), "postmaster@bcc.example.test"} {
		step, err := b.send(t, alice, []string{to}, m.raw())
		wantReply(t, step, err, "rcpt", 550, "5.1.1")
	}
	out, code := b.swaks(t, "--from", alice, "--to", "nosuchtoken1234@bcc.example.test")
	if code == 0 || !strings.Contains(out, "550 5.1.1") {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
}

func TestS4_UnknownSenderIs550(t *testing.T) {
	b := startBcc(t)
	m := mail{ID: "s1@acme.test", From: carol, To: alice, Subject: "Forged"}
	for _, from := range []string{carol, "", "alice@acme.test.evil"} {
		step, err := b.send(t, from, []string{b.bcc}, m.raw())
		wantReply(t, step, err, "rcpt", 550, "5.7.1")
	}
	out, code := b.swaks(t, "--from", "mallory@evil.test", "--to", b.bcc)
	if code == 0 || !strings.Contains(out, "550 5.7.1") {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	// A verified address of another company's user does not count either:
	// bob is a user of company 1 only, and this address is company 1's, so
	// use a second company's address with alice as sender.
	other, err := b.mb.GetSmartBccAddress(b.User(t, 2, 9), &mailboxv1.GetSmartBccAddressRequest{})
	if err != nil {
		t.Fatal(err)
	}
	step, err := b.send(t, alice, []string{other.EmailAddress}, m.raw())
	wantReply(t, step, err, "rcpt", 550, "5.7.1")
	for _, f := range []mailboxv1.Folder{inbox, sent} {
		if got := folderIDs(t, b.mb, b.u(t, owner), f); len(got) != 0 {
			t.Fatalf("refused mail was stored: %v", got)
		}
	}
}

func TestS4_OversizeIs552(t *testing.T) {
	b := startBcc(t)
	// SIZE is advertised.
	c, err := smtp.Dial(b.smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if ok, param := c.Extension("SIZE"); !ok || param != fmt.Sprint(20<<20) {
		t.Fatalf("SIZE extension: %v %q", ok, param)
	}
	c.Close()

	m := mail{ID: "big@acme.test", From: alice, To: carol, Subject: "Big"}
	line := strings.Repeat("x", 998) + "\r\n"
	m.Body = strings.Repeat(line, (20<<20)/len(line)+10)
	start := time.Now()
	step, err := b.send(t, alice, []string{b.bcc}, m.raw())
	wantReply(t, step, err, "end", 552, "5.3.4")
	t.Logf("21 MB refused in %v", time.Since(start))

	// Just under the limit is accepted.
	m.ID, m.Subject = "almost@acme.test", "Almost"
	m.Body = strings.Repeat(line, (20<<20)/len(line)-10)
	if step, err := b.send(t, alice, []string{b.bcc}, m.raw()); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	b.ownThread(t, "Almost")
}

func TestS4_TooManyRecipients(t *testing.T) {
	b := startBcc(t)
	to := make([]string, 11)
	for i := range to {
		to[i] = b.bcc
	}
	m := mail{ID: "many@acme.test", From: alice, To: carol, Subject: "Many"}
	step, err := b.send(t, alice, to, m.raw())
	wantReply(t, step, err, "rcpt", 452, "4.5.3")
	// Ten are fine (and store one copy).
	if step, err := b.send(t, alice, to[:10], m.raw()); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	if th := b.ownThread(t, "Many"); th.MessageCount != 1 {
		t.Fatalf("thread %v", th)
	}

	// The listener stops with the service.
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", b.smtpAddr, time.Second); err == nil {
		defer c.Close()
		t.Fatalf("SMTP still accepting after the service stopped (%v -> %v)\n%s", c.LocalAddr(), c.RemoteAddr(), b.Logs())
	}
}

func TestS3_SmartBccCopyOfIngestedMessageStoredOnce(t *testing.T) {
	b := startBcc(t)
	acct, err := b.mb.CreateMailAccount(b.u(t, owner), &mailboxv1.CreateMailAccountRequest{MailAccount: testAccount(alice)})
	if err != nil {
		t.Fatal(err)
	}
	m := mail{ID: "once@acme.test", From: "Alice <" + alice + ">", To: customer, Subject: "Stored once"}
	synced := b.ingest(t, owner, m, func(r *mailboxv1.IngestMessageRequest) { r.AccountId, r.Folder = acct.MailAccount.Id, "Sent" })
	if th := b.thread(t, owner, synced.ThreadId); th.SmartBcc {
		t.Fatal("synced copy already smart_bcc")
	}
	// The Smart Bcc copy arrives with a relay's headers on top.
	raw := withHeaders(m.raw(), "Received: from client.test by bcc.example.test")
	if step, err := b.send(t, alice, []string{b.bcc}, raw); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	th := b.thread(t, owner, synced.ThreadId)
	if th.MessageCount != 1 || !th.SmartBcc {
		t.Fatalf("thread %v: want one message with smart_bcc merged", th)
	}
	// And via swaks with the same Message-Id: still one.
	out, code := b.swaks(t, "--from", alice, "--to", b.bcc, "--header", "Message-Id: <once@acme.test>",
		"--header", "Subject: Stored once", "--header", "From: Alice <"+alice+">", "--header", "To: "+customer,
		"--header", "Date: Mon, 02 Mar 2026 10:00:00 +0000", "--body", "Hello, this is Stored once.")
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	if th := b.thread(t, owner, synced.ThreadId); th.MessageCount != 1 {
		t.Fatalf("after swaks copy: thread %v", th)
	}
}
