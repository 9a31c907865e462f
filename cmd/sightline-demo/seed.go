package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline/sightline/pkg/auth"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

type seeder struct {
	cfg            config
	visConn, mConn *grpc.ClientConn
	vis            visibilityv1.VisibilityServiceClient
	mb             mailboxv1.MailboxServiceClient
	tokens         map[int64]string // user id -> token; 0 = the service principal
	groupIDs       map[string]int64

	anchor  time.Time // the demo mail is dated before it
	account int64     // Ada's mail account, 0 when she has none (set by mailAccount)
	synced  bool      // Ada's account points at a running IMAP server
	threads map[string]int64
}

func newSeeder(cfg config) (*seeder, error) {
	s := &seeder{cfg: cfg, tokens: map[int64]string{}, groupIDs: map[string]int64{}, threads: map[string]int64{}}
	var err error
	if s.visConn, err = grpc.NewClient(cfg.visAddr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return nil, err
	}
	if s.mConn, err = grpc.NewClient(cfg.mbAddr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		s.visConn.Close()
		return nil, err
	}
	s.vis = visibilityv1.NewVisibilityServiceClient(s.visConn)
	s.mb = mailboxv1.NewMailboxServiceClient(s.mConn)
	mint := func(p auth.Principal) (string, error) { return auth.Mint(cfg.key, p, 12*time.Hour) }
	if s.tokens[0], err = mint(auth.Principal{Kind: auth.KindService, CompanyID: demoCompany, Service: "crm"}); err != nil {
		return nil, err
	}
	for _, u := range users {
		if s.tokens[u.id], err = mint(auth.Principal{Kind: auth.KindUser, CompanyID: demoCompany, UserID: u.id}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *seeder) close() {
	s.visConn.Close()
	s.mConn.Close()
}

// as returns ctx calling as user id (0: the service principal "crm").
func (s *seeder) as(ctx context.Context, id int64) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.tokens[id])
}

func (s *seeder) svc(ctx context.Context) context.Context { return s.as(ctx, 0) }

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

func (s *seeder) seed(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"company", s.company},
		{"users", s.users},
		{"groups", s.groups},
		{"memberships", s.memberships},
		{"pipelines", s.pipelines},
		{"items", s.items},
		{"contact index", s.contacts},
		{"mail settings and addresses", s.mailSettings},
		{"mail account", s.mailAccount},
		{"mail", s.mail},
		{"sharing", s.sharing},
		{"sync", s.waitSync},
	}
	for _, st := range steps {
		if err := st.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

// company creates company 1 on the enterprise plan, or moves it there. Its
// creation time anchors the demo mail's dates, so they stay the same on every run.
func (s *seeder) company(ctx context.Context) error {
	var c *visibilityv1.Company
	r, err := s.vis.GetCompany(s.svc(ctx), &visibilityv1.GetCompanyRequest{})
	switch status.Code(err) {
	case codes.OK:
		c = r.GetCompany()
		if c.GetPlan() != visibilityv1.Plan_PLAN_ENTERPRISE {
			u, err := s.vis.UpdateCompany(s.svc(ctx), &visibilityv1.UpdateCompanyRequest{
				Company: &visibilityv1.Company{Plan: visibilityv1.Plan_PLAN_ENTERPRISE}, UpdateMask: mask("plan")})
			if err != nil {
				return err
			}
			c = u.GetCompany()
		}
	case codes.NotFound:
		cr, err := s.vis.CreateCompany(s.svc(ctx), &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ENTERPRISE})
		if err != nil {
			return err
		}
		c = cr.GetCompany()
		logf("created company %d (plan enterprise)", c.GetId())
	default:
		return err
	}
	s.anchor = c.GetCreateTime().AsTime().UTC().Truncate(time.Hour)
	if s.anchor.IsZero() || s.anchor.Year() < 2000 {
		s.anchor = time.Now().UTC().Truncate(24 * time.Hour)
	}
	s.groupIDs[""] = c.GetDefaultGroupId()
	return nil
}

func (s *seeder) users(ctx context.Context) error {
	for _, u := range users {
		_, err := s.vis.UpsertUser(s.svc(ctx), &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{
			Id: u.id, Name: u.name, Email: userEmail(u), Active: true, Permissions: u.perms}})
		if err != nil {
			return fmt.Errorf("user %d: %w", u.id, err)
		}
	}
	return nil
}

// groups creates the group tree, or puts existing groups (found by name) back in place.
func (s *seeder) groups(ctx context.Context) error {
	lr, err := s.vis.ListGroups(s.svc(ctx), &visibilityv1.ListGroupsRequest{})
	if err != nil {
		return err
	}
	existing := map[string]*visibilityv1.Group{}
	var walk func([]*visibilityv1.GroupNode)
	walk = func(ns []*visibilityv1.GroupNode) {
		for _, n := range ns {
			if _, dup := existing[n.GetGroup().GetName()]; !dup {
				existing[n.GetGroup().GetName()] = n.GetGroup()
			}
			walk(n.GetChildren())
		}
	}
	walk(lr.GetRoots())
	for _, g := range groups {
		parent := s.groupIDs[g.parent]
		if g.parent == "" {
			parent = 0
		}
		dv := &visibilityv1.DefaultVisibility{
			Deal: g.deal, Lead: g.deal, Person: g.person,
			Organization: visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY, Product: visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY,
		}
		want := &visibilityv1.Group{Name: g.name, ParentId: parent, DefaultVisibility: dv}
		if old, ok := existing[g.name]; ok {
			want.Id = old.GetId()
			if _, err := s.vis.UpdateGroup(s.svc(ctx), &visibilityv1.UpdateGroupRequest{Group: want,
				UpdateMask: mask("parent_id", "default_visibility")}); err != nil {
				return fmt.Errorf("group %q: %w", g.name, err)
			}
			s.groupIDs[g.name] = old.GetId()
			continue
		}
		r, err := s.vis.CreateGroup(s.svc(ctx), &visibilityv1.CreateGroupRequest{Group: want})
		if err != nil {
			return fmt.Errorf("group %q: %w", g.name, err)
		}
		s.groupIDs[g.name] = r.GetGroup().GetId()
		logf("created group %q (id %d)", g.name, r.GetGroup().GetId())
	}
	return nil
}

func (s *seeder) memberships(ctx context.Context) error {
	for _, u := range users {
		if _, err := s.vis.SetUserGroup(s.svc(ctx), &visibilityv1.SetUserGroupRequest{UserId: u.id, GroupId: s.groupIDs[u.group]}); err != nil {
			return fmt.Errorf("user %d to %q: %w", u.id, u.group, err)
		}
	}
	return nil
}

func (s *seeder) pipelines(ctx context.Context) error {
	for _, p := range pipelines {
		if _, err := s.vis.UpsertPipeline(s.svc(ctx), &visibilityv1.UpsertPipelineRequest{Pipeline: p}); err != nil {
			return err
		}
	}
	// V7: Sales Americas does not see the Enterprise pipeline; every other group sees all.
	for name, id := range s.groupIDs {
		ch := &visibilityv1.PipelineIdChanges{Add: []int64{pipelineEnterprise}}
		if name == hiddenPipelineGroup {
			ch = &visibilityv1.PipelineIdChanges{Remove: []int64{pipelineEnterprise}}
		}
		if _, err := s.vis.UpdateGroupPipelines(s.svc(ctx), &visibilityv1.UpdateGroupPipelinesRequest{GroupId: id, VisiblePipelineIds: ch}); err != nil {
			return fmt.Errorf("group %q: %w", name, err)
		}
	}
	return nil
}

// items registers deals, persons and organizations, written on Grace's
// behalf (the admin importing the CRM's data, who may set any visible_to).
func (s *seeder) items(ctx context.Context) error {
	if _, err := s.vis.BatchUpsertItems(s.svc(ctx), &visibilityv1.BatchUpsertItemsRequest{Items: items(), ActingUserId: grace}); err != nil {
		return err
	}
	for deal, followers := range follows {
		if _, err := s.vis.AddItemFollowers(s.svc(ctx), &visibilityv1.AddItemFollowersRequest{
			Item: &visibilityv1.ItemRef{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: deal}, UserIds: followers}); err != nil {
			return err
		}
	}
	return nil
}

// contacts feeds the mailbox's contact index: persons with their emails and
// deals with their persons, which link threads (M7).
func (s *seeder) contacts(ctx context.Context) error {
	for _, p := range persons {
		if _, err := s.mb.UpsertPerson(s.svc(ctx), &mailboxv1.UpsertPersonRequest{PersonId: p.id, OrganizationId: p.org,
			Name: p.name, Emails: []string{p.email}}); err != nil {
			return fmt.Errorf("person %d: %w", p.id, err)
		}
	}
	for _, d := range deals {
		st := mailboxv1.DealStatus_DEAL_STATUS_OPEN
		if !d.open {
			st = mailboxv1.DealStatus_DEAL_STATUS_WON
		}
		if _, err := s.mb.UpsertDeal(s.svc(ctx), &mailboxv1.UpsertDealRequest{DealId: d.id, Status: st, PersonIds: d.persons}); err != nil {
			return fmt.Errorf("deal %d: %w", d.id, err)
		}
	}
	return nil
}

// mailSettings gives every user their address (M5, Smart Bcc) and Ada the
// default sharing "shared" (M4), before any of her mail arrives.
func (s *seeder) mailSettings(ctx context.Context) error {
	for _, u := range users {
		if _, err := s.mb.SetUserAddresses(s.svc(ctx), &mailboxv1.SetUserAddressesRequest{UserId: u.id,
			EmailAddresses: []string{userEmail(u)}}); err != nil {
			return fmt.Errorf("user %d: %w", u.id, err)
		}
	}
	_, err := s.mb.UpdateMailSettings(s.as(ctx, ada), &mailboxv1.UpdateMailSettingsRequest{
		Settings: &mailboxv1.MailSettings{DefaultSharing: mailboxv1.Sharing_SHARING_SHARED}, UpdateMask: mask("default_sharing")})
	return err
}

// mailAccount finds Ada's account (s.account), fills the IMAP server with
// her demo mail and connects her account to it (password auth, no TLS:
// loopback only). Without a server Ada keeps the account she has, if any;
// her mail is ingested all the same.
func (s *seeder) mailAccount(ctx context.Context) error {
	var err error
	if s.account, err = s.accountID(ctx); err != nil {
		return err
	}
	if s.cfg.imapAddr == "" {
		logf("no IMAP server (--imap-addr): Ada's demo mail is ingested directly, without a connected account")
		return nil
	}
	n, err := fillDovecot(ctx, s.cfg.imapAddr, s.cfg.imapUser, s.cfg.imapPass, s.anchor)
	if err != nil {
		logf("warning: cannot fill the IMAP server at %s (%v): Ada's demo mail is ingested directly", s.cfg.imapAddr, err)
		return nil
	}
	logf("IMAP %s: appended %d demo messages to Ada's INBOX and Sent (%d were there already)", s.cfg.imapAddr, n, len(messages)-n)

	host, portS, err := net.SplitHostPort(s.cfg.accountIMAP)
	if err != nil {
		return fmt.Errorf("--account-imap-addr: %w", err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return fmt.Errorf("--account-imap-addr: %w", err)
	}
	acct := &mailboxv1.MailAccount{
		EmailAddress: "ada@" + mailDomain,
		DisplayName:  "Ada Lovelace",
		Imap:         &mailboxv1.ServerSettings{Host: host, Port: int32(port), Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_NONE},
		// The demo has no SMTP submission server: sending replies fails until one is configured.
		Smtp:        &mailboxv1.ServerSettings{Host: host, Port: 587, Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_NONE},
		Username:    s.cfg.imapUser,
		AuthKind:    mailboxv1.AuthKind_AUTH_KIND_PASSWORD,
		SyncOptions: &mailboxv1.SyncOptions{InitialWindow: mailboxv1.SyncWindow_SYNC_WINDOW_1_MONTH, Folders: []string{"INBOX", "Sent"}},
	}
	me := s.as(ctx, ada)
	if s.account != 0 {
		acct.Id = s.account
		_, err := s.mb.UpdateMailAccount(me, &mailboxv1.UpdateMailAccountRequest{MailAccount: acct, Secret: s.cfg.imapPass,
			UpdateMask: mask("display_name", "imap", "smtp", "username", "auth_kind", "secret", "sync_options")})
		if err != nil {
			return err
		}
		s.synced = true
		return nil
	}
	r, err := s.mb.CreateMailAccount(me, &mailboxv1.CreateMailAccountRequest{MailAccount: acct, Secret: s.cfg.imapPass})
	if err != nil {
		return err
	}
	s.account = r.GetMailAccount().GetId()
	logf("connected Ada's mail account %d to IMAP %s", s.account, s.cfg.accountIMAP)
	s.synced = true
	return nil
}

// accountID looks up Ada's account (ada@ the mail domain), 0 when she has none.
func (s *seeder) accountID(ctx context.Context) (int64, error) {
	lr, err := s.mb.ListMailAccounts(s.as(ctx, ada), &mailboxv1.ListMailAccountsRequest{PageSize: 100})
	if err != nil {
		return 0, err
	}
	for _, a := range lr.GetMailAccounts() {
		if a.GetEmailAddress() == "ada@"+mailDomain {
			return a.GetId(), nil
		}
	}
	return 0, nil
}

// mail ingests Ada's demo messages, the same bytes as in Dovecot, in one
// batch. Already stored messages come back as duplicates, so a second run
// (or the IMAP sync having been first) adds nothing.
func (s *seeder) mail(ctx context.Context) error {
	req := &mailboxv1.BatchIngestMessagesRequest{UserId: ada, AccountId: s.account}
	for _, m := range messages {
		req.Messages = append(req.Messages, &mailboxv1.IngestMessageRequest{Folder: m.folder, Raw: m.raw(s.anchor),
			Seen: m.seen(), ReceivedTime: timestamppb.New(m.date(s.anchor))})
	}
	r, err := s.mb.BatchIngestMessages(s.svc(ctx), req)
	if err != nil {
		return err
	}
	dups := 0
	for _, res := range r.GetResults() {
		if res.GetDuplicate() {
			dups++
		}
	}
	logf("ingested Ada's %d demo messages: %d new, %d already there", len(messages), len(messages)-dups, dups)
	return nil
}

// sharing keeps two of Ada's threads private: the Initech renewal (the
// walkthrough shares it and makes it private again) and a personal one.
func (s *seeder) sharing(ctx context.Context) error {
	me := s.as(ctx, ada)
	var ids []int64
	for _, folder := range []mailboxv1.Folder{mailboxv1.Folder_FOLDER_INBOX, mailboxv1.Folder_FOLDER_ARCHIVE} {
		r, err := s.mb.ListThreads(me, &mailboxv1.ListThreadsRequest{Folder: folder, PageSize: 500})
		if err != nil {
			return err
		}
		for _, t := range r.GetThreads() {
			s.threads[t.GetSubject()] = t.GetId()
			if t.GetSubject() == subjInitech || t.GetSubject() == subjLunch {
				ids = append(ids, t.GetId())
			}
		}
	}
	if len(ids) != 2 {
		return fmt.Errorf("Ada's threads %q and %q: found %d, want 2", subjInitech, subjLunch, len(ids))
	}
	_, err := s.mb.UnshareThreads(me, &mailboxv1.UnshareThreadsRequest{ThreadIds: ids})
	if err != nil {
		return err
	}
	// Report what the demo shows: the threads on the Globex deal.
	it, err := s.mb.ListItemThreads(me, &mailboxv1.ListItemThreadsRequest{Item: &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_DEAL, Id: dealGlobex}})
	if err != nil {
		return err
	}
	var subj []string
	for _, t := range it.GetThreads() {
		subj = append(subj, fmt.Sprintf("%q (%d messages, shared %v)", t.GetSubject(), t.GetMessageCount(), t.GetShared()))
	}
	logf("deal %d shows: %s", dealGlobex, strings.Join(subj, ", "))
	return nil
}

// waitSync waits a little for the mailbox's IMAP sync to have fetched Ada's
// demo mail from Dovecot, and says how far it got. The demo does not depend
// on it: the same mail was ingested already.
func (s *seeder) waitSync(ctx context.Context) error {
	if !s.synced || s.account == 0 {
		return nil
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := s.mb.GetMailAccount(s.as(ctx, ada), &mailboxv1.GetMailAccountRequest{MailAccountId: s.account})
		if err != nil {
			return err
		}
		st := r.GetMailAccount().GetSyncStatus() // always set by the mailbox (PENDING before a first pass)
		var done int64
		var folders []string
		for _, f := range st.GetFolders() {
			done += f.GetMessagesDone()
			folders = append(folders, fmt.Sprintf("%s %d/%d", f.GetName(), f.GetMessagesDone(), f.GetMessagesTotal()))
		}
		if st.GetState() == mailboxv1.SyncState_SYNC_STATE_SYNCED && done >= int64(len(messages)) {
			logf("Ada's account is synced from IMAP %s: %s", s.cfg.accountIMAP, strings.Join(folders, ", "))
			return nil
		}
		if time.Now().After(deadline) {
			logf("Ada's account is not synced yet (%s; %s%s): the mailbox keeps at it; the demo mail is there through ingest",
				st.GetState(), strings.Join(folders, ", "), map[bool]string{true: "; last error: " + st.GetLastError(), false: ""}[st.GetLastError() != ""])
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
