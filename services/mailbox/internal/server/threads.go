package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/sightline/sightline/pkg/aip"
	"github.com/sightline/sightline/pkg/apierr"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/services/mailbox/internal/store"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

// Page sizes of the thread and message lists.
const (
	defaultPage  = 50
	maxPage      = 500
	maxBulkShare = 1000
)

func threadCursor(token, key string) (store.ThreadCursor, error) {
	cur, err := aip.DecodePageToken(token, key, 2)
	if err != nil || cur == nil {
		return store.ThreadCursor{}, err
	}
	return store.ThreadCursor{LastMessageAt: time.UnixMicro(cur[0]).UTC(), ID: cur[1]}, nil
}

// threadPage trims threads to size and returns the next page token.
func threadPage(threads []store.Thread, size int, key string) ([]store.Thread, string) {
	if len(threads) <= size {
		return threads, ""
	}
	threads = threads[:size]
	last := threads[size-1]
	return threads, aip.EncodePageToken(key, last.LastMessageAt.UnixMicro(), last.ID)
}

// ListThreads lists a folder of the caller's own mailbox (M1: never anyone else's).
func (s *Server) ListThreads(ctx context.Context, req *mailboxv1.ListThreadsRequest) (*mailboxv1.ListThreadsResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	folder := req.GetFolder()
	if folder < mailboxv1.Folder_FOLDER_INBOX || folder > mailboxv1.Folder_FOLDER_ARCHIVE {
		return nil, apierr.InvalidArgument(apierr.Field("folder", "must be INBOX, SENT or ARCHIVE"))
	}
	size, err := aip.PageSize(req.GetPageSize(), defaultPage, maxPage)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("threads/%d/%d/%d", p.CompanyID, p.UserID, folder)
	after, err := threadCursor(req.GetPageToken(), key)
	if err != nil {
		return nil, err
	}
	threads, err := s.store.ListThreads(ctx, p.CompanyID, p.UserID, int16(folder), after, size+1)
	if err != nil {
		return nil, err
	}
	threads, next := threadPage(threads, size, key)
	return &mailboxv1.ListThreadsResponse{Threads: threadsPB(threads), NextPageToken: next}, nil
}

// ownThread returns one of the caller's threads or THREAD_NOT_FOUND.
func (s *Server) ownThread(ctx context.Context, companyID, userID, id int64) (store.Thread, error) {
	if id <= 0 {
		return store.Thread{}, apierr.InvalidArgument(apierr.Field("thread_id", "must be a positive id"))
	}
	t, err := s.store.OwnThread(ctx, companyID, userID, id)
	if errors.Is(err, store.ErrNotFound) {
		return t, threadNotFound(id)
	}
	return t, err
}

// GetThread returns one of the caller's threads. Another user's thread reads
// as NOT_FOUND whatever the caller's permissions (M1); shared threads of
// others are reachable only through GetItemThread (M2).
func (s *Server) GetThread(ctx context.Context, req *mailboxv1.GetThreadRequest) (*mailboxv1.GetThreadResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.ownThread(ctx, p.CompanyID, p.UserID, req.GetThreadId())
	if err != nil {
		return nil, err
	}
	return &mailboxv1.GetThreadResponse{Thread: threadPB(t)}, nil
}

// ListThreadMessages lists the messages of one of the caller's threads, oldest first.
func (s *Server) ListThreadMessages(ctx context.Context, req *mailboxv1.ListThreadMessagesRequest) (*mailboxv1.ListThreadMessagesResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	id := req.GetThreadId()
	if err := invalid(positive("thread_id", id)); err != nil {
		return nil, err
	}
	size, err := aip.PageSize(req.GetPageSize(), defaultPage, maxPage)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("messages/%d/%d/%d", p.CompanyID, p.UserID, id)
	cur, err := aip.DecodePageToken(req.GetPageToken(), key, 2)
	if err != nil {
		return nil, err
	}
	var after store.MessageCursor
	if cur != nil {
		after = store.MessageCursor{MessageAt: time.UnixMicro(cur[0]).UTC(), ID: cur[1]}
	}
	if _, err := s.store.OwnThreadExists(ctx, p.CompanyID, p.UserID, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, threadNotFound(id)
		}
		return nil, err
	}
	full := req.GetView() == mailboxv1.MessageView_MESSAGE_VIEW_FULL
	msgs, err := s.store.ThreadMessages(ctx, p.CompanyID, id, after, size+1, full)
	if err != nil {
		return nil, err
	}
	resp := &mailboxv1.ListThreadMessagesResponse{}
	if len(msgs) > size {
		msgs = msgs[:size]
		last := msgs[size-1]
		resp.NextPageToken = aip.EncodePageToken(key, last.MessageAt.UnixMicro(), last.ID)
	}
	for _, m := range msgs {
		resp.Messages = append(resp.Messages, messagePB(m, true))
	}
	return resp, nil
}

// GetMessage returns one of the caller's messages, with its bodies by default.
func (s *Server) GetMessage(ctx context.Context, req *mailboxv1.GetMessageRequest) (*mailboxv1.GetMessageResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	if err := invalid(positive("message_id", req.GetMessageId())); err != nil {
		return nil, err
	}
	full := req.GetView() != mailboxv1.MessageView_MESSAGE_VIEW_BASIC
	m, err := s.store.OwnMessage(ctx, p.CompanyID, p.UserID, req.GetMessageId(), full)
	if errors.Is(err, store.ErrNotFound) {
		return nil, domainErr(codes.NotFound, mailboxv1.ErrorReason_ERROR_REASON_MESSAGE_NOT_FOUND,
			"message %d not found", req.GetMessageId()).WithMetadata("message_id", itoa(req.GetMessageId()))
	}
	if err != nil {
		return nil, err
	}
	return &mailboxv1.GetMessageResponse{Message: messagePB(m, true)}, nil
}

// UpdateThread changes the read, archived or shared flag of one of the
// caller's threads. Archiving keeps links and detail views (M6); only the
// owner changes sharing, and unsharing takes effect at once (M3).
func (s *Server) UpdateThread(ctx context.Context, req *mailboxv1.UpdateThreadRequest) (*mailboxv1.UpdateThreadResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	id := req.GetThread().GetId()
	vs := positive("thread.id", id)
	if len(req.GetUpdateMask().GetPaths()) == 0 {
		vs = append(vs, apierr.Field("update_mask", `required: any of "read", "archived", "shared"`))
	}
	if err := invalid(vs); err != nil {
		return nil, err
	}
	paths, err := aip.MaskPaths(req.GetUpdateMask(), "read", "archived", "shared")
	if err != nil {
		return nil, err
	}
	var f store.Flags
	in := req.GetThread()
	if paths["read"] {
		f.Read = ptr(in.GetRead())
	}
	if paths["archived"] {
		f.Archived = ptr(in.GetArchived())
	}
	if paths["shared"] {
		f.Shared = ptr(in.GetShared())
	}
	t, err := s.store.UpdateFlags(ctx, p.CompanyID, p.UserID, id, f)
	if errors.Is(err, store.ErrNotFound) {
		return nil, threadNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return &mailboxv1.UpdateThreadResponse{Thread: threadPB(t)}, nil
}

func ptr[T any](v T) *T { return &v }

func (s *Server) setShared(ctx context.Context, ids []int64, shared bool) (int, error) {
	p, err := user(ctx)
	if err != nil {
		return 0, err
	}
	var vs []apierr.FieldViolation
	switch {
	case len(ids) == 0:
		vs = append(vs, apierr.Field("thread_ids", "at least one"))
	case len(ids) > maxBulkShare:
		vs = append(vs, apierr.Field("thread_ids", "at most %d, got %d", maxBulkShare, len(ids)))
	}
	for i, id := range ids {
		if id <= 0 && len(vs) < 10 {
			vs = append(vs, apierr.Field(fmt.Sprintf("thread_ids[%d]", i), "must be a positive id"))
		}
	}
	if err := invalid(vs); err != nil {
		return 0, err
	}
	n, err := s.store.SetShared(ctx, p.CompanyID, p.UserID, ids, shared)
	var nf *store.NotFoundIDsError
	if errors.As(err, &nf) {
		return 0, domainErr(codes.NotFound, mailboxv1.ErrorReason_ERROR_REASON_THREAD_NOT_FOUND,
			"%d of the threads are not yours or do not exist (first: %d); nothing was changed", len(nf.IDs), nf.IDs[0]).
			WithMetadata("thread_id", itoa(nf.IDs[0]), "not_found_count", itoa(int64(len(nf.IDs))))
	}
	return n, err
}

// ShareThreads shares the caller's threads, all or nothing (M3).
func (s *Server) ShareThreads(ctx context.Context, req *mailboxv1.ShareThreadsRequest) (*mailboxv1.ShareThreadsResponse, error) {
	n, err := s.setShared(ctx, req.GetThreadIds(), true)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.ShareThreadsResponse{UpdatedCount: int32(n)}, nil
}

// UnshareThreads makes the caller's threads private, all or nothing; other
// users lose access with the commit (M3).
func (s *Server) UnshareThreads(ctx context.Context, req *mailboxv1.UnshareThreadsRequest) (*mailboxv1.UnshareThreadsResponse, error) {
	n, err := s.setShared(ctx, req.GetThreadIds(), false)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.UnshareThreadsResponse{UpdatedCount: int32(n)}, nil
}

// LinkThread links one of the caller's threads to a deal or a lead the
// caller can see. A thread has at most one deal or lead (M7); deleted deals
// receive no new links.
func (s *Server) LinkThread(ctx context.Context, req *mailboxv1.LinkThreadRequest) (*mailboxv1.LinkThreadResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	id := req.GetThreadId()
	vs := positive("thread_id", id)
	var item itemRef
	switch req.GetTarget().(type) {
	case *mailboxv1.LinkThreadRequest_DealId:
		item = itemRef{store.Item{Type: store.ItemDeal, ID: req.GetDealId()}}
		vs = append(vs, positive("deal_id", item.ID)...)
	case *mailboxv1.LinkThreadRequest_LeadId:
		item = itemRef{store.Item{Type: store.ItemLead, ID: req.GetLeadId()}}
		vs = append(vs, positive("lead_id", item.ID)...)
	default:
		vs = append(vs, apierr.Field("target", "set deal_id or lead_id"))
	}
	if err := invalid(vs); err != nil {
		return nil, err
	}
	if _, err := s.store.OwnThreadExists(ctx, p.CompanyID, p.UserID, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, threadNotFound(id)
		}
		return nil, err
	}
	if item.Type == store.ItemDeal {
		status, known, err := s.store.DealStatus(ctx, p.CompanyID, item.ID)
		if err != nil {
			return nil, err
		}
		if known && status == store.DealDeleted {
			return nil, domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_DEAL_DELETED,
				"deal %d is deleted and receives no new links", item.ID).WithMetadata("deal_id", itoa(item.ID))
		}
	}
	visible, err := s.vis.CanSee(ctx, []visibilityclient.Item{item.vis()})
	if err != nil {
		return nil, visibilityUnavailable(err)
	}
	if !visible[0] {
		return nil, itemNotFound(item)
	}
	var deal, lead int64
	if item.Type == store.ItemDeal {
		deal = item.ID
	} else {
		lead = item.ID
	}
	t, err := s.store.Link(ctx, p.CompanyID, p.UserID, id, deal, lead, req.GetReplace())
	switch {
	case errors.Is(err, store.ErrAlreadyLinked):
		return nil, domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_THREAD_ALREADY_LINKED,
			"thread %d is already linked to another deal or lead; unlink it or set replace", id).
			WithMetadata("thread_id", itoa(id))
	case errors.Is(err, store.ErrNotFound):
		return nil, threadNotFound(id)
	case err != nil:
		return nil, err
	}
	return &mailboxv1.LinkThreadResponse{Thread: threadPB(t)}, nil
}

// UnlinkThread removes the deal or lead link of one of the caller's threads.
func (s *Server) UnlinkThread(ctx context.Context, req *mailboxv1.UnlinkThreadRequest) (*mailboxv1.UnlinkThreadResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	id := req.GetThreadId()
	if err := invalid(positive("thread_id", id)); err != nil {
		return nil, err
	}
	t, err := s.store.Unlink(ctx, p.CompanyID, p.UserID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, threadNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return &mailboxv1.UnlinkThreadResponse{Thread: threadPB(t)}, nil
}

// DeleteThread deletes one of the caller's threads for good (M6).
func (s *Server) DeleteThread(ctx context.Context, req *mailboxv1.DeleteThreadRequest) (*mailboxv1.DeleteThreadResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	id := req.GetThreadId()
	if err := invalid(positive("thread_id", id)); err != nil {
		return nil, err
	}
	err = s.store.DeleteThread(ctx, p.CompanyID, p.UserID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, threadNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return &mailboxv1.DeleteThreadResponse{}, nil
}
