package mailbox_test

import (
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/sightline/sightline/pkg/apierr"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/servicetest"
)

// M7 with a contact index imported in bulk: BatchUpsertPersons and
// BatchUpsertDeals store what the single upserts store (a thread links the
// person, its organization and its one open deal), count the new ones,
// replace email and person sets, and refuse a batch with one bad request
// or one id twice without storing any of it. Ids past 2^31 (the CRM's are
// int64) pass. Another company's import of the same address stays its own.
func TestM7_BatchImportedContactIndexLinks(t *testing.T) {
	e := start(t)
	svc := e.svc(t)
	const dave = "dave@customer.test"
	const bigOrg = 3_000_000_000 // a CRM id past 2^31: an int4 parameter would refuse it
	open, won := mailboxv1.DealStatus_DEAL_STATUS_OPEN, mailboxv1.DealStatus_DEAL_STATUS_WON
	persons := func(reqs ...*mailboxv1.UpsertPersonRequest) (int32, error) {
		r, err := e.mb.BatchUpsertPersons(svc, &mailboxv1.BatchUpsertPersonsRequest{Requests: reqs})
		return r.GetCreatedCount(), err
	}
	deals := func(reqs ...*mailboxv1.UpsertDealRequest) (int32, error) {
		r, err := e.mb.BatchUpsertDeals(svc, &mailboxv1.BatchUpsertDealsRequest{Requests: reqs})
		return r.GetCreatedCount(), err
	}
	// Another company imports the same address with its own person and open
	// deal first: none of it may reach this company's links (V9).
	other := e.Service(t, company+1)
	servicetest.Try(e.mb.BatchUpsertPersons(other, &mailboxv1.BatchUpsertPersonsRequest{Requests: []*mailboxv1.UpsertPersonRequest{
		{PersonId: 900, OrganizationId: 9000, Name: "Other Carol", Emails: []string{carol}}}})).Must(t)
	servicetest.Try(e.mb.BatchUpsertDeals(other, &mailboxv1.BatchUpsertDealsRequest{Requests: []*mailboxv1.UpsertDealRequest{
		{DealId: 90, Status: open, PersonIds: []int64{900}}}})).Must(t)
	created := func(n int32, err error) int32 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := created(persons(
		&mailboxv1.UpsertPersonRequest{PersonId: 100, OrganizationId: 500, Name: "Carol", Emails: []string{carol}},
		&mailboxv1.UpsertPersonRequest{PersonId: 101, OrganizationId: bigOrg, Name: "Dave", Emails: []string{dave}})); n != 2 {
		t.Fatalf("created %d, want 2", n)
	}
	if n := created(deals(
		&mailboxv1.UpsertDealRequest{DealId: 10, Status: open, PersonIds: []int64{100}},
		&mailboxv1.UpsertDealRequest{DealId: 11, Status: won, PersonIds: []int64{100}},
		&mailboxv1.UpsertDealRequest{DealId: 12, Status: open, PersonIds: []int64{101}})); n != 3 {
		t.Fatalf("created %d, want 3", n)
	}
	th := e.thread(t, owner, e.ingest(t, owner, inbound("b1@x", "Hello")).ThreadId)
	if th.DealId != 10 || !slices.Equal(th.PersonIds, []int64{100}) || !slices.Equal(th.OrganizationIds, []int64{500}) {
		t.Fatalf("thread %v: want deal 10, person 100, organization 500", th)
	}

	// Again, replacing: carol's address moves to person 101, deal 12 is
	// person 101's and 13 is new.
	if n := created(persons(
		&mailboxv1.UpsertPersonRequest{PersonId: 100, OrganizationId: 500, Name: "Carol"},
		&mailboxv1.UpsertPersonRequest{PersonId: 101, OrganizationId: bigOrg, Name: "Dave", Emails: []string{dave, carol}},
		&mailboxv1.UpsertPersonRequest{PersonId: 102, Name: "Erin"})); n != 1 {
		t.Fatalf("created %d, want 1", n)
	}
	if n := created(deals(
		&mailboxv1.UpsertDealRequest{DealId: 10, Status: won, PersonIds: []int64{100}},
		&mailboxv1.UpsertDealRequest{DealId: 13, Status: won, PersonIds: []int64{102}})); n != 1 {
		t.Fatalf("created %d, want 1", n)
	}
	th = e.thread(t, owner, e.ingest(t, owner, inbound("b2@x", "Another matter")).ThreadId)
	if th.DealId != 12 || !slices.Equal(th.PersonIds, []int64{101}) || !slices.Equal(th.OrganizationIds, []int64{bigOrg}) {
		t.Fatalf("thread %v after the second import: want deal 12, person 101, organization %d", th, int64(bigOrg))
	}

	// Refused whole: one bad request, an id twice, none, too many.
	before := e.snapshot(t)
	for _, tt := range []struct {
		name  string
		call  func() (int32, error)
		field string
	}{
		{"a bad email in the second", func() (int32, error) {
			return persons(&mailboxv1.UpsertPersonRequest{PersonId: 103, Emails: []string{"erin@customer.test"}},
				&mailboxv1.UpsertPersonRequest{PersonId: 104, Emails: []string{"not an email"}})
		}, "requests[1].emails[0]"},
		{"a person twice", func() (int32, error) {
			return persons(&mailboxv1.UpsertPersonRequest{PersonId: 105}, &mailboxv1.UpsertPersonRequest{PersonId: 105})
		}, "requests[1].person_id"},
		{"a deal without status", func() (int32, error) {
			return deals(&mailboxv1.UpsertDealRequest{DealId: 14, Status: open}, &mailboxv1.UpsertDealRequest{DealId: 15})
		}, "requests[1].status"},
		{"no persons", func() (int32, error) { return persons() }, "requests"},
		{"1,001 deals", func() (int32, error) {
			reqs := make([]*mailboxv1.UpsertDealRequest, 1001)
			for i := range reqs {
				reqs[i] = &mailboxv1.UpsertDealRequest{DealId: int64(1000 + i), Status: open}
			}
			return deals(reqs...)
		}, "requests"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.call()
			wantCode(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT.String())
			var fields []string
			for _, v := range apierr.Violations(err) {
				fields = append(fields, v.Field)
			}
			if !slices.Contains(fields, tt.field) {
				t.Fatalf("violations of %v, want one of %q", fields, tt.field)
			}
			if e.snapshot(t) != before {
				t.Fatal("a refused batch changed the contact index")
			}
		})
	}
}
