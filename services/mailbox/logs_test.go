package mailbox_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/sightline/sightline/pkg/auth"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/mailbox"
	"github.com/sightline/sightline/services/visibility"
)

// TestLogs_NoTokenKeyOrMessageBody runs both services at debug level through
// a scenario that touches every kind of sensitive value — bearer tokens
// (valid, expired, forged), the token signing key, the secret-sealing key,
// a mail account password, message bodies (text and HTML) — and fails if
// any of them appears in either service's logs.
func TestLogs_NoTokenKeyOrMessageBody(t *testing.T) {
	url := pgtest.New(t, bothMigrated)
	keys := servicetest.NewKeySpec(t)
	sealing := newSecretKeys(t)
	visIn := servicetest.Start(t, visibility.Service(), servicetest.Options{DatabaseURL: url, AuthKeys: keys})
	mbIn := servicetest.Start(t, mailbox.Service(), servicetest.Options{DatabaseURL: url, AuthKeys: keys, Args: []string{
		"--visibility-addr", visIn.Addr, "--secret-keys", sealing}})
	vc := visibilityv1.NewVisibilityServiceClient(visIn.Conn)
	mb := mailboxv1.NewMailboxServiceClient(mbIn.Conn)
	vsvc, msvc := visIn.Service(t, company), mbIn.Service(t, company)
	ownerCtx, bobCtx := mbIn.User(t, company, owner), mbIn.User(t, company, bob)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	const (
		password = "pw-Zq81-never-log-me"
		bodyText = "BODY-TEXT-7f3a9c never log the body"
		bodyHTML = "BODY-HTML-51e0b2"
	)
	seedVisibility(t, vc, vsvc)
	must(mb.SetUserAddresses(msvc, &mailboxv1.SetUserAddressesRequest{UserId: owner, EmailAddresses: []string{alice}}))
	must(mb.UpsertPerson(msvc, &mailboxv1.UpsertPersonRequest{PersonId: 100, Name: "Carol", Emails: []string{carol}}))
	must(mb.UpsertDeal(msvc, &mailboxv1.UpsertDealRequest{DealId: 10, Status: mailboxv1.DealStatus_DEAL_STATUS_OPEN, PersonIds: []int64{100}}))
	must(mb.CreateMailAccount(ownerCtx, &mailboxv1.CreateMailAccountRequest{MailAccount: testAccount(alice), Secret: password}))

	html := "MIME-Version: 1.0\r\nMessage-ID: <logs-2@x>\r\nFrom: " + customer + "\r\nTo: " + alice + "\r\nSubject: Re: Logs\r\n" +
		"In-Reply-To: <logs-1@x>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>" + bodyHTML + "</p>\r\n"
	r, err := mb.IngestMessage(msvc, &mailboxv1.IngestMessageRequest{UserId: owner, Folder: "INBOX",
		Raw: mail{ID: "logs-1@x", From: customer, To: alice, Subject: "Logs", Body: bodyText}.raw()})
	if err != nil {
		t.Fatal(err)
	}
	must(mb.BatchIngestMessages(msvc, &mailboxv1.BatchIngestMessagesRequest{UserId: owner,
		Messages: []*mailboxv1.IngestMessageRequest{{Folder: "INBOX", Raw: []byte(html)}}}))
	must(mb.ShareThreads(ownerCtx, &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{r.GetThreadId()}}))
	must(mb.GetMessage(ownerCtx, &mailboxv1.GetMessageRequest{MessageId: r.GetMessageId()}))
	must(mb.ListItemThreads(bobCtx, &mailboxv1.ListItemThreadsRequest{Item: dealRef(10)}))
	must(mb.GetItemThread(bobCtx, &mailboxv1.GetItemThreadRequest{Item: dealRef(10), ThreadId: r.GetThreadId()}))
	must(mb.CheckReplyPermission(bobCtx, &mailboxv1.CheckReplyPermissionRequest{ThreadId: r.GetThreadId()}))
	// Refused calls log too: an expired token, a token of an unknown key, a malformed one.
	expired, err := auth.Mint(mbIn.Key, auth.Principal{Kind: auth.KindUser, CompanyID: company, UserID: owner}, -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	forged := tokenOf(visIn.User(t, company, owner))[:40] + "AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBB"
	for _, tok := range []string{expired, forged, "not-a-jwt-Qx9"} {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
		if _, err := mb.GetMailSettings(ctx, &mailboxv1.GetMailSettingsRequest{}); err == nil {
			t.Fatalf("token %q accepted", tok)
		}
		if _, err := vc.GetCompany(ctx, &visibilityv1.GetCompanyRequest{}); err == nil {
			t.Fatalf("token %q accepted", tok)
		}
	}

	secrets := map[string]string{
		"account password":              password,
		"message text body":             "BODY-TEXT-7f3a9c",
		"message HTML body":             bodyHTML,
		"token signing key":             keys[strings.LastIndex(keys, ":")+1:],
		"secret sealing key":            sealing[strings.Index(sealing, "=")+1:],
		"expired token":                 expired,
		"forged token":                  forged,
		"malformed token":               "not-a-jwt-Qx9",
		"mailbox owner's token":         tokenOf(ownerCtx),
		"mailbox service token":         tokenOf(msvc),
		"visibility service token":      tokenOf(vsvc),
		"signature of a user's token":   tokenOf(bobCtx)[strings.LastIndex(tokenOf(bobCtx), ".")+1:],
		"token forwarded to visibility": tokenOf(bobCtx),
	}
	for svc, logs := range map[string]string{"mailbox": mbIn.Logs(), "visibility": visIn.Logs()} {
		if len(logs) < 1000 {
			t.Fatalf("%s logged only %d bytes: the scenario did not run at debug level", svc, len(logs))
		}
		for what, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("the %s logs contain the %s", svc, what)
			}
		}
	}
}

// tokenOf returns the bearer token a test context sends.
func tokenOf(ctx context.Context) string {
	md, _ := metadata.FromOutgoingContext(ctx)
	for _, v := range md.Get("authorization") {
		return strings.TrimPrefix(v, "Bearer ")
	}
	return ""
}
