package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/sightline/sightline/pkg/aip"
	"github.com/sightline/sightline/pkg/apierr"
	"github.com/sightline/sightline/pkg/auth"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/services/mailbox/internal/store"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

// maxItemThreadMessages bounds the messages GetItemThread returns.
const maxItemThreadMessages = 500

func parseItem(field string, in *mailboxv1.ItemRef) (itemRef, error) {
	var vs []apierr.FieldViolation
	t := in.GetType()
	if t < mailboxv1.ItemType_ITEM_TYPE_DEAL || t > mailboxv1.ItemType_ITEM_TYPE_ORGANIZATION {
		vs = append(vs, apierr.Field(field+".type", "must be DEAL, LEAD, PERSON or ORGANIZATION"))
	}
	vs = append(vs, positive(field+".id", in.GetId())...)
	return itemRef{store.Item{Type: store.ItemType(t), ID: in.GetId()}}, invalid(vs)
}

// visAnswer is canSee's result, passed between goroutines.
type visAnswer struct {
	ok  bool
	err error
}

// canSee asks visibility, in one round trip, whether the caller can see the item.
func (s *Server) canSee(ctx context.Context, item itemRef) (bool, error) {
	ok, err := s.vis.CanSee(ctx, []visibilityclient.Item{item.vis()})
	if err != nil {
		return false, visibilityUnavailable(err)
	}
	return ok[0], nil
}

// ListItemThreads is an item's detail view (M2): the caller's own threads
// linked to the item, shared or not, and other users' shared threads linked
// to it when the caller can see the item. Visibility is asked once per call;
// when it cannot answer the call fails with UNAVAILABLE and shows nothing.
// An item the caller cannot see, and has no thread of their own on, reads as
// NOT_FOUND.
func (s *Server) ListItemThreads(ctx context.Context, req *mailboxv1.ListItemThreadsRequest) (*mailboxv1.ListItemThreadsResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	item, err := parseItem("item", req.GetItem())
	if err != nil {
		return nil, err
	}
	size, err := aip.PageSize(req.GetPageSize(), defaultPage, maxPage)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("item_threads/%d/%d/%d/%d", p.CompanyID, p.UserID, item.Type, item.ID)
	after, err := threadCursor(req.GetPageToken(), key)
	if err != nil {
		return nil, err
	}
	// Visibility is asked while the page is read as if the caller could see
	// the item: most detail views are opened by someone who can, and the two
	// round trips overlap. Only a caller who cannot see it needs the page
	// read again (their own threads only). Nothing read speculatively is
	// returned unless visibility said yes (fail closed).
	seen := make(chan visAnswer, 1)
	go func() {
		ok, err := s.canSee(ctx, item)
		seen <- visAnswer{ok, err}
	}()
	threads, err := s.store.ItemThreads(ctx, p.CompanyID, p.UserID, item.Item, true, after, size+1)
	v := <-seen
	if v.err != nil {
		return nil, v.err
	}
	if err != nil {
		return nil, err
	}
	visible := v.ok
	if !visible {
		if threads, err = s.store.ItemThreads(ctx, p.CompanyID, p.UserID, item.Item, false, after, size+1); err != nil {
			return nil, err
		}
	}
	if !visible && len(threads) == 0 && after.IsZero() {
		return nil, itemNotFound(item)
	}
	threads, next := threadPage(threads, size, key)
	return &mailboxv1.ListItemThreadsResponse{Threads: threadsPB(threads), NextPageToken: next}, nil
}

// GetItemThread returns one thread of an item's detail view with its
// messages (the newest maxItemThreadMessages), under the rules of
// ListItemThreads. Bcc is shown to the owner only.
func (s *Server) GetItemThread(ctx context.Context, req *mailboxv1.GetItemThreadRequest) (*mailboxv1.GetItemThreadResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	item, err := parseItem("item", req.GetItem())
	if err != nil {
		return nil, err
	}
	id := req.GetThreadId()
	if err := invalid(positive("thread_id", id)); err != nil {
		return nil, err
	}
	t, linked, err := s.store.ItemThread(ctx, p.CompanyID, item.Item, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	found := err == nil && linked
	own := found && t.OwnerID == p.UserID
	if !own {
		// Asked for every thread that is not the caller's, found or not, so
		// the answer never tells which ids exist (M1, M2).
		visible, err := s.canSee(ctx, item)
		if err != nil {
			return nil, err
		}
		if !found || !t.Shared || !visible {
			return nil, threadNotFound(id)
		}
	}
	full := req.GetMessageView() != mailboxv1.MessageView_MESSAGE_VIEW_BASIC
	msgs, err := s.store.LatestMessages(ctx, p.CompanyID, t.ID, maxItemThreadMessages, full)
	if err != nil {
		return nil, err
	}
	resp := &mailboxv1.GetItemThreadResponse{Thread: threadPB(t), MoreMessages: int(t.MessageCount) > len(msgs)}
	for _, m := range msgs {
		resp.Messages = append(resp.Messages, messagePB(m, own))
	}
	return resp, nil
}

// CheckReplyPermission tells whether the caller may reply to or forward a
// thread (M5): they must be able to read it (their own, or another user's
// shared thread linked to an item they can see) and one of their addresses
// must be a participant. Unknown and unreadable threads answer NOT_VISIBLE
// alike.
func (s *Server) CheckReplyPermission(ctx context.Context, req *mailboxv1.CheckReplyPermissionRequest) (*mailboxv1.CheckReplyPermissionResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	id := req.GetThreadId()
	if err := invalid(positive("thread_id", id)); err != nil {
		return nil, err
	}
	_, reason, err := s.replyPermission(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.CheckReplyPermissionResponse{Allowed: reason == mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_ALLOWED,
		Reason: reason}, nil
}

// replyPermission decides M5 for the caller and a thread (CheckReplyPermission
// and SendThreadMessage): the thread, when the caller can read it, and
// ALLOWED, NOT_VISIBLE or NOT_A_PARTICIPANT.
func (s *Server) replyPermission(ctx context.Context, p auth.Principal, id int64) (store.Thread, mailboxv1.ReplyPermissionReason, error) {
	deny := func(r mailboxv1.ReplyPermissionReason) (store.Thread, mailboxv1.ReplyPermissionReason, error) {
		return store.Thread{}, r, nil
	}
	t, err := s.store.Thread(ctx, p.CompanyID, id)
	if errors.Is(err, store.ErrNotFound) {
		return deny(mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_NOT_VISIBLE)
	}
	if err != nil {
		return store.Thread{}, 0, err
	}
	readable := t.OwnerID == p.UserID
	if !readable && t.Shared {
		if items := linkedItems(t); len(items) > 0 {
			ok, err := s.vis.CanSee(ctx, items)
			if err != nil {
				return store.Thread{}, 0, visibilityUnavailable(err)
			}
			for _, v := range ok {
				readable = readable || v
			}
		}
	}
	if !readable {
		return deny(mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_NOT_VISIBLE)
	}
	participant, err := s.store.IsParticipant(ctx, p.CompanyID, t.ID, p.UserID)
	if err != nil {
		return store.Thread{}, 0, err
	}
	if !participant {
		return t, mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_NOT_A_PARTICIPANT, nil
	}
	return t, mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_ALLOWED, nil
}
