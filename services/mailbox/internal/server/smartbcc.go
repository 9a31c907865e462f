package server

import (
	"context"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
)

// DefaultSmartBccDomain is the domain of Smart Bcc addresses unless
// SetSmartBccDomain changes it (--smartbcc-domain).
const DefaultSmartBccDomain = "bcc.sightline.localhost"

// SetSmartBccDomain sets the domain of the addresses GetSmartBccAddress
// returns; call it before serving.
func (s *Server) SetSmartBccDomain(domain string) { s.smartBccDomain = domain }

// GetSmartBccAddress returns the caller's company's Smart Bcc address (S4),
// creating its token on first use.
func (s *Server) GetSmartBccAddress(ctx context.Context, _ *mailboxv1.GetSmartBccAddressRequest) (*mailboxv1.GetSmartBccAddressResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := s.store.SmartBccToken(ctx, p.CompanyID)
	if err != nil {
		return nil, err
	}
	domain := s.smartBccDomain
	if domain == "" {
		domain = DefaultSmartBccDomain
	}
	return &mailboxv1.GetSmartBccAddressResponse{EmailAddress: tok + "@" + domain}, nil
}
