package server

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"

	"github.com/sightline/sightline/pkg/apierr"
	"github.com/sightline/sightline/pkg/auth"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/services/visibility/internal/engine"
	"github.com/sightline/sightline/services/visibility/internal/policy"
	"github.com/sightline/sightline/services/visibility/internal/store"
)

// Domain is the ErrorInfo domain of the visibility service's own errors.
const Domain = "visibility.sightline.dev"

// Limits on request sizes.
const (
	MaxBatch        = 1000
	DefaultPageSize = 100
	MaxPageSize     = 1000
	MaxNameLength   = 255
)

// Server implements visibilityv1.VisibilityServiceServer.
type Server struct {
	visibilityv1.UnimplementedVisibilityServiceServer
	store     *store.Store
	engine    *engine.Engine
	decisions *decisionMetrics
}

// New returns the handlers; reg receives the decision metrics (registering
// them twice panics, as with engine.New).
func New(st *store.Store, eng *engine.Engine, reg prometheus.Registerer) *Server {
	return &Server{store: st, engine: eng, decisions: newDecisionMetrics(reg)}
}

func domainErr(code codes.Code, reason visibilityv1.ErrorReason, format string, args ...any) *apierr.Error {
	return apierr.New(code, Domain, reason.String(), format, args...)
}

// caller returns the verified principal (the auth interceptor guarantees one).
func caller(ctx context.Context) auth.Principal {
	p, _ := auth.FromContext(ctx)
	return p
}

// requireService allows only service principals.
func requireService(p auth.Principal) error {
	if !p.IsService() {
		return domainErr(codes.PermissionDenied, visibilityv1.ErrorReason_ERROR_REASON_SERVICE_PRINCIPAL_REQUIRED,
			"this method is for service principals")
	}
	return nil
}

// requireManager allows service principals and users with account settings access (V6).
func (s *Server) requireManager(ctx context.Context, p auth.Principal) error {
	if p.IsService() {
		return nil
	}
	ok, err := s.store.HasAccountSettings(ctx, p.CompanyID, p.UserID)
	if err != nil {
		return err
	}
	if !ok {
		return domainErr(codes.PermissionDenied, visibilityv1.ErrorReason_ERROR_REASON_ACCOUNT_SETTINGS_REQUIRED,
			"this method needs account settings access")
	}
	return nil
}

// subject resolves the user a decision is about: 0 means the calling user; a
// user may ask only about itself, a service about any user of its company.
func subject(p auth.Principal, userID int64) (policy.UserID, error) {
	if p.IsUser() {
		if userID != 0 && userID != p.UserID {
			return 0, domainErr(codes.PermissionDenied, visibilityv1.ErrorReason_ERROR_REASON_SUBJECT_NOT_CALLER,
				"a user may ask about its own access only")
		}
		return policy.UserID(p.UserID), nil
	}
	if userID <= 0 {
		return 0, apierr.InvalidArgument(apierr.Field("user_id", "required for service principals"))
	}
	return policy.UserID(userID), nil
}

// mapErr turns store and engine errors into statuses with their reasons.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var nf *store.NotFoundError
	var limit *store.LimitError
	switch {
	case errors.As(err, &nf):
		return notFoundErr(nf.Kind, nf.ID)
	case errors.Is(err, store.ErrCompanyNotFound):
		return domainErr(codes.NotFound, visibilityv1.ErrorReason_ERROR_REASON_COMPANY_NOT_FOUND,
			"the company is not set up; a service principal calls CreateCompany first")
	case errors.Is(err, store.ErrCompanyExists):
		return domainErr(codes.AlreadyExists, visibilityv1.ErrorReason_ERROR_REASON_COMPANY_ALREADY_EXISTS, "the company already exists")
	case errors.As(err, &limit):
		e := domainErr(codes.ResourceExhausted, visibilityv1.ErrorReason_ERROR_REASON_GROUP_LIMIT_EXCEEDED,
			"the %s plan with %d extra groups allows %d custom groups", limit.Plan, limit.Extra, limit.Limit)
		e.Quota = []apierr.QuotaViolation{{Subject: "custom_groups", Description: limit.Error()}}
		return e
	case errors.Is(err, store.ErrGroupNotEmpty):
		return domainErr(codes.FailedPrecondition, visibilityv1.ErrorReason_ERROR_REASON_GROUP_NOT_EMPTY,
			"the group has members or subgroups; set move_members_and_subgroups to move them")
	case errors.Is(err, store.ErrGroupCycle):
		return domainErr(codes.FailedPrecondition, visibilityv1.ErrorReason_ERROR_REASON_GROUP_CYCLE,
			"the new parent is the group itself or one of its subgroups")
	case errors.Is(err, store.ErrDefaultGroupImmutable):
		return domainErr(codes.FailedPrecondition, visibilityv1.ErrorReason_ERROR_REASON_DEFAULT_GROUP_IMMUTABLE,
			"the default group cannot be deleted or moved")
	case errors.Is(err, store.ErrLastVisiblePipeline):
		return domainErr(codes.FailedPrecondition, visibilityv1.ErrorReason_ERROR_REASON_LAST_VISIBLE_PIPELINE,
			"a group must see at least one pipeline")
	case errors.Is(err, store.ErrVisibleToNotInPlan):
		return domainErr(codes.FailedPrecondition, visibilityv1.ErrorReason_ERROR_REASON_VISIBLE_TO_NOT_IN_PLAN,
			"the company's plan offers only VISIBLE_TO_OWNER and VISIBLE_TO_ENTIRE_COMPANY")
	case errors.Is(err, store.ErrChangeVisibilityDenied):
		return domainErr(codes.PermissionDenied, visibilityv1.ErrorReason_ERROR_REASON_CHANGE_VISIBILITY_NOT_PERMITTED,
			"setting a visible_to other than the group default needs the permission to change visibility of items")
	case errors.Is(err, store.ErrRequestIDReused):
		return apierr.New(codes.AlreadyExists, apierr.CommonDomain, commonv1.ErrorReason_ERROR_REASON_REQUEST_ID_REUSED.String(),
			"request_id was already used for a different request")
	case errors.Is(err, engine.ErrVersionNotReached):
		return domainErr(codes.FailedPrecondition, visibilityv1.ErrorReason_ERROR_REASON_VERSION_NOT_REACHED,
			"min_version is newer than the company's current version")
	}
	return err
}

func notFoundErr(kind error, id int64) error {
	reason, what := visibilityv1.ErrorReason_ERROR_REASON_UNSPECIFIED, "object"
	switch kind {
	case store.ErrUserNotFound:
		reason, what = visibilityv1.ErrorReason_ERROR_REASON_USER_NOT_FOUND, "user"
	case store.ErrGroupNotFound:
		reason, what = visibilityv1.ErrorReason_ERROR_REASON_GROUP_NOT_FOUND, "group"
	case store.ErrPipelineNotFound:
		reason, what = visibilityv1.ErrorReason_ERROR_REASON_PIPELINE_NOT_FOUND, "pipeline"
	case store.ErrItemNotFound:
		reason, what = visibilityv1.ErrorReason_ERROR_REASON_ITEM_NOT_FOUND, "item"
	}
	return domainErr(codes.NotFound, reason, "%s %d not found", what, id).WithMetadata("id", itoa(id))
}
