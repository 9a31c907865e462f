package server

import (
	"context"
	"errors"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"

	"github.com/sightline/sightline/pkg/apierr"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/logging"
	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// MaxRawMessageBytes is the largest message IngestMessage stores (the gRPC
// limit, --max-recv-msg-bytes, is larger so that such a request arrives and
// gets a clear answer).
const MaxRawMessageBytes = 25 << 20

// IngestMessage stores one raw message in a user's mailbox (service
// principals): the path of IMAP sync and Smart Bcc. Parsing failures store
// nothing; everything else happens in one transaction (see store.Ingest).
func (s *Server) IngestMessage(ctx context.Context, req *mailboxv1.IngestMessageRequest) (*mailboxv1.IngestMessageResponse, error) {
	p, err := service(ctx)
	if err != nil {
		return nil, err
	}
	vs := positive("user_id", req.GetUserId())
	if req.GetAccountId() < 0 {
		vs = append(vs, apierr.Field("account_id", "must be 0 (Smart Bcc) or a positive id"))
	}
	vs = append(vs, text("folder", req.GetFolder(), 255)...)
	vs = append(vs, text("request_id", req.GetRequestId(), 128)...)
	if rt := req.GetReceivedTime(); rt != nil && rt.CheckValid() != nil {
		vs = append(vs, apierr.Field("received_time", "not a valid timestamp"))
	}
	if err := invalid(vs); err != nil {
		return nil, err
	}
	if len(req.GetRaw()) > MaxRawMessageBytes {
		return nil, tooLarge(len(req.GetRaw()))
	}
	msg, err := mime.Parse(req.GetRaw(), mime.Options{MaxSize: MaxRawMessageBytes})
	switch {
	case errors.Is(err, mime.ErrTooLarge):
		return nil, tooLarge(len(req.GetRaw()))
	case err != nil:
		reason := "not a parseable message"
		switch {
		case errors.Is(err, mime.ErrEmpty):
			reason = "empty"
		case errors.Is(err, mime.ErrTooComplex):
			reason = "too many MIME parts or too deeply nested"
		}
		e := domainErr(codes.InvalidArgument, mailboxv1.ErrorReason_ERROR_REASON_MALFORMED_MESSAGE,
			"raw: %s", reason)
		e.Violations = []apierr.FieldViolation{apierr.Field("raw", "%s", reason)}
		return nil, e
	}
	params := store.IngestParams{
		CompanyID: p.CompanyID,
		UserID:    req.GetUserId(),
		AccountID: req.GetAccountId(),
		Folder:    strings.TrimSpace(req.GetFolder()),
		Msg:       msg,
		SmartBcc:  req.GetSmartBcc(),
		Seen:      req.GetSeen(),
		RequestID: req.GetRequestId(),
		Now:       s.now(),
	}
	if rt := req.GetReceivedTime(); rt != nil {
		params.ReceivedAt = rt.AsTime()
	}
	res, err := s.store.Ingest(ctx, params)
	if err != nil {
		return nil, storeErr(err)
	}
	logging.AddFields(ctx, zap.Int64("user_id", req.GetUserId()), zap.Int64("thread_id", res.ThreadID),
		zap.Int64("message_id", res.MessageID), zap.Bool("duplicate", res.Duplicate))
	return &mailboxv1.IngestMessageResponse{ThreadId: res.ThreadID, MessageId: res.MessageID, Duplicate: res.Duplicate}, nil
}

func tooLarge(n int) error {
	e := domainErr(codes.InvalidArgument, mailboxv1.ErrorReason_ERROR_REASON_MESSAGE_TOO_LARGE,
		"raw: %d bytes, at most %d", n, MaxRawMessageBytes).WithMetadata("max_bytes", itoa(MaxRawMessageBytes))
	e.Violations = []apierr.FieldViolation{apierr.Field("raw", "at most %d bytes", MaxRawMessageBytes)}
	return e
}
