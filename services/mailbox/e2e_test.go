package mailbox_test

import (
	"fmt"
	"google.golang.org/protobuf/proto"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/mailbox"
	"github.com/sightline/sightline/services/mailbox/migrations"
	"github.com/sightline/sightline/services/visibility"
	vismigrations "github.com/sightline/sightline/services/visibility/migrations"
)

// bothMigrated is a database with both services' schemas.
var bothMigrated = pgtest.WithMigrated(pgtest.Schema{Name: "visibility", Migrations: vismigrations.FS},
	pgtest.Schema{Name: "mailbox", Migrations: migrations.FS})

// TestEndToEndDetailViewAcrossServices runs the real visibility and mailbox
// services side by side and follows one shared thread through DESIGN M1–M7
// with the V3 group rules deciding who sees the items.
func TestEndToEndDetailViewAcrossServices(t *testing.T) {
	url := pgtest.New(t, bothMigrated)
	keys := servicetest.NewKeySpec(t)
	visIn := servicetest.Start(t, visibility.Service(), servicetest.Options{DatabaseURL: url, AuthKeys: keys})
	// A deadline that a busy machine meets for every one of the test's
	// calls to visibility, the first (which connects) included: the
	// deadline itself is TestFault_SlowVisibilityFailsClosedWithinTheDeadline's.
	const visTimeout = 10 * time.Second
	mbIn := servicetest.Start(t, mailbox.Service(), servicetest.Options{DatabaseURL: url, AuthKeys: keys, Args: []string{
		"--visibility-addr", visIn.Addr, "--visibility-timeout", visTimeout.String(), "--secret-keys", newSecretKeys(t)}})
	vc := visibilityv1.NewVisibilityServiceClient(visIn.Conn)
	mb := mailboxv1.NewMailboxServiceClient(mbIn.Conn)
	vsvc := visIn.Service(t, company)
	msvc := mbIn.Service(t, company)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Visibility: a group tree around the owner's group.
	//   Top ── Mid ──┬── Sales (owner, same) ── Juniors (child)
	//                └── Support (sibling)
	// and the default group with an app admin and an outsider.
	const (
		uOwner, uParent, uSame, uSibling, uChild, uAdmin, uOutsider = 1, 2, 3, 4, 5, 6, 7
		dealID, personID, orgID                                     = 10, 100, 500
		pipeA, pipeB                                                = 1, 2
	)
	must(vc.CreateCompany(vsvc, &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ENTERPRISE}))
	group := func(name string, parent int64) int64 {
		r, err := vc.CreateGroup(vsvc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: name, ParentId: parent}})
		if err != nil {
			t.Fatal(err)
		}
		return r.Group.Id
	}
	top := group("Top", 0)
	mid := group("Mid", top)
	sales := group("Sales", mid)
	juniors := group("Juniors", sales)
	support := group("Support", mid)
	for u, g := range map[int64]int64{uOwner: sales, uParent: mid, uSame: sales, uSibling: support, uChild: juniors, uAdmin: 0, uOutsider: 0} {
		perms := &visibilityv1.Permissions{ChangeVisibility: u == uOwner, AppAdmin: u == uAdmin}
		must(vc.UpsertUser(vsvc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: u, Name: fmt.Sprint("user ", u), Active: true, Permissions: perms}}))
		if g != 0 {
			must(vc.SetUserGroup(vsvc, &visibilityv1.SetUserGroupRequest{UserId: u, GroupId: g}))
		}
	}
	for _, p := range []int64{pipeA, pipeB} {
		must(vc.UpsertPipeline(vsvc, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: p, Name: fmt.Sprint("pipeline ", p)}}))
	}
	must(vc.UpsertItem(vsvc, &visibilityv1.UpsertItemRequest{ActingUserId: uOwner, Item: &visibilityv1.Item{
		Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: dealID, VisibleTo: visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP, PipelineId: pipeA}}))
	must(vc.UpsertItem(vsvc, &visibilityv1.UpsertItemRequest{ActingUserId: uOwner, Item: &visibilityv1.Item{
		Type: visibilityv1.ItemType_ITEM_TYPE_PERSON, Id: personID, VisibleTo: visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP_AND_SUBGROUPS}}))

	// Mailbox: the CRM feeds the contact index and the owner's address.
	must(mb.SetUserAddresses(msvc, &mailboxv1.SetUserAddressesRequest{UserId: uOwner, EmailAddresses: []string{alice}}))
	must(mb.SetUserAddresses(msvc, &mailboxv1.SetUserAddressesRequest{UserId: uParent, EmailAddresses: []string{"parent@acme.test"}}))
	must(mb.UpsertPerson(msvc, &mailboxv1.UpsertPersonRequest{PersonId: personID, OrganizationId: orgID, Name: "Carol", Emails: []string{carol}}))
	must(mb.UpsertDeal(msvc, &mailboxv1.UpsertDealRequest{DealId: dealID, Status: mailboxv1.DealStatus_DEAL_STATUS_OPEN, PersonIds: []int64{personID}}))
	ing, err := mb.IngestMessage(msvc, &mailboxv1.IngestMessageRequest{UserId: uOwner, Folder: "INBOX",
		Raw: mail{ID: "e2e-1@x", From: customer, To: alice, Subject: "Renewal"}.raw()})
	if err != nil {
		t.Fatal(err)
	}
	thread := ing.ThreadId
	ownerCtx := mbIn.User(t, company, uOwner)
	th, err := mb.GetThread(ownerCtx, &mailboxv1.GetThreadRequest{ThreadId: thread})
	if err != nil || th.Thread.DealId != dealID || !slices.Equal(th.Thread.PersonIds, []int64{personID}) {
		t.Fatalf("auto-linked thread %v %v", th, err)
	}
	share := func(on bool) {
		t.Helper()
		if on {
			must(mb.ShareThreads(ownerCtx, &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{thread}}))
		} else {
			must(mb.UnshareThreads(ownerCtx, &mailboxv1.UnshareThreadsRequest{ThreadIds: []int64{thread}}))
		}
	}
	sees := func(u int64, item *mailboxv1.ItemRef) bool {
		t.Helper()
		return seesOnItem(t, mb, mbIn.User(t, company, u), item, thread)
	}
	checkViewers := func(step string, item *mailboxv1.ItemRef, want map[int64]bool) {
		t.Helper()
		for _, u := range []int64{uOwner, uParent, uSame, uSibling, uChild, uAdmin, uOutsider} {
			if got := sees(u, item); got != want[u] {
				t.Errorf("%s: user %d sees the thread on %v: %v, want %v", step, u, item.Type, got, want[u])
			}
		}
	}
	everyone := func(us ...int64) map[int64]bool {
		m := map[int64]bool{}
		for _, u := range us {
			m[u] = true
		}
		return m
	}

	// Private: only the owner, even for the app admin (M1, M2).
	checkViewers("private", dealRef(dealID), everyone(uOwner))
	// Shared: V3 decides. Deal OWNER_GROUP: owner, ancestors, same group, app admin.
	share(true)
	checkViewers("shared", dealRef(dealID), everyone(uOwner, uParent, uSame, uAdmin))
	// Person OWNER_GROUP_AND_SUBGROUPS: also the child group; never the sibling.
	checkViewers("shared", personRef(personID), everyone(uOwner, uParent, uSame, uChild, uAdmin))
	// The organization is not registered in visibility: only the owner's own thread.
	checkViewers("shared", orgRef(orgID), everyone(uOwner))

	// A reader who is not a participant cannot reply (M5); the owner can.
	for u, want := range map[int64]mailboxv1.ReplyPermissionReason{
		uOwner:    mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_ALLOWED,
		uParent:   mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_NOT_A_PARTICIPANT,
		uSibling:  mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_NOT_VISIBLE,
		uOutsider: mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_NOT_VISIBLE,
	} {
		r, err := mb.CheckReplyPermission(mbIn.User(t, company, u), &mailboxv1.CheckReplyPermissionRequest{ThreadId: thread})
		if err != nil || r.Reason != want {
			t.Errorf("reply permission of user %d: %v %v, want %v", u, r, err, want)
		}
	}

	// Unshare: gone for everyone else at once (M3).
	share(false)
	checkViewers("unshared", dealRef(dealID), everyone(uOwner))
	checkViewers("unshared", personRef(personID), everyone(uOwner))
	// An app admin outside the thread cannot read the private thread anywhere (M1).
	adminCtx := mbIn.User(t, company, uAdmin)
	_, err = mb.GetThread(adminCtx, &mailboxv1.GetThreadRequest{ThreadId: thread})
	wantCode(t, err, codes.NotFound, errThreadNotFound)
	_, err = mb.GetItemThread(adminCtx, &mailboxv1.GetItemThreadRequest{Item: dealRef(dealID), ThreadId: thread})
	wantCode(t, err, codes.NotFound, errThreadNotFound)

	// Archive: out of the owner's inbox, still on the deal (M6).
	share(true)
	must(mb.UpdateThread(ownerCtx, &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: thread, Archived: true}, UpdateMask: mask("archived")}))
	if slices.Contains(folderIDs(t, mb, ownerCtx, inbox), thread) || !slices.Contains(folderIDs(t, mb, ownerCtx, archive), thread) {
		t.Error("archive: the thread should move from the inbox to the archive")
	}
	checkViewers("archived", dealRef(dealID), everyone(uOwner, uParent, uSame, uAdmin))

	// Hide the deal's pipeline from Sales: the deal is gone for its members (V7),
	// except the owner's own thread; the parent group still sees it.
	must(vc.UpdateGroupPipelines(vsvc, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: sales,
		VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Remove: []int64{pipeA}}}))
	checkViewers("pipeline hidden from Sales", dealRef(dealID), everyone(uOwner, uParent, uAdmin))
	if _, code := itemView(t, mb, mbIn.User(t, company, uSame), dealRef(dealID)); code != codes.NotFound {
		t.Errorf("a hidden deal's view: %v, want NOT_FOUND", code)
	}
	must(vc.UpdateGroupPipelines(vsvc, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: sales,
		VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Add: []int64{pipeA}}}))

	// A second thread, private for now, for the outage below.
	ing2, err := mb.IngestMessage(msvc, &mailboxv1.IngestMessageRequest{UserId: uOwner, Folder: "INBOX",
		Raw: mail{ID: "e2e-2@x", From: customer, To: alice, Subject: "Invoice"}.raw()})
	if err != nil {
		t.Fatal(err)
	}

	// Delete: gone everywhere, for everyone (M6).
	must(mb.DeleteThread(ownerCtx, &mailboxv1.DeleteThreadRequest{ThreadId: thread}))
	checkViewers("deleted", dealRef(dealID), nil)
	checkViewers("deleted", personRef(personID), nil)

	// Visibility stops: the detail view fails closed with UNAVAILABLE, without
	// waiting on the stopped service past the visibility timeout, and never
	// shows another user's thread; the owner's own inbox still works.
	// The second thread is shared first, so that there is another user's
	// thread that the outage must hide and the recovery must bring back.
	must(mb.ShareThreads(ownerCtx, &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{ing2.ThreadId}}))
	before, err := mb.ListItemThreads(mbIn.User(t, company, uParent), &mailboxv1.ListItemThreadsRequest{Item: dealRef(dealID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(before.GetThreads()) != 1 || before.GetThreads()[0].GetId() != ing2.ThreadId {
		t.Fatalf("before the outage the parent-group user sees %v, want the shared thread %d", before.GetThreads(), ing2.ThreadId)
	}
	if err := visIn.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, u := range []int64{uParent, uOwner} {
		begin := time.Now()
		_, err := mb.ListItemThreads(mbIn.User(t, company, u), &mailboxv1.ListItemThreadsRequest{Item: dealRef(dealID)})
		wantCode(t, err, codes.Unavailable, errVisibilityDown)
		// A liveness bound, not a speed assertion: the failure does not hang.
		if el := time.Since(begin); el > visTimeout+20*time.Second {
			t.Errorf("the failure took %v", el)
		}
	}
	_, err = mb.GetItemThread(mbIn.User(t, company, uParent), &mailboxv1.GetItemThreadRequest{Item: dealRef(dealID), ThreadId: ing2.ThreadId})
	wantCode(t, err, codes.Unavailable, errVisibilityDown)
	if got := folderIDs(t, mb, ownerCtx, inbox); !slices.Equal(got, []int64{ing2.ThreadId}) {
		t.Errorf("owner's inbox during the outage: %v", got)
	}

	// Visibility returns on the same address: the mailbox recovers on its
	// own, with no restart, and shows exactly what it showed before.
	servicetest.Start(t, visibility.Service(), servicetest.Options{DatabaseURL: url, AuthKeys: keys, Addr: visIn.Addr})
	deadline := time.Now().Add(15 * time.Second) // a liveness bound, not a speed assertion
	for {
		after, err := mb.ListItemThreads(mbIn.User(t, company, uParent), &mailboxv1.ListItemThreadsRequest{Item: dealRef(dealID)})
		if err == nil {
			if !proto.Equal(after, before) {
				t.Errorf("after recovery the detail view shows %v, before the outage %v", after, before)
			}
			break
		}
		wantCode(t, err, codes.Unavailable, errVisibilityDown)
		if time.Now().After(deadline) {
			t.Fatalf("the mailbox did not recover after visibility returned: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
