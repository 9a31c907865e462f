package server

import (
	"context"
	"strings"

	"github.com/sightline/sightline/pkg/apierr"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

const (
	maxPersonEmails = 100
	maxDealPersons  = 1000
	maxBatchUpserts = 1000
)

// UpsertPerson creates or replaces a contact-index person (service principals).
func (s *Server) UpsertPerson(ctx context.Context, req *mailboxv1.UpsertPersonRequest) (*mailboxv1.UpsertPersonResponse, error) {
	p, err := service(ctx)
	if err != nil {
		return nil, err
	}
	person, vs := personOf("", req)
	if err := invalid(vs); err != nil {
		return nil, err
	}
	created, err := s.store.UpsertPerson(ctx, p.CompanyID, person)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.UpsertPersonResponse{Created: created}, nil
}

// personOf validates an UpsertPersonRequest; field names start with at.
func personOf(at string, req *mailboxv1.UpsertPersonRequest) (store.Person, []apierr.FieldViolation) {
	vs := positive(at+"person_id", req.GetPersonId())
	if req.GetOrganizationId() < 0 {
		vs = append(vs, apierr.Field(at+"organization_id", "must be 0 (none) or a positive id"))
	}
	name := strings.TrimSpace(req.GetName())
	vs = append(vs, text(at+"name", name, 500)...)
	emails, v := normalizeEmails(at+"emails", req.GetEmails(), maxPersonEmails)
	return store.Person{ID: req.GetPersonId(), OrganizationID: req.GetOrganizationId(), Name: name, Emails: emails},
		append(vs, v...)
}

// BatchUpsertPersons creates or replaces up to maxBatchUpserts persons in
// one transaction (service principals): any invalid one refuses them all.
func (s *Server) BatchUpsertPersons(ctx context.Context, req *mailboxv1.BatchUpsertPersonsRequest) (*mailboxv1.BatchUpsertPersonsResponse, error) {
	p, err := service(ctx)
	if err != nil {
		return nil, err
	}
	persons, err := batchOf(req.GetRequests(), personOf, func(x store.Person) int64 { return x.ID }, "person_id")
	if err != nil {
		return nil, err
	}
	n, err := s.store.UpsertPersons(ctx, p.CompanyID, persons)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.BatchUpsertPersonsResponse{CreatedCount: int32(n)}, nil
}

// batchOf validates a batch upsert's requests: 1 to maxBatchUpserts, each
// valid by one (fields named requests[i].…), no id twice.
func batchOf[R any, T any](reqs []R, one func(at string, r R) (T, []apierr.FieldViolation), id func(T) int64, idField string) ([]T, error) {
	if len(reqs) == 0 || len(reqs) > maxBatchUpserts {
		return nil, invalid([]apierr.FieldViolation{apierr.Field("requests", "1 to %d, got %d", maxBatchUpserts, len(reqs))})
	}
	out := make([]T, len(reqs))
	var vs []apierr.FieldViolation
	first := map[int64]int{}
	for i, r := range reqs {
		at := "requests[" + itoa(int64(i)) + "]."
		var v []apierr.FieldViolation
		out[i], v = one(at, r)
		vs = append(vs, v...)
		if k := id(out[i]); k > 0 {
			if j, dup := first[k]; dup {
				vs = append(vs, apierr.Field(at+idField, "%d is requests[%d].%s too: each once", k, j, idField))
			} else {
				first[k] = i
			}
		}
	}
	return out, invalid(vs)
}

// DeletePerson removes a person from the contact index (service principals).
func (s *Server) DeletePerson(ctx context.Context, req *mailboxv1.DeletePersonRequest) (*mailboxv1.DeletePersonResponse, error) {
	p, err := service(ctx)
	if err != nil {
		return nil, err
	}
	if err := invalid(positive("person_id", req.GetPersonId())); err != nil {
		return nil, err
	}
	deleted, err := s.store.DeletePerson(ctx, p.CompanyID, req.GetPersonId())
	if err != nil {
		return nil, err
	}
	return &mailboxv1.DeletePersonResponse{Deleted: deleted}, nil
}

// UpsertDeal creates or replaces a deal's status and persons (service principals).
func (s *Server) UpsertDeal(ctx context.Context, req *mailboxv1.UpsertDealRequest) (*mailboxv1.UpsertDealResponse, error) {
	p, err := service(ctx)
	if err != nil {
		return nil, err
	}
	deal, vs := dealOf("", req)
	if err := invalid(vs); err != nil {
		return nil, err
	}
	created, err := s.store.UpsertDeal(ctx, p.CompanyID, deal)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.UpsertDealResponse{Created: created}, nil
}

// dealOf validates an UpsertDealRequest; field names start with at.
func dealOf(at string, req *mailboxv1.UpsertDealRequest) (store.Deal, []apierr.FieldViolation) {
	vs := positive(at+"deal_id", req.GetDealId())
	if st := req.GetStatus(); st < mailboxv1.DealStatus_DEAL_STATUS_OPEN || st > mailboxv1.DealStatus_DEAL_STATUS_DELETED {
		vs = append(vs, apierr.Field(at+"status", "must be OPEN, WON, LOST or DELETED"))
	}
	if len(req.GetPersonIds()) > maxDealPersons {
		vs = append(vs, apierr.Field(at+"person_ids", "at most %d", maxDealPersons))
	}
	persons := make([]int64, 0, len(req.GetPersonIds()))
	for i, id := range req.GetPersonIds() {
		if id <= 0 {
			vs = append(vs, apierr.Field(at+"person_ids["+itoa(int64(i))+"]", "must be a positive id"))
		}
		persons = append(persons, id)
	}
	return store.Deal{ID: req.GetDealId(), Status: int16(req.GetStatus()), PersonIDs: persons}, vs
}

// BatchUpsertDeals creates or replaces up to maxBatchUpserts deals in one
// transaction (service principals): any invalid one refuses them all.
func (s *Server) BatchUpsertDeals(ctx context.Context, req *mailboxv1.BatchUpsertDealsRequest) (*mailboxv1.BatchUpsertDealsResponse, error) {
	p, err := service(ctx)
	if err != nil {
		return nil, err
	}
	deals, err := batchOf(req.GetRequests(), dealOf, func(x store.Deal) int64 { return x.ID }, "deal_id")
	if err != nil {
		return nil, err
	}
	n, err := s.store.UpsertDeals(ctx, p.CompanyID, deals)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.BatchUpsertDealsResponse{CreatedCount: int32(n)}, nil
}

// DeleteDeal marks a deal deleted (service principals): it never receives a new link (M7).
func (s *Server) DeleteDeal(ctx context.Context, req *mailboxv1.DeleteDealRequest) (*mailboxv1.DeleteDealResponse, error) {
	p, err := service(ctx)
	if err != nil {
		return nil, err
	}
	if err := invalid(positive("deal_id", req.GetDealId())); err != nil {
		return nil, err
	}
	if err := s.store.DeleteDeal(ctx, p.CompanyID, req.GetDealId()); err != nil {
		return nil, err
	}
	return &mailboxv1.DeleteDealResponse{}, nil
}
