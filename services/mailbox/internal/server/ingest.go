package server

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

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

// Limits of BatchIngestMessages: the count, and the raw bytes in all (the
// gRPC limit on a request is 32 MiB by default).
const (
	MaxIngestBatch      = store.MaxBatch
	MaxIngestBatchBytes = 32 << 20
)

// IngestMessage stores one raw message in a user's mailbox (service
// principals): the path of IMAP sync and Smart Bcc. Parsing failures store
// nothing; everything else happens in one transaction (see store.Ingest).
func (s *Server) IngestMessage(ctx context.Context, req *mailboxv1.IngestMessageRequest) (*mailboxv1.IngestMessageResponse, error) {
	p, err := service(ctx)
	if err != nil {
		return nil, err
	}
	if err := invalid(validateIngest("", req)); err != nil {
		return nil, err
	}
	params, err := s.ingestParams("", p.CompanyID, req)
	if err != nil {
		return nil, err
	}
	res, err := s.store.Ingest(ctx, params)
	if err != nil {
		return nil, storeErr(err)
	}
	logging.AddFields(ctx, zap.Int64("user_id", req.GetUserId()), zap.Int64("thread_id", res.ThreadID),
		zap.Int64("message_id", res.MessageID), zap.Bool("duplicate", res.Duplicate))
	return ingestResponse(res), nil
}

// BatchIngestMessages stores up to MaxIngestBatch messages of one user in
// one transaction, in order (service principals). It is all or nothing: any
// invalid, malformed or oversized message fails the call, naming it
// (messages[i]), and nothing is stored. Messages are parsed in parallel;
// storing takes one commit for the batch instead of one per message.
func (s *Server) BatchIngestMessages(ctx context.Context, req *mailboxv1.BatchIngestMessagesRequest) (*mailboxv1.BatchIngestMessagesResponse, error) {
	p, err := service(ctx)
	if err != nil {
		return nil, err
	}
	msgs := req.GetMessages()
	vs := positive("user_id", req.GetUserId())
	if req.GetAccountId() < 0 {
		vs = append(vs, apierr.Field("account_id", "must be 0 (Smart Bcc) or a positive id"))
	}
	switch {
	case len(msgs) == 0:
		vs = append(vs, apierr.Field("messages", "at least one message"))
	case len(msgs) > MaxIngestBatch:
		vs = append(vs, apierr.Field("messages", "at most %d messages", MaxIngestBatch))
	}
	total := 0
	for i, m := range msgs {
		f := fmt.Sprintf("messages[%d].", i)
		if m.GetUserId() != 0 && m.GetUserId() != req.GetUserId() {
			vs = append(vs, apierr.Field(f+"user_id", "must be 0 or the batch's user_id"))
		}
		if m.GetAccountId() != 0 && m.GetAccountId() != req.GetAccountId() {
			vs = append(vs, apierr.Field(f+"account_id", "must be 0 or the batch's account_id"))
		}
		vs = append(vs, validateEntry(f, m)...)
		total += len(m.GetRaw())
	}
	if total > MaxIngestBatchBytes {
		vs = append(vs, apierr.Field("messages", "at most %d raw bytes in all, got %d", MaxIngestBatchBytes, total))
	}
	if err := invalid(vs); err != nil {
		return nil, err
	}

	params := make([]store.IngestParams, len(msgs))
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(msgs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				entry := msgs[i]
				// The batch's user and account apply to every entry.
				one := &mailboxv1.IngestMessageRequest{UserId: req.GetUserId(), AccountId: req.GetAccountId(),
					Folder: entry.GetFolder(), Raw: entry.GetRaw(), SmartBcc: entry.GetSmartBcc(), Seen: entry.GetSeen(),
					ReceivedTime: entry.GetReceivedTime(), RequestId: entry.GetRequestId()}
				params[i], errs[i] = s.ingestParams(fmt.Sprintf("messages[%d].", i), p.CompanyID, one)
			}
		}()
	}
	for i := range msgs {
		next <- i
	}
	close(next)
	wg.Wait()
	// The first bad message in order is the one reported.
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	res, err := s.store.IngestBatch(ctx, params, nil)
	if err != nil {
		var be *store.BatchError
		if errors.As(err, &be) {
			if e, ok := storeErr(be.Err).(*apierr.Error); ok {
				return nil, e.WithMetadata("message_index", itoa(int64(be.Index)))
			}
		}
		return nil, storeErr(err)
	}
	out := &mailboxv1.BatchIngestMessagesResponse{Results: make([]*mailboxv1.IngestMessageResponse, len(res))}
	dups := 0
	for i, r := range res {
		out.Results[i] = ingestResponse(r)
		if r.Duplicate {
			dups++
		}
	}
	logging.AddFields(ctx, zap.Int64("user_id", req.GetUserId()), zap.Int("messages", len(res)), zap.Int("duplicates", dups))
	return out, nil
}

func ingestResponse(r store.IngestResult) *mailboxv1.IngestMessageResponse {
	return &mailboxv1.IngestMessageResponse{ThreadId: r.ThreadID, MessageId: r.MessageID, Duplicate: r.Duplicate}
}

// validateIngest checks an IngestMessage request; prefix names the entry
// of a batch ("messages[3].") or is "".
func validateIngest(prefix string, req *mailboxv1.IngestMessageRequest) []apierr.FieldViolation {
	vs := positive(prefix+"user_id", req.GetUserId())
	if req.GetAccountId() < 0 {
		vs = append(vs, apierr.Field(prefix+"account_id", "must be 0 (Smart Bcc) or a positive id"))
	}
	return append(vs, validateEntry(prefix, req)...)
}

// validateEntry checks the fields of one message other than its user and account.
func validateEntry(prefix string, req *mailboxv1.IngestMessageRequest) []apierr.FieldViolation {
	var vs []apierr.FieldViolation
	vs = append(vs, text(prefix+"folder", req.GetFolder(), 255)...)
	vs = append(vs, text(prefix+"request_id", req.GetRequestId(), 128)...)
	if rt := req.GetReceivedTime(); rt != nil && rt.CheckValid() != nil {
		vs = append(vs, apierr.Field(prefix+"received_time", "not a valid timestamp"))
	}
	return vs
}

// ingestParams parses a validated request's message into what the store
// takes; a message that is too large or unparseable is INVALID_ARGUMENT
// naming prefix+"raw".
func (s *Server) ingestParams(prefix string, companyID int64, req *mailboxv1.IngestMessageRequest) (store.IngestParams, error) {
	if len(req.GetRaw()) > MaxRawMessageBytes {
		return store.IngestParams{}, tooLarge(prefix, len(req.GetRaw()))
	}
	msg, err := mime.Parse(req.GetRaw(), mime.Options{MaxSize: MaxRawMessageBytes})
	switch {
	case errors.Is(err, mime.ErrTooLarge):
		return store.IngestParams{}, tooLarge(prefix, len(req.GetRaw()))
	case err != nil:
		reason := "not a parseable message"
		switch {
		case errors.Is(err, mime.ErrEmpty):
			reason = "empty"
		case errors.Is(err, mime.ErrTooComplex):
			reason = "too many MIME parts or too deeply nested"
		}
		e := domainErr(codes.InvalidArgument, mailboxv1.ErrorReason_ERROR_REASON_MALFORMED_MESSAGE,
			"%sraw: %s", prefix, reason)
		e.Violations = []apierr.FieldViolation{apierr.Field(prefix+"raw", "%s", reason)}
		return store.IngestParams{}, e
	}
	params := store.IngestParams{
		CompanyID: companyID,
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
	return params, nil
}

func tooLarge(prefix string, n int) error {
	e := domainErr(codes.InvalidArgument, mailboxv1.ErrorReason_ERROR_REASON_MESSAGE_TOO_LARGE,
		"%sraw: %d bytes, at most %d", prefix, n, MaxRawMessageBytes).WithMetadata("max_bytes", itoa(MaxRawMessageBytes))
	e.Violations = []apierr.FieldViolation{apierr.Field(prefix+"raw", "at most %d bytes", MaxRawMessageBytes)}
	return e
}
