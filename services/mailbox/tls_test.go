package mailbox_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/pkg/tlsconfig"
	"github.com/sightline/sightline/pkg/tlsconfig/tlstest"
	"github.com/sightline/sightline/services/mailbox"
	"github.com/sightline/sightline/services/visibility"
)

// Visibility requires client certificates (mTLS); mailbox's client verifies
// visibility's certificate and presents its own, so the detail view works.
// A mailbox with a certificate of another CA is refused by visibility and
// its detail view fails closed with UNAVAILABLE.
func TestTLS_MailboxToVisibilityOverMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "sightline-internal")
	visPair, mbPair := ca.Server(t, "visibility"), ca.Client(t, "mailbox")
	stranger := tlstest.NewCA(t, "stranger").Client(t, "mailbox")
	url := pgtest.New(t, bothMigrated)
	keys := servicetest.NewKeySpec(t)
	client := ca.Client(t, "grpcurl")
	clientTLS, err := tlsconfig.Client(ca.CertFile, client.CertFile, client.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	visIn := servicetest.Start(t, visibility.Service(), servicetest.Options{DatabaseURL: url, AuthKeys: keys, ClientTLS: clientTLS,
		Args: []string{"--tls-cert-file", visPair.CertFile, "--tls-key-file", visPair.KeyFile, "--tls-client-ca-file", ca.CertFile}})
	vc := visibilityv1.NewVisibilityServiceClient(visIn.Conn)
	vsvc := visIn.Service(t, company)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	seedVisibility(t, vc, vsvc)

	startMailbox := func(p tlstest.Pair) mailboxv1.MailboxServiceClient {
		in := servicetest.Start(t, mailbox.Service(), servicetest.Options{DatabaseURL: url, AuthKeys: keys, Args: []string{
			"--visibility-addr", visIn.Addr, "--visibility-timeout", "2s", "--sync-workers", "0",
			"--visibility-tls-ca-file", ca.CertFile, "--visibility-tls-cert-file", p.CertFile, "--visibility-tls-key-file", p.KeyFile}})
		return mailboxv1.NewMailboxServiceClient(in.Conn)
	}
	good := startMailbox(mbPair)
	svc := visIn.Service(t, company) // the same key signs tokens for both services
	must(good.UpsertPerson(svc, &mailboxv1.UpsertPersonRequest{PersonId: 100, Emails: []string{carol}}))
	must(good.UpsertDeal(svc, &mailboxv1.UpsertDealRequest{DealId: 10, Status: mailboxv1.DealStatus_DEAL_STATUS_OPEN, PersonIds: []int64{100}}))
	r, err := good.IngestMessage(svc, &mailboxv1.IngestMessageRequest{UserId: owner, Raw: inbound("tls@x", "Over mTLS").raw()})
	if err != nil {
		t.Fatal(err)
	}
	must(good.ShareThreads(visIn.User(t, company, owner), &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{r.GetThreadId()}}))

	bobCtx := visIn.User(t, company, bob)
	list, err := good.ListItemThreads(bobCtx, &mailboxv1.ListItemThreadsRequest{Item: dealRef(10)})
	if err != nil || len(list.GetThreads()) != 1 {
		t.Fatalf("detail view over mTLS: %v, %d threads; want the shared thread", err, len(list.GetThreads()))
	}

	bad := startMailbox(stranger)
	_, err = bad.ListItemThreads(bobCtx, &mailboxv1.ListItemThreadsRequest{Item: dealRef(10)})
	wantCode(t, err, codes.Unavailable, mr(mailboxv1.ErrorReason_ERROR_REASON_VISIBILITY_UNAVAILABLE))
}
