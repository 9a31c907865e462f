package mailbox_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/mailbox"
)

func TestMailAccounts(t *testing.T) {
	e := start(t)
	me := e.u(t, owner)
	var ids []int64
	for _, addr := range []string{"Alice@ACME.test", "alice.two@acme.test", "alice.three@acme.test"} {
		r, err := e.mb.CreateMailAccount(me, &mailboxv1.CreateMailAccountRequest{MailAccount: testAccount(addr)})
		if err != nil {
			t.Fatal(err)
		}
		a := r.MailAccount
		if a.UserId != owner || a.Username != strings.ToLower(addr) || a.SyncOptions.InitialWindow != mailboxv1.SyncWindow_SYNC_WINDOW_3_DAYS ||
			strings.Join(a.SyncOptions.Folders, ",") != "INBOX,Sent" || a.HasSecret {
			t.Fatalf("defaults: %v", a)
		}
		ids = append(ids, a.Id)
	}
	_, err := e.mb.CreateMailAccount(me, &mailboxv1.CreateMailAccountRequest{MailAccount: testAccount("alice@acme.test")})
	wantCode(t, err, codes.AlreadyExists, mr(mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_ALREADY_EXISTS))

	// Paging by id.
	var listed []int64
	token := ""
	for {
		r, err := e.mb.ListMailAccounts(me, &mailboxv1.ListMailAccountsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range r.MailAccounts {
			listed = append(listed, a.Id)
		}
		if token = r.NextPageToken; token == "" {
			break
		}
	}
	if len(listed) != 3 || listed[0] != ids[0] || listed[2] != ids[2] {
		t.Fatalf("listed %v, want %v", listed, ids)
	}
	// Another user sees none of them.
	if r, err := e.mb.ListMailAccounts(e.u(t, bob), &mailboxv1.ListMailAccountsRequest{}); err != nil || len(r.MailAccounts) != 0 {
		t.Fatalf("bob lists %v %v", r, err)
	}
	_, err = e.mb.GetMailAccount(e.u(t, bob), &mailboxv1.GetMailAccountRequest{MailAccountId: ids[0]})
	wantCode(t, err, codes.NotFound, mr(mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NOT_FOUND))

	// Update with a mask; renaming onto another account's address is refused.
	r, err := e.mb.UpdateMailAccount(me, &mailboxv1.UpdateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{Id: ids[1], SyncOptions: &mailboxv1.SyncOptions{
			InitialWindow: mailboxv1.SyncWindow_SYNC_WINDOW_6_MONTHS, OnlyKnownContacts: true, Folders: []string{"INBOX", "Archive", "INBOX"}}},
		UpdateMask: mask("sync_options")})
	if err != nil {
		t.Fatal(err)
	}
	if so := r.MailAccount.SyncOptions; so.InitialWindow != mailboxv1.SyncWindow_SYNC_WINDOW_6_MONTHS || !so.OnlyKnownContacts ||
		strings.Join(so.Folders, ",") != "INBOX,Archive" || r.MailAccount.EmailAddress != "alice.two@acme.test" {
		t.Fatalf("updated %v", r.MailAccount)
	}
	_, err = e.mb.UpdateMailAccount(me, &mailboxv1.UpdateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{Id: ids[1], EmailAddress: "alice@acme.test"}, UpdateMask: mask("email_address")})
	wantCode(t, err, codes.AlreadyExists, "")

	// The accounts' addresses are the user's addresses (M5).
	addrs, err := e.mb.ListUserAddresses(me, &mailboxv1.ListUserAddressesRequest{})
	if err != nil || strings.Join(addrs.EmailAddresses, ",") != "alice.three@acme.test,alice.two@acme.test,alice@acme.test" {
		t.Fatalf("addresses %v %v", addrs, err)
	}

	// Deleting an account keeps its messages.
	in := e.ingest(t, owner, inbound("acct@x", "Via account"), func(r *mailboxv1.IngestMessageRequest) { r.AccountId = ids[2] })
	if _, err := e.mb.DeleteMailAccount(me, &mailboxv1.DeleteMailAccountRequest{MailAccountId: ids[2]}); err != nil {
		t.Fatal(err)
	}
	m, err := e.mb.GetMessage(me, &mailboxv1.GetMessageRequest{MessageId: in.MessageId})
	if err != nil || m.Message.AccountId != 0 {
		t.Fatalf("message after its account was deleted: %v %v", m, err)
	}
	_, err = e.mb.DeleteMailAccount(me, &mailboxv1.DeleteMailAccountRequest{MailAccountId: ids[2]})
	wantCode(t, err, codes.NotFound, "")
}

func TestConfig_BadMailboxSettingsStopTheStart(t *testing.T) {
	keys := servicetest.NewKeySpec(t)
	tests := []struct{ name, flag, value, want string }{
		{"secret keys not base64", "--secret-keys", "k1=not-base64!", "SECRET_KEYS (--secret-keys)"},
		{"secret key too short", "--secret-keys", "k1=c2hvcnQ=", "SECRET_KEYS (--secret-keys)"},
		{"visibility address", "--visibility-addr", "nohostport", "VISIBILITY_ADDR (--visibility-addr)"},
		{"visibility timeout", "--visibility-timeout", "0s", "VISIBILITY_TIMEOUT (--visibility-timeout)"},
		{"smtp address", "--smtp-addr", "nohostport", "SMTP_ADDR (--smtp-addr)"},
		{"smart bcc domain", "--smartbcc-domain", "not a domain", "SMARTBCC_DOMAIN (--smartbcc-domain)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := runCLI(t, []string{"serve", "--database-url", "postgres://x@127.0.0.1:1/x", "--auth-keys", keys, tt.flag, tt.value}, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to name %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "c2hvcnQ") {
				t.Fatal("the error echoes key material")
			}
		})
	}
}

func runCLI(t *testing.T, args []string, stderr *bytes.Buffer) error {
	t.Helper()
	return cliRun(context.Background(), mailbox.Service(), args, stderr)
}
