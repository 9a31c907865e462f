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
)

// UpsertPerson creates or replaces a contact-index person (service principals).
func (s *Server) UpsertPerson(ctx context.Context, req *mailboxv1.UpsertPersonRequest) (*mailboxv1.UpsertPersonResponse, error) {
	p, err := service(ctx)
	if err != nil {
		return nil, err
	}
	vs := positive("person_id", req.GetPersonId())
	if req.GetOrganizationId() < 0 {
		vs = append(vs, apierr.Field("organization_id", "must be 0 (none) or a positive id"))
	}
	name := strings.TrimSpace(req.GetName())
	vs = append(vs, text("name", name, 500)...)
	emails, v := normalizeEmails("emails", req.GetEmails(), maxPersonEmails)
	if err := invalid(append(vs, v...)); err != nil {
		return nil, err
	}
	created, err := s.store.UpsertPerson(ctx, p.CompanyID, store.Person{
		ID: req.GetPersonId(), OrganizationID: req.GetOrganizationId(), Name: name, Emails: emails})
	if err != nil {
		return nil, err
	}
	return &mailboxv1.UpsertPersonResponse{Created: created}, nil
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
	vs := positive("deal_id", req.GetDealId())
	if st := req.GetStatus(); st < mailboxv1.DealStatus_DEAL_STATUS_OPEN || st > mailboxv1.DealStatus_DEAL_STATUS_DELETED {
		vs = append(vs, apierr.Field("status", "must be OPEN, WON, LOST or DELETED"))
	}
	if len(req.GetPersonIds()) > maxDealPersons {
		vs = append(vs, apierr.Field("person_ids", "at most %d", maxDealPersons))
	}
	persons := make([]int64, 0, len(req.GetPersonIds()))
	for i, id := range req.GetPersonIds() {
		if id <= 0 {
			vs = append(vs, apierr.Field("person_ids["+itoa(int64(i))+"]", "must be a positive id"))
		}
		persons = append(persons, id)
	}
	if err := invalid(vs); err != nil {
		return nil, err
	}
	created, err := s.store.UpsertDeal(ctx, p.CompanyID, req.GetDealId(), int16(req.GetStatus()), persons)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.UpsertDealResponse{Created: created}, nil
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
