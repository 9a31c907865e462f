package server

import (
	"context"

	"github.com/sightline/sightline/pkg/apierr"
	"github.com/sightline/sightline/pkg/auth"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
)

const maxUserAddresses = 100

// SetUserAddresses replaces a user's verified addresses (service principals).
func (s *Server) SetUserAddresses(ctx context.Context, req *mailboxv1.SetUserAddressesRequest) (*mailboxv1.SetUserAddressesResponse, error) {
	p, err := service(ctx)
	if err != nil {
		return nil, err
	}
	vs := positive("user_id", req.GetUserId())
	emails, v := normalizeEmails("email_addresses", req.GetEmailAddresses(), maxUserAddresses)
	if err := invalid(append(vs, v...)); err != nil {
		return nil, err
	}
	all, err := s.store.SetUserAddresses(ctx, p.CompanyID, req.GetUserId(), emails)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.SetUserAddressesResponse{EmailAddresses: all}, nil
}

// ListUserAddresses lists a user's addresses: a user its own, a service any
// user's of its company.
func (s *Server) ListUserAddresses(ctx context.Context, req *mailboxv1.ListUserAddressesRequest) (*mailboxv1.ListUserAddressesResponse, error) {
	p, _ := auth.FromContext(ctx)
	userID := req.GetUserId()
	switch {
	case p.IsUser():
		if userID != 0 && userID != p.UserID {
			return nil, apierr.PermissionDenied("a user may list only their own addresses")
		}
		userID = p.UserID
	case p.IsService():
		if err := invalid(positive("user_id", userID)); err != nil {
			return nil, err
		}
	default:
		return nil, apierr.PermissionDenied("no principal")
	}
	all, err := s.store.UserAddresses(ctx, p.CompanyID, userID)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.ListUserAddressesResponse{EmailAddresses: all}, nil
}
