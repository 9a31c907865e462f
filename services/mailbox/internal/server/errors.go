package server

import (
	"errors"
	"strconv"

	"google.golang.org/grpc/codes"

	"github.com/sightline/sightline/pkg/apierr"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

func domainErr(code codes.Code, reason mailboxv1.ErrorReason, format string, args ...any) *apierr.Error {
	return apierr.New(code, Domain, reason.String(), format, args...)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func threadNotFound(id int64) error {
	return domainErr(codes.NotFound, mailboxv1.ErrorReason_ERROR_REASON_THREAD_NOT_FOUND,
		"thread %d not found", id).WithMetadata("thread_id", itoa(id))
}

func itemNotFound(it itemRef) error {
	return domainErr(codes.NotFound, mailboxv1.ErrorReason_ERROR_REASON_ITEM_NOT_FOUND,
		"%s %d not found", it.name(), it.ID).WithMetadata("item_type", it.name(), "item_id", itoa(it.ID))
}

// visibilityUnavailable is what the mailbox answers when visibility cannot
// decide: other users' threads are never shown by default (fail closed).
func visibilityUnavailable(cause error) error {
	return domainErr(codes.Unavailable, mailboxv1.ErrorReason_ERROR_REASON_VISIBILITY_UNAVAILABLE,
		"the visibility service cannot answer, so other users' shared threads cannot be shown; retry later").
		WithMetadata("dependency", "visibility").WithCause(cause)
}

// storeErr maps the store's sentinel errors that need no context; anything
// else passes through (database unavailability becomes UNAVAILABLE in the
// interceptor, the rest INTERNAL).
func storeErr(err error) error {
	switch {
	case errors.Is(err, store.ErrAccountExists):
		return domainErr(codes.AlreadyExists, mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_ALREADY_EXISTS,
			"you already have a mail account with this address")
	case errors.Is(err, store.ErrAccountNotFound):
		return domainErr(codes.NotFound, mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NOT_FOUND,
			"mail account not found for this user")
	case errors.Is(err, store.ErrRequestIDReused):
		return apierr.New(codes.AlreadyExists, apierr.CommonDomain, commonv1.ErrorReason_ERROR_REASON_REQUEST_ID_REUSED.String(),
			"request_id was already used for a different message")
	}
	return err
}

func accountNotFound(id int64) error {
	return domainErr(codes.NotFound, mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NOT_FOUND,
		"mail account %d not found", id).WithMetadata("mail_account_id", itoa(id))
}

func positive(field string, v int64) []apierr.FieldViolation {
	if v <= 0 {
		return []apierr.FieldViolation{apierr.Field(field, "must be a positive id")}
	}
	return nil
}

func invalid(vs []apierr.FieldViolation) error {
	if len(vs) == 0 {
		return nil
	}
	return apierr.InvalidArgument(vs...)
}
