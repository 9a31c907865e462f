package server

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline/sightline/pkg/aip"
	"github.com/sightline/sightline/pkg/apierr"
	"github.com/sightline/sightline/pkg/auth"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/secretbox"
	"github.com/sightline/sightline/services/mailbox/internal/mailconn"
	"github.com/sightline/sightline/services/mailbox/internal/store"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

// Domain is the ErrorInfo domain of the mailbox's own errors.
const Domain = "mailbox.sightline.dev"

// Server implements mailboxv1.MailboxServiceServer.
type Server struct {
	mailboxv1.UnimplementedMailboxServiceServer
	store *store.Store
	vis   visibilityclient.Checker
	box   *secretbox.Box // nil: no SECRET_KEYS, secrets cannot be stored
	now   func() time.Time

	smartBccDomain string // "": DefaultSmartBccDomain

	provider mailconn.Options // connections to users' IMAP/SMTP servers (SetProviderOptions)
}

// SetProviderOptions sets how the server connects to users' IMAP and SMTP
// servers (extra trusted CAs: --provider-ca-file); call it before serving.
func (s *Server) SetProviderOptions(o mailconn.Options) { s.provider = o }

// New returns the handlers over st. vis answers what the caller can see
// (M2); box seals mail account secrets (S5) and may be nil.
func New(st *store.Store, vis visibilityclient.Checker, box *secretbox.Box) *Server {
	return &Server{store: st, vis: vis, box: box, now: time.Now}
}

// user returns the calling user: a mailbox is always its user's own (M1).
func user(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || !p.IsUser() {
		return auth.Principal{}, apierr.New(codes.PermissionDenied, Domain,
			mailboxv1.ErrorReason_ERROR_REASON_USER_PRINCIPAL_REQUIRED.String(),
			"this method acts on the caller's own mail and needs a user token")
	}
	return p, nil
}

// service returns the calling service principal (the CRM, sync workers).
func service(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || !p.IsService() {
		return auth.Principal{}, apierr.New(codes.PermissionDenied, Domain,
			mailboxv1.ErrorReason_ERROR_REASON_SERVICE_PRINCIPAL_REQUIRED.String(),
			"this method is for services of the company and needs a service token")
	}
	return p, nil
}

func settingsPB(s store.Settings) *mailboxv1.MailSettings {
	out := &mailboxv1.MailSettings{DefaultSharing: mailboxv1.Sharing(s.DefaultSharing), TwoWaySync: s.TwoWaySync}
	if !s.UpdateTime.IsZero() {
		out.UpdateTime = timestamppb.New(s.UpdateTime)
	}
	return out
}

// GetMailSettings returns the caller's settings.
func (s *Server) GetMailSettings(ctx context.Context, _ *mailboxv1.GetMailSettingsRequest) (*mailboxv1.GetMailSettingsResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.store.Settings(ctx, p.CompanyID, p.UserID)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.GetMailSettingsResponse{Settings: settingsPB(st)}, nil
}

// UpdateMailSettings changes the caller's settings. A new default sharing
// applies to threads that arrive afterwards (M4).
func (s *Server) UpdateMailSettings(ctx context.Context, req *mailboxv1.UpdateMailSettingsRequest) (*mailboxv1.UpdateMailSettingsResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	paths, err := aip.MaskPaths(req.GetUpdateMask(), "default_sharing", "two_way_sync")
	if err != nil {
		return nil, err
	}
	want := req.GetSettings()
	if paths["default_sharing"] {
		if v := want.GetDefaultSharing(); v != mailboxv1.Sharing_SHARING_PRIVATE && v != mailboxv1.Sharing_SHARING_SHARED {
			return nil, apierr.InvalidArgument(apierr.Field("settings.default_sharing", "must be SHARING_PRIVATE or SHARING_SHARED"))
		}
	}
	st, err := s.store.UpdateSettings(ctx, p.CompanyID, p.UserID, func(cur *store.Settings) {
		if paths["default_sharing"] {
			cur.DefaultSharing = int16(want.GetDefaultSharing())
		}
		if paths["two_way_sync"] {
			cur.TwoWaySync = want.GetTwoWaySync()
		}
	})
	if err != nil {
		return nil, err
	}
	return &mailboxv1.UpdateMailSettingsResponse{Settings: settingsPB(st)}, nil
}
