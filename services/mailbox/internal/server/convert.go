package server

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/services/mailbox/internal/store"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func threadPB(t store.Thread) *mailboxv1.Thread {
	out := &mailboxv1.Thread{
		Id:               t.ID,
		OwnerUserId:      t.OwnerID,
		Subject:          t.Subject,
		Snippet:          t.Snippet,
		MessageCount:     t.MessageCount,
		FirstMessageTime: ts(t.FirstMessageAt),
		LastMessageTime:  ts(t.LastMessageAt),
		DealId:           t.DealID,
		LeadId:           t.LeadID,
		PersonIds:        t.PersonIDs,
		OrganizationIds:  t.OrganizationIDs,
		Read:             t.Read,
		Archived:         t.Archived,
		Shared:           t.Shared,
		SmartBcc:         t.SmartBcc,
		HasAttachments:   t.HasAttachments,
		CreateTime:       ts(t.CreateTime),
		UpdateTime:       ts(t.UpdateTime),
	}
	for _, p := range t.Participants {
		out.Participants = append(out.Participants, &mailboxv1.Participant{Email: p.Email, Name: p.Name, PersonId: p.PersonID})
	}
	return out
}

func threadsPB(ts []store.Thread) []*mailboxv1.Thread {
	out := make([]*mailboxv1.Thread, len(ts))
	for i, t := range ts {
		out[i] = threadPB(t)
	}
	return out
}

// messagePB converts a message; Bcc only goes to the thread's owner.
func messagePB(m store.Message, forOwner bool) *mailboxv1.Message {
	addrs := func(l []store.Addr) []*mailboxv1.Address {
		out := make([]*mailboxv1.Address, len(l))
		for i, a := range l {
			out[i] = &mailboxv1.Address{Name: a.Name, Email: a.Email, PersonId: m.PersonByEmail[a.Email]}
		}
		return out
	}
	dir := mailboxv1.Direction_DIRECTION_INBOUND
	if m.Outbound {
		dir = mailboxv1.Direction_DIRECTION_OUTBOUND
	}
	out := &mailboxv1.Message{
		Id:                m.ID,
		ThreadId:          m.ThreadID,
		AccountId:         m.AccountID,
		InternetMessageId: m.InternetMessageID,
		Subject:           m.Subject,
		From:              addrs(m.Addresses.From),
		To:                addrs(m.Addresses.To),
		Cc:                addrs(m.Addresses.Cc),
		SentTime:          ts(m.SentAt),
		MessageTime:       ts(m.MessageAt),
		Snippet:           m.Snippet,
		BodyText:          m.BodyText,
		BodyHtml:          m.BodyHTML,
		HasAttachments:    m.HasAttachments,
		SizeBytes:         m.Size,
		Direction:         dir,
		Seen:              m.Seen,
		SmartBcc:          m.SmartBcc,
		Folders:           m.Folders,
	}
	if forOwner {
		out.Bcc = addrs(m.Addresses.Bcc)
	}
	for _, a := range m.Attachments {
		out.Attachments = append(out.Attachments, &mailboxv1.Attachment{Filename: a.Filename, ContentType: a.ContentType,
			ContentId: a.ContentID, SizeBytes: a.Size, Inline: a.Inline})
	}
	return out
}

// itemRef is a validated item of a request.
type itemRef struct{ store.Item }

func (it itemRef) name() string {
	return strings.ToLower(strings.TrimPrefix(mailboxv1.ItemType(it.Type).String(), "ITEM_TYPE_"))
}

func (it itemRef) vis() visibilityclient.Item {
	return visibilityclient.Item{Type: visibilityclient.ItemType(it.Type), ID: it.ID}
}

// linkedItems are the items a thread is linked to (M2): its deal or lead,
// and the persons and organizations of its participants.
func linkedItems(t store.Thread) []visibilityclient.Item {
	var out []visibilityclient.Item
	if t.DealID != 0 {
		out = append(out, visibilityclient.Item{Type: visibilityclient.Deal, ID: t.DealID})
	}
	if t.LeadID != 0 {
		out = append(out, visibilityclient.Item{Type: visibilityclient.Lead, ID: t.LeadID})
	}
	for _, id := range t.PersonIDs {
		out = append(out, visibilityclient.Item{Type: visibilityclient.Person, ID: id})
	}
	for _, id := range t.OrganizationIDs {
		out = append(out, visibilityclient.Item{Type: visibilityclient.Organization, ID: id})
	}
	return out
}

// syncStatusPB converts an account's sync status (S6); an account without a
// secret cannot sync whatever the stored state says.
func syncStatusPB(a store.Account, st store.SyncStatus, ok bool) *mailboxv1.SyncStatus {
	if !ok {
		st.State = store.SyncPending
	}
	out := &mailboxv1.SyncStatus{
		State:           mailboxv1.SyncState(st.State),
		LastSuccessTime: ts(st.LastSuccess),
		LastError:       st.LastError,
		LastErrorTime:   ts(st.LastErrorTime),
		NextAttemptTime: ts(st.NextAttempt),

		PendingProviderActions:      int32(st.PendingActions),
		LastProviderActionError:     st.LastActionError,
		LastProviderActionErrorTime: ts(st.LastActionErrorTime),
	}
	if !a.HasSecret {
		out.State = mailboxv1.SyncState_SYNC_STATE_NO_SECRET
		out.NextAttemptTime = nil
	}
	for _, f := range st.Folders {
		out.Folders = append(out.Folders, &mailboxv1.FolderSyncStatus{
			Name:            f.Name,
			MessagesDone:    f.MessagesDone,
			MessagesTotal:   max(f.MessagesTotal, f.MessagesDone),
			UidValidity:     f.UIDValidity,
			UidNext:         f.UIDNext,
			HighestModseq:   f.HighestModSeq,
			LastSuccessTime: ts(f.LastSuccess),
			LastError:       f.LastError,
		})
	}
	return out
}
