package apierr

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
)

// CommonDomain is the ErrorInfo domain of errors any Sightline service can return.
const CommonDomain = "sightline.dev"

// FieldViolation is one invalid request field (google.rpc.BadRequest).
type FieldViolation struct {
	Field       string // path in the request, e.g. "group.parent_id"
	Description string
}

// QuotaViolation is one exceeded limit (google.rpc.QuotaFailure).
type QuotaViolation struct {
	Subject     string
	Description string
}

// Error is a domain error with everything the client is allowed to see.
type Error struct {
	Code       codes.Code
	Domain     string
	Reason     string
	Message    string // safe for the client
	Metadata   map[string]string
	Violations []FieldViolation
	Quota      []QuotaViolation
	cause      error // for logs only; never sent
}

// New returns an error with a code, ErrorInfo domain and reason, and a client-safe message.
func New(code codes.Code, domain, reason, format string, args ...any) *Error {
	return &Error{Code: code, Domain: domain, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// InvalidArgument returns INVALID_ARGUMENT with BadRequest field violations.
func InvalidArgument(violations ...FieldViolation) *Error {
	msg := "invalid request"
	if len(violations) > 0 {
		msg = "invalid " + violations[0].Field + ": " + violations[0].Description
		if len(violations) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(violations)-1)
		}
	}
	return &Error{
		Code:       codes.InvalidArgument,
		Domain:     CommonDomain,
		Reason:     commonv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT.String(),
		Message:    msg,
		Violations: violations,
	}
}

// Field is shorthand for a FieldViolation.
func Field(field, format string, args ...any) FieldViolation {
	return FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)}
}

// Unavailable returns UNAVAILABLE for a dependency that did not answer; cause is logged, not sent.
func Unavailable(dependency string, cause error) *Error {
	return &Error{
		Code:     codes.Unavailable,
		Domain:   CommonDomain,
		Reason:   commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE.String(),
		Message:  dependency + " is unavailable; retry later",
		Metadata: map[string]string{"dependency": dependency},
		cause:    cause,
	}
}

// PermissionDenied returns PERMISSION_DENIED with the common reason.
func PermissionDenied(format string, args ...any) *Error {
	return New(codes.PermissionDenied, CommonDomain, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED.String(), format, args...)
}

// InvalidPageToken returns INVALID_ARGUMENT for a page token that cannot be used.
func InvalidPageToken() *Error {
	e := InvalidArgument(Field("page_token", "malformed, expired or issued for another request"))
	e.Reason = commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN.String()
	return e
}

// WithMetadata adds ErrorInfo metadata and returns e.
func (e *Error) WithMetadata(kv ...string) *Error {
	if e.Metadata == nil {
		e.Metadata = make(map[string]string, len(kv)/2)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Metadata[kv[i]] = kv[i+1]
	}
	return e
}

// WithCause records an underlying error for the logs and returns e.
func (e *Error) WithCause(err error) *Error { e.cause = err; return e }

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.cause }

// GRPCStatus makes *Error usable directly as a handler's return value.
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(e.Code, e.Message)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: e.Reason, Domain: e.Domain, Metadata: e.Metadata}}
	if len(e.Violations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range e.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
		}
		details = append(details, br)
	}
	if len(e.Quota) > 0 {
		qf := &errdetails.QuotaFailure{}
		for _, v := range e.Quota {
			qf.Violations = append(qf.Violations, &errdetails.QuotaFailure_Violation{Subject: v.Subject, Description: v.Description})
		}
		details = append(details, qf)
	}
	withDetails, err := st.WithDetails(details...)
	if err != nil {
		return st // details failed to marshal: still send the code and message
	}
	return withDetails
}

// ToStatus converts any error into the status to send. The second result is
// true when err was unexpected (the caller should log it as an error).
func ToStatus(err error) (*status.Status, bool) {
	if err == nil {
		return status.New(codes.OK, ""), false
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae.GRPCStatus(), false
	}
	if st, ok := status.FromError(err); ok {
		return st, st.Code() == codes.Internal || st.Code() == codes.Unknown
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "the call was cancelled"), false
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "the deadline was exceeded"), false
	}
	internal := New(codes.Internal, CommonDomain, commonv1.ErrorReason_ERROR_REASON_INTERNAL.String(),
		"internal error; see the server log for this request id")
	return internal.GRPCStatus(), true
}

// Reason returns the ErrorInfo reason carried by a status error, or "".
func Reason(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// Violations returns the BadRequest field violations carried by a status
// error (nil when there are none).
func Violations(err error) []FieldViolation {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	var out []FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return out
}
