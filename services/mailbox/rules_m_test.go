package mailbox_test

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

var (
	errThreadNotFound = mr(mailboxv1.ErrorReason_ERROR_REASON_THREAD_NOT_FOUND)
	errItemNotFound   = mr(mailboxv1.ErrorReason_ERROR_REASON_ITEM_NOT_FOUND)
	errAlreadyLinked  = mr(mailboxv1.ErrorReason_ERROR_REASON_THREAD_ALREADY_LINKED)
	errDealDeleted    = mr(mailboxv1.ErrorReason_ERROR_REASON_DEAL_DELETED)
	errVisibilityDown = mr(mailboxv1.ErrorReason_ERROR_REASON_VISIBILITY_UNAVAILABLE)
)

// sharedLinked ingests a thread for the owner, links it to deal 10 and shares it.
func sharedLinked(t *testing.T, e *env) (thread, message int64) {
	t.Helper()
	r := e.ingest(t, owner, inbound("shared@x", "Contract"))
	e.link(t, r.ThreadId, 10)
	e.share(t, r.ThreadId)
	return r.ThreadId, r.MessageId
}

func TestM1_AdminCannotReadOthersInbox(t *testing.T) {
	e := start(t)
	e.vis.AllowAll(company, admin) // an app admin: sees every CRM item
	e.person(t, 100, 0, carol)
	private := e.ingest(t, owner, inbound("private@x", "Private matter"))
	e.link(t, private.ThreadId, 11) // linked but not shared
	shared, sharedMsg := sharedLinked(t, e)
	as := e.u(t, admin)

	for _, f := range []mailboxv1.Folder{inbox, sent, archive} {
		if got := folderIDs(t, e.mb, as, f); len(got) != 0 {
			t.Fatalf("admin's %v lists %v", f, got)
		}
	}
	for _, id := range []int64{private.ThreadId, shared} {
		_, err := e.mb.GetThread(as, &mailboxv1.GetThreadRequest{ThreadId: id})
		wantCode(t, err, codes.NotFound, errThreadNotFound)
		_, err = e.mb.ListThreadMessages(as, &mailboxv1.ListThreadMessagesRequest{ThreadId: id})
		wantCode(t, err, codes.NotFound, errThreadNotFound)
		_, err = e.mb.UpdateThread(as, &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: id, Read: true}, UpdateMask: mask("read")})
		wantCode(t, err, codes.NotFound, errThreadNotFound)
		_, err = e.mb.DeleteThread(as, &mailboxv1.DeleteThreadRequest{ThreadId: id})
		wantCode(t, err, codes.NotFound, errThreadNotFound)
	}
	_, err := e.mb.GetMessage(as, &mailboxv1.GetMessageRequest{MessageId: sharedMsg})
	wantCode(t, err, codes.NotFound, mr(mailboxv1.ErrorReason_ERROR_REASON_MESSAGE_NOT_FOUND))

	// The private thread is not on the deal's or person's view even for an admin who sees them.
	for _, item := range []*mailboxv1.ItemRef{dealRef(11), personRef(100)} {
		if seesOnItem(t, e.mb, as, item, private.ThreadId) {
			t.Fatalf("admin sees the private thread on %v", item)
		}
	}
	// The shared one only on the detail view of its items (M2), never in an inbox.
	if !seesOnItem(t, e.mb, as, dealRef(10), shared) {
		t.Fatal("admin should see the shared thread on the deal it is linked to")
	}
}

func TestM2_SharedThreadNeedsVisibleLinkedItem(t *testing.T) {
	e := start(t)
	tests := []struct {
		name                    string
		shared, linked, visible bool
		want                    bool
	}{
		{"shared, linked and visible", true, true, true, true},
		{"not shared", false, true, true, false},
		{"not linked to the item", true, false, true, false},
		{"item not visible to the viewer", true, true, false, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deal := int64(100 + i)
			r := e.ingest(t, owner, inbound(fmt.Sprintf("m2-%d@x", i), fmt.Sprintf("Case %d", i)))
			if tt.linked {
				e.link(t, r.ThreadId, deal)
			} else {
				e.link(t, r.ThreadId, deal+1000) // linked, but to another deal
			}
			if tt.shared {
				e.share(t, r.ThreadId)
			}
			if tt.visible {
				e.vis.Allow(company, bob, visibilityclient.Item{Type: visibilityclient.Deal, ID: deal})
			}
			if got := seesOnItem(t, e.mb, e.u(t, bob), dealRef(deal), r.ThreadId); got != tt.want {
				t.Fatalf("bob sees the thread on deal %d: %v, want %v", deal, got, tt.want)
			}
			// The owner always sees their own linked thread on the item.
			if tt.linked && !seesOnItem(t, e.mb, e.u(t, owner), dealRef(deal), r.ThreadId) {
				t.Fatal("the owner should see their own thread on the deal")
			}
		})
	}

	t.Run("persons and organizations link through participants", func(t *testing.T) {
		e.person(t, 200, 300, "erin@partner.test")
		r := e.ingest(t, owner, mail{ID: "erin@x", From: "erin@partner.test", To: alice, Subject: "Partnership"})
		e.share(t, r.ThreadId)
		for _, item := range []*mailboxv1.ItemRef{personRef(200), orgRef(300)} {
			if seesOnItem(t, e.mb, e.u(t, bob), item, r.ThreadId) {
				t.Fatalf("bob sees the thread on %v without seeing the item", item)
			}
			e.vis.Allow(company, bob, visItem(item))
			if !seesOnItem(t, e.mb, e.u(t, bob), item, r.ThreadId) {
				t.Fatalf("bob should see the shared thread on %v", item)
			}
		}
		// Unrelated person: not linked.
		e.person(t, 201, 0, "frank@else.test")
		e.vis.Allow(company, bob, visibilityclient.Item{Type: visibilityclient.Person, ID: 201})
		if seesOnItem(t, e.mb, e.u(t, bob), personRef(201), r.ThreadId) {
			t.Fatal("the thread is not linked to person 201")
		}
	})

	t.Run("visibility down: fail closed", func(t *testing.T) {
		thread, _ := sharedLinked(t, e)
		e.vis.Allow(company, bob, visibilityclient.Item{Type: visibilityclient.Deal, ID: 10})
		e.vis.SetDown(true)
		defer e.vis.SetDown(false)
		for _, u := range []int64{bob, owner} {
			_, err := e.mb.ListItemThreads(e.u(t, u), &mailboxv1.ListItemThreadsRequest{Item: dealRef(10)})
			wantCode(t, err, codes.Unavailable, errVisibilityDown)
		}
		_, err := e.mb.GetItemThread(e.u(t, bob), &mailboxv1.GetItemThreadRequest{Item: dealRef(10), ThreadId: thread})
		wantCode(t, err, codes.Unavailable, errVisibilityDown)
		// The owner's own mailbox does not depend on visibility.
		if got := folderIDs(t, e.mb, e.u(t, owner), inbox); !slices.Contains(got, thread) {
			t.Fatalf("owner's inbox %v lacks %d", got, thread)
		}
		if _, err := e.mb.GetItemThread(e.u(t, owner), &mailboxv1.GetItemThreadRequest{Item: dealRef(10), ThreadId: thread}); err != nil {
			t.Fatalf("owner's own thread on the item: %v", err)
		}
	})

	t.Run("one visibility round trip per page", func(t *testing.T) {
		for i := range 5 {
			r := e.ingest(t, owner, inbound(fmt.Sprintf("page-%d@x", i), fmt.Sprintf("Page %d", i)))
			e.link(t, r.ThreadId, 77)
			e.share(t, r.ThreadId)
		}
		e.vis.Allow(company, bob, visibilityclient.Item{Type: visibilityclient.Deal, ID: 77})
		before := e.vis.Calls()
		resp, err := e.mb.ListItemThreads(e.u(t, bob), &mailboxv1.ListItemThreadsRequest{Item: dealRef(77), PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		seen := ids(resp.Threads)
		for resp.NextPageToken != "" {
			resp, err = e.mb.ListItemThreads(e.u(t, bob), &mailboxv1.ListItemThreadsRequest{Item: dealRef(77), PageSize: 2, PageToken: resp.NextPageToken})
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, ids(resp.Threads)...)
		}
		if len(seen) != 5 {
			t.Fatalf("paged through %v, want 5 threads", seen)
		}
		if calls := e.vis.Calls() - before; calls != 3 {
			t.Fatalf("%d visibility calls for 3 pages", calls)
		}
	})
}

func TestM2_OthersThreadsOnlyViaDetailView(t *testing.T) {
	e := start(t)
	r := e.ingest(t, owner, mail{ID: "bcc@x", From: alice, To: carol, Bcc: "secret-bcc@acme.test", Subject: "Offer"})
	e.link(t, r.ThreadId, 10)
	e.share(t, r.ThreadId)
	e.vis.Allow(company, bob, visibilityclient.Item{Type: visibilityclient.Deal, ID: 10})
	as := e.u(t, bob)

	for _, f := range []mailboxv1.Folder{inbox, sent, archive} {
		if got := folderIDs(t, e.mb, as, f); len(got) != 0 {
			t.Fatalf("bob's %v lists %v", f, got)
		}
	}
	_, err := e.mb.GetThread(as, &mailboxv1.GetThreadRequest{ThreadId: r.ThreadId})
	wantCode(t, err, codes.NotFound, errThreadNotFound)
	_, err = e.mb.ListThreadMessages(as, &mailboxv1.ListThreadMessagesRequest{ThreadId: r.ThreadId})
	wantCode(t, err, codes.NotFound, errThreadNotFound)
	_, err = e.mb.GetMessage(as, &mailboxv1.GetMessageRequest{MessageId: r.MessageId})
	wantCode(t, err, codes.NotFound, "")

	got, err := e.mb.GetItemThread(as, &mailboxv1.GetItemThreadRequest{Item: dealRef(10), ThreadId: r.ThreadId})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 || got.Messages[0].BodyText == "" {
		t.Fatalf("detail view messages: %v", got.Messages)
	}
	if len(got.Messages[0].Bcc) != 0 {
		t.Fatalf("bcc shown to a non-owner: %v", got.Messages[0].Bcc)
	}
	own, err := e.mb.GetItemThread(e.u(t, owner), &mailboxv1.GetItemThreadRequest{Item: dealRef(10), ThreadId: r.ThreadId})
	if err != nil || len(own.Messages[0].Bcc) != 1 {
		t.Fatalf("the owner should see bcc: %v %v", own, err)
	}
}

func TestM3_OnlyOwnerChangesSharing(t *testing.T) {
	e := start(t)
	thread, _ := sharedLinked(t, e)
	private := e.ingest(t, owner, inbound("p@x", "Private"))
	e.vis.AllowAll(company, bob)
	before := e.snapshot(t)
	as := e.u(t, bob)

	_, err := e.mb.UnshareThreads(as, &mailboxv1.UnshareThreadsRequest{ThreadIds: []int64{thread}})
	wantCode(t, err, codes.NotFound, errThreadNotFound)
	_, err = e.mb.ShareThreads(as, &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{private.ThreadId}})
	wantCode(t, err, codes.NotFound, errThreadNotFound)
	_, err = e.mb.UpdateThread(as, &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: private.ThreadId, Shared: true}, UpdateMask: mask("shared")})
	wantCode(t, err, codes.NotFound, errThreadNotFound)
	if after := e.snapshot(t); after != before {
		t.Fatalf("a non-owner changed something:\n%s\n%s", before, after)
	}

	// The owner can, one at a time.
	r, err := e.mb.UpdateThread(e.u(t, owner), &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: private.ThreadId, Shared: true}, UpdateMask: mask("shared")})
	if err != nil || !r.Thread.Shared {
		t.Fatalf("owner share: %v %v", r, err)
	}
}

func TestM3_UnshareRemovesAccessAtOnce(t *testing.T) {
	e := start(t)
	e.person(t, 100, 0, carol)
	thread, _ := sharedLinked(t, e)
	e.vis.Allow(company, bob, visibilityclient.Item{Type: visibilityclient.Deal, ID: 10}, visibilityclient.Item{Type: visibilityclient.Person, ID: 100})
	for _, item := range []*mailboxv1.ItemRef{dealRef(10), personRef(100)} {
		if !seesOnItem(t, e.mb, e.u(t, bob), item, thread) {
			t.Fatalf("bob should see the shared thread on %v", item)
		}
	}
	if _, err := e.mb.UnshareThreads(e.u(t, owner), &mailboxv1.UnshareThreadsRequest{ThreadIds: []int64{thread}}); err != nil {
		t.Fatal(err)
	}
	for _, item := range []*mailboxv1.ItemRef{dealRef(10), personRef(100)} {
		if seesOnItem(t, e.mb, e.u(t, bob), item, thread) {
			t.Fatalf("bob still sees the unshared thread on %v", item)
		}
	}
	if got, _ := e.mb.CheckReplyPermission(e.u(t, bob), &mailboxv1.CheckReplyPermissionRequest{ThreadId: thread}); got.GetReason() != mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_NOT_VISIBLE {
		t.Fatalf("reply permission after unshare: %v", got)
	}
}

func TestM3_BulkShareIsAllOrNothing(t *testing.T) {
	e := start(t)
	var mine []int64
	for i := range 3 {
		mine = append(mine, e.ingest(t, owner, inbound(fmt.Sprintf("b%d@x", i), fmt.Sprintf("Bulk %d", i))).ThreadId)
	}
	bobs := e.ingest(t, bob, mail{ID: "bob1@x", From: carol, To: bobAddr, Subject: "Bob's"}).ThreadId

	tests := []struct {
		name string
		ids  []int64
		code codes.Code
	}{
		{"one belongs to another user", append(slices.Clone(mine), bobs), codes.NotFound},
		{"one does not exist", append(slices.Clone(mine), 999999), codes.NotFound},
		{"a zero id", append(slices.Clone(mine), 0), codes.InvalidArgument},
		{"empty", nil, codes.InvalidArgument},
		{"more than 1,000", make([]int64, 1001), codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot(t)
			_, err := e.mb.ShareThreads(e.u(t, owner), &mailboxv1.ShareThreadsRequest{ThreadIds: tt.ids})
			wantCode(t, err, tt.code, "")
			_, err = e.mb.UnshareThreads(e.u(t, owner), &mailboxv1.UnshareThreadsRequest{ThreadIds: tt.ids})
			wantCode(t, err, tt.code, "")
			if after := e.snapshot(t); after != before {
				t.Fatal("a failed bulk call changed something")
			}
		})
	}
	r, err := e.mb.ShareThreads(e.u(t, owner), &mailboxv1.ShareThreadsRequest{ThreadIds: append(mine, mine[0])})
	if err != nil || r.UpdatedCount != 3 {
		t.Fatalf("share all: %v %v", r, err)
	}
	for _, id := range mine {
		if !e.thread(t, owner, id).Shared {
			t.Fatalf("thread %d not shared", id)
		}
	}
	if e.thread(t, bob, bobs).Shared {
		t.Fatal("bob's thread was shared")
	}
	if _, err := e.mb.UnshareThreads(e.u(t, owner), &mailboxv1.UnshareThreadsRequest{ThreadIds: mine}); err != nil {
		t.Fatal(err)
	}
	for _, id := range mine {
		if e.thread(t, owner, id).Shared {
			t.Fatalf("thread %d still shared", id)
		}
	}
}

func TestM4_DefaultSharingAppliesToNewThreadsOnly(t *testing.T) {
	e := start(t)
	setDefault := func(s mailboxv1.Sharing) {
		t.Helper()
		if _, err := e.mb.UpdateMailSettings(e.u(t, owner), &mailboxv1.UpdateMailSettingsRequest{
			Settings: &mailboxv1.MailSettings{DefaultSharing: s}, UpdateMask: mask("default_sharing")}); err != nil {
			t.Fatal(err)
		}
	}
	t1 := e.ingest(t, owner, inbound("t1@x", "First")).ThreadId
	if e.thread(t, owner, t1).Shared {
		t.Fatal("the default is private")
	}
	setDefault(mailboxv1.Sharing_SHARING_SHARED)
	if e.thread(t, owner, t1).Shared {
		t.Fatal("an existing thread changed with the default")
	}
	t2 := e.ingest(t, owner, inbound("t2@x", "Second")).ThreadId
	if !e.thread(t, owner, t2).Shared {
		t.Fatal("a new thread should take the shared default")
	}
	// A reply to the old thread keeps the old thread's own value.
	if r := e.ingest(t, owner, mail{ID: "t1r@x", From: carol, To: alice, Subject: "Re: First", InReplyTo: "<t1@x>"}); r.ThreadId != t1 {
		t.Fatalf("reply went to %d", r.ThreadId)
	}
	if e.thread(t, owner, t1).Shared {
		t.Fatal("a new message of an existing thread changed its sharing")
	}
	// A thread's own value overrides the default either way.
	e.share(t, t1)
	setDefault(mailboxv1.Sharing_SHARING_PRIVATE)
	t3 := e.ingest(t, owner, inbound("t3@x", "Third")).ThreadId
	for id, want := range map[int64]bool{t1: true, t2: true, t3: false} {
		if got := e.thread(t, owner, id).Shared; got != want {
			t.Fatalf("thread %d shared=%v, want %v", id, got, want)
		}
	}
}

func TestM5_NonParticipantCannotReply(t *testing.T) {
	e := start(t)
	thread, _ := sharedLinked(t, e)
	e.vis.Allow(company, bob, visibilityclient.Item{Type: visibilityclient.Deal, ID: 10})
	check := func(user, id int64) mailboxv1.ReplyPermissionReason {
		t.Helper()
		r, err := e.mb.CheckReplyPermission(e.u(t, user), &mailboxv1.CheckReplyPermissionRequest{ThreadId: id})
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed != (r.Reason == mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_ALLOWED) {
			t.Fatalf("allowed %v with reason %v", r.Allowed, r.Reason)
		}
		return r.Reason
	}
	const (
		allowed = mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_ALLOWED
		notPart = mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_NOT_A_PARTICIPANT
		notVis  = mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_NOT_VISIBLE
	)
	// Bob can read it on the deal, but is not among its participants.
	if !seesOnItem(t, e.mb, e.u(t, bob), dealRef(10), thread) {
		t.Fatal("bob should read the thread on the deal")
	}
	if got := check(bob, thread); got != notPart {
		t.Fatalf("bob: %v, want NOT_A_PARTICIPANT", got)
	}
	if got := check(owner, thread); got != allowed {
		t.Fatalf("owner: %v", got)
	}
	if got := check(other, thread); got != notVis {
		t.Fatalf("a colleague who cannot read it: %v", got)
	}
	if got := check(bob, 987654); got != notVis {
		t.Fatalf("unknown thread: %v", got)
	}

	// Bob in Cc of a message of the thread: a participant through his verified address.
	e.ingest(t, owner, mail{ID: "cc@x", From: carol, To: alice, Cc: bobAddr, Subject: "Re: Contract", InReplyTo: "<shared@x>"})
	if got := check(bob, thread); got != allowed {
		t.Fatalf("bob in Cc: %v", got)
	}
	// Through a mail account's address as well.
	r := e.ingest(t, owner, mail{ID: "acct@x", From: carol, To: alice + ", bob.private@mail.test", Subject: "Other"})
	e.link(t, r.ThreadId, 10)
	e.share(t, r.ThreadId)
	if got := check(bob, r.ThreadId); got != notPart {
		t.Fatalf("before bob's account: %v", got)
	}
	if _, err := e.mb.CreateMailAccount(e.u(t, bob), &mailboxv1.CreateMailAccountRequest{MailAccount: testAccount("bob.private@mail.test")}); err != nil {
		t.Fatal(err)
	}
	if got := check(bob, r.ThreadId); got != allowed {
		t.Fatalf("after bob's account: %v", got)
	}
	// Visibility down: the answer is UNAVAILABLE, never a guess.
	e.vis.SetDown(true)
	_, err := e.mb.CheckReplyPermission(e.u(t, bob), &mailboxv1.CheckReplyPermissionRequest{ThreadId: thread})
	wantCode(t, err, codes.Unavailable, errVisibilityDown)
}

func testAccount(email string) *mailboxv1.MailAccount {
	return &mailboxv1.MailAccount{
		EmailAddress: email,
		DisplayName:  "Test",
		Imap:         &mailboxv1.ServerSettings{Host: "imap.mail.test", Port: 993, Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_TLS},
		Smtp:         &mailboxv1.ServerSettings{Host: "smtp.mail.test", Port: 587, Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_STARTTLS},
		AuthKind:     mailboxv1.AuthKind_AUTH_KIND_PASSWORD,
	}
}

func TestM6_ArchiveKeepsLinksAndDetailView(t *testing.T) {
	e := start(t)
	e.person(t, 100, 0, carol)
	thread, _ := sharedLinked(t, e)
	e.vis.Allow(company, bob, visibilityclient.Item{Type: visibilityclient.Deal, ID: 10}, visibilityclient.Item{Type: visibilityclient.Person, ID: 100})
	setArchived := func(v bool) *mailboxv1.Thread {
		r, err := e.mb.UpdateThread(e.u(t, owner), &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: thread, Archived: v}, UpdateMask: mask("archived")})
		if err != nil {
			t.Fatal(err)
		}
		return r.Thread
	}
	th := setArchived(true)
	if !th.Archived || th.DealId != 10 || !slices.Equal(th.PersonIds, []int64{100}) || !th.Shared {
		t.Fatalf("archived thread lost something: %v", th)
	}
	if got := folderIDs(t, e.mb, e.u(t, owner), inbox); slices.Contains(got, thread) {
		t.Fatal("archived thread still in the inbox")
	}
	if got := folderIDs(t, e.mb, e.u(t, owner), archive); !slices.Contains(got, thread) {
		t.Fatal("archived thread not in the archive")
	}
	for _, u := range []int64{owner, bob} {
		for _, item := range []*mailboxv1.ItemRef{dealRef(10), personRef(100)} {
			if !seesOnItem(t, e.mb, e.u(t, u), item, thread) {
				t.Fatalf("user %d lost the archived thread on %v", u, item)
			}
		}
	}
	setArchived(false)
	if got := folderIDs(t, e.mb, e.u(t, owner), inbox); !slices.Contains(got, thread) {
		t.Fatal("unarchived thread not back in the inbox")
	}
}

func TestM6_DeleteRemovesEverywhere(t *testing.T) {
	e := start(t)
	e.person(t, 100, 500, carol)
	thread, msg := sharedLinked(t, e)
	e.ingest(t, owner, mail{ID: "reply@x", From: alice, To: carol, Subject: "Re: Contract", InReplyTo: "<shared@x>"})
	e.vis.AllowAll(company, bob)
	if !seesOnItem(t, e.mb, e.u(t, bob), dealRef(10), thread) {
		t.Fatal("setup: bob should see it")
	}
	if _, err := e.mb.DeleteThread(e.u(t, owner), &mailboxv1.DeleteThreadRequest{ThreadId: thread}); err != nil {
		t.Fatal(err)
	}
	_, err := e.mb.GetThread(e.u(t, owner), &mailboxv1.GetThreadRequest{ThreadId: thread})
	wantCode(t, err, codes.NotFound, errThreadNotFound)
	_, err = e.mb.GetMessage(e.u(t, owner), &mailboxv1.GetMessageRequest{MessageId: msg})
	wantCode(t, err, codes.NotFound, "")
	for _, f := range []mailboxv1.Folder{inbox, sent, archive} {
		if got := folderIDs(t, e.mb, e.u(t, owner), f); slices.Contains(got, thread) {
			t.Fatalf("deleted thread in %v", f)
		}
	}
	for _, u := range []int64{owner, bob} {
		for _, item := range []*mailboxv1.ItemRef{dealRef(10), personRef(100), orgRef(500)} {
			if seesOnItem(t, e.mb, e.u(t, u), item, thread) {
				t.Fatalf("user %d still sees the deleted thread on %v", u, item)
			}
		}
	}
	var left int
	if err := e.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM thread_participants)
		+ (SELECT count(*) FROM message_refs) + (SELECT count(*) FROM threads)`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d rows left behind (%v)", left, err)
	}
	_, err = e.mb.DeleteThread(e.u(t, owner), &mailboxv1.DeleteThreadRequest{ThreadId: thread})
	wantCode(t, err, codes.NotFound, errThreadNotFound)
}

func TestM7_AutoLinkSingleOpenDeal(t *testing.T) {
	e := start(t)
	e.person(t, 100, 500, carol)
	e.deal(t, 10, mailboxv1.DealStatus_DEAL_STATUS_OPEN, 100)
	e.deal(t, 11, mailboxv1.DealStatus_DEAL_STATUS_WON, 100)
	th := e.thread(t, owner, e.ingest(t, owner, inbound("a@x", "Hello")).ThreadId)
	if th.DealId != 10 || !slices.Equal(th.PersonIds, []int64{100}) || !slices.Equal(th.OrganizationIds, []int64{500}) {
		t.Fatalf("thread %v: want deal 10, person 100, org 500", th)
	}
	if th.Participants[1].GetPersonId() != 100 {
		t.Fatalf("participants %v", th.Participants)
	}

	// Outbound mail links the same way (the recipient is the person).
	out := e.thread(t, owner, e.ingest(t, owner, mail{ID: "o@x", From: alice, To: carol, Subject: "Offer"}).ThreadId)
	if out.DealId != 10 {
		t.Fatalf("outbound thread deal %d", out.DealId)
	}
	// A thread that had no person gets linked when a later message brings one.
	later := e.ingest(t, owner, mail{ID: "l1@x", From: "nobody@else.test", To: alice, Subject: "Intro"})
	if e.thread(t, owner, later.ThreadId).DealId != 0 {
		t.Fatal("no person yet: no link")
	}
	e.ingest(t, owner, mail{ID: "l2@x", From: "nobody@else.test", To: alice, Cc: carol, Subject: "Re: Intro", InReplyTo: "<l1@x>"})
	if got := e.thread(t, owner, later.ThreadId).DealId; got != 10 {
		t.Fatalf("after carol joined: deal %d", got)
	}
	// The owner's own address belonging to a person does not count.
	e.person(t, 102, 0, alice)
	e.deal(t, 12, mailboxv1.DealStatus_DEAL_STATUS_OPEN, 102)
	if got := e.thread(t, owner, e.ingest(t, owner, mail{ID: "self@x", From: "x@unknown.test", To: alice, Subject: "Self"}).ThreadId).DealId; got != 0 {
		t.Fatalf("linked through the owner's own address to %d", got)
	}
}

func TestM7_NoAutoLinkWithSeveralOpenDeals(t *testing.T) {
	e := start(t)
	e.person(t, 100, 0, carol)
	e.person(t, 101, 0, dave)
	tests := []struct {
		name  string
		deals map[int64][]int64 // deal -> persons, all open
		msg   mail
		want  int64
	}{
		{"one person with two open deals", map[int64][]int64{10: {100}, 11: {100}}, inbound("s1@x", "Two deals"), 0},
		{"two persons with one open deal each", map[int64][]int64{20: {101}}, mail{ID: "s2@x", From: dave, To: alice, Cc: carol, Subject: "Two people"}, 0},
		{"two persons sharing one open deal", nil, mail{ID: "s3@x", From: dave, To: alice, Subject: "Dave only"}, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for d, ps := range tt.deals {
				e.deal(t, d, mailboxv1.DealStatus_DEAL_STATUS_OPEN, ps...)
			}
			if got := e.thread(t, owner, e.ingest(t, owner, tt.msg).ThreadId).DealId; got != tt.want {
				t.Fatalf("deal %d, want %d", got, tt.want)
			}
		})
	}
}

func TestM7_WonLostDeletedDealsGetNoNewLinks(t *testing.T) {
	e := start(t)
	tests := []struct {
		name   string
		status mailboxv1.DealStatus
		delete bool
	}{
		{"won", mailboxv1.DealStatus_DEAL_STATUS_WON, false},
		{"lost", mailboxv1.DealStatus_DEAL_STATUS_LOST, false},
		{"deleted by DeleteDeal", mailboxv1.DealStatus_DEAL_STATUS_OPEN, true},
		{"deleted by status", mailboxv1.DealStatus_DEAL_STATUS_DELETED, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			person, deal := int64(100+i), int64(10+i)
			email := fmt.Sprintf("p%d@customer.test", i)
			e.person(t, person, 0, email)
			e.deal(t, deal, tt.status, person)
			if tt.delete {
				if _, err := e.mb.DeleteDeal(e.svc(t), &mailboxv1.DeleteDealRequest{DealId: deal}); err != nil {
					t.Fatal(err)
				}
			}
			th := e.ingest(t, owner, mail{ID: fmt.Sprintf("w%d@x", i), From: email, To: alice, Subject: "Status " + tt.name})
			if got := e.thread(t, owner, th.ThreadId).DealId; got != 0 {
				t.Fatalf("auto-linked to %s deal %d", tt.name, got)
			}
			// Together with an open deal, the open one is the only candidate.
			open := deal + 100
			e.deal(t, open, mailboxv1.DealStatus_DEAL_STATUS_OPEN, person)
			th2 := e.ingest(t, owner, mail{ID: fmt.Sprintf("w%d-2@x", i), From: email, To: alice, Subject: "Open " + tt.name})
			if got := e.thread(t, owner, th2.ThreadId).DealId; got != open {
				t.Fatalf("deal %d, want the open %d", got, open)
			}
		})
	}
	t.Run("deleted deals are refused by hand too", func(t *testing.T) {
		th := e.ingest(t, owner, mail{ID: "manual@x", From: "z@z.test", To: alice, Subject: "Manual"}).ThreadId
		e.vis.Allow(company, owner, visibilityclient.Item{Type: visibilityclient.Deal, ID: 12})
		_, err := e.mb.LinkThread(e.u(t, owner), &mailboxv1.LinkThreadRequest{ThreadId: th, Target: &mailboxv1.LinkThreadRequest_DealId{DealId: 12}})
		wantCode(t, err, codes.FailedPrecondition, errDealDeleted)
	})
	t.Run("a deal that closes keeps its links", func(t *testing.T) {
		e.person(t, 200, 0, "keep@customer.test")
		e.deal(t, 50, mailboxv1.DealStatus_DEAL_STATUS_OPEN, 200)
		th := e.ingest(t, owner, mail{ID: "k1@x", From: "keep@customer.test", To: alice, Subject: "Keep"}).ThreadId
		e.deal(t, 50, mailboxv1.DealStatus_DEAL_STATUS_WON, 200)
		e.ingest(t, owner, mail{ID: "k2@x", From: "keep@customer.test", To: alice, Subject: "Re: Keep", InReplyTo: "<k1@x>"})
		if got := e.thread(t, owner, th).DealId; got != 50 {
			t.Fatalf("deal %d, want 50 kept", got)
		}
	})
}

func TestM7_AtMostOneDealOrLead(t *testing.T) {
	e := start(t)
	th := e.ingest(t, owner, inbound("one@x", "One link")).ThreadId
	for _, d := range []int64{10, 11} {
		e.vis.Allow(company, owner, visibilityclient.Item{Type: visibilityclient.Deal, ID: d})
	}
	e.vis.Allow(company, owner, visibilityclient.Item{Type: visibilityclient.Lead, ID: 5})
	link := func(target any, replace bool) (*mailboxv1.Thread, error) {
		req := &mailboxv1.LinkThreadRequest{ThreadId: th, Replace: replace}
		switch v := target.(type) {
		case int64:
			req.Target = &mailboxv1.LinkThreadRequest_DealId{DealId: v}
		case string:
			req.Target = &mailboxv1.LinkThreadRequest_LeadId{LeadId: 5}
		}
		r, err := e.mb.LinkThread(e.u(t, owner), req)
		return r.GetThread(), err
	}
	if got, err := link(int64(10), false); err != nil || got.DealId != 10 {
		t.Fatalf("link deal 10: %v %v", got, err)
	}
	if _, err := link(int64(10), false); err != nil {
		t.Fatalf("linking the same deal again is a no-op: %v", err)
	}
	before := e.snapshot(t)
	_, err := link(int64(11), false)
	wantCode(t, err, codes.FailedPrecondition, errAlreadyLinked)
	_, err = link("lead", false)
	wantCode(t, err, codes.FailedPrecondition, errAlreadyLinked)
	_, err = link(nil, false)
	wantCode(t, err, codes.InvalidArgument, "")
	_, err = link(int64(99), true) // a deal the owner cannot see
	wantCode(t, err, codes.NotFound, errItemNotFound)
	if after := e.snapshot(t); after != before {
		t.Fatal("a refused link changed something")
	}
	got, err := link("lead", true)
	if err != nil || got.LeadId != 5 || got.DealId != 0 {
		t.Fatalf("replace with lead 5: %v %v", got, err)
	}

	// Automatic linking never overrides a link, nor comes back after an unlink.
	e.person(t, 100, 0, carol)
	e.deal(t, 10, mailboxv1.DealStatus_DEAL_STATUS_OPEN, 100)
	e.ingest(t, owner, mail{ID: "one2@x", From: carol, To: alice, Subject: "Re: One link", InReplyTo: "<one@x>"})
	if th := e.thread(t, owner, th); th.LeadId != 5 || th.DealId != 0 {
		t.Fatalf("auto-link overrode the lead: %v", th)
	}
	if _, err := e.mb.UnlinkThread(e.u(t, owner), &mailboxv1.UnlinkThreadRequest{ThreadId: th}); err != nil {
		t.Fatal(err)
	}
	e.ingest(t, owner, mail{ID: "one3@x", From: carol, To: alice, Subject: "Re: One link", InReplyTo: "<one2@x>"})
	if th := e.thread(t, owner, th); th.LeadId != 0 || th.DealId != 0 {
		t.Fatalf("re-linked automatically after an unlink: %v", th)
	}
	// The schema refuses both at once.
	_, err = e.pool.Exec(t.Context(), `UPDATE threads SET deal_id = 1, lead_id = 1 WHERE id = $1`, th)
	if err == nil {
		t.Fatal("the database accepted a deal and a lead on one thread")
	}
}
