package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/sightline/sightline/pkg/aip"
	"github.com/sightline/sightline/pkg/apierr"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// Limits of mail account fields.
const (
	maxSecretBytes = 16 << 10 // OAuth access tokens are a few KiB at most
	maxFolders     = 50
	defaultWindow  = int16(mailboxv1.SyncWindow_SYNC_WINDOW_3_DAYS)
)

var defaultFolders = []string{"INBOX", "Sent"}

var accountPaths = []string{"email_address", "display_name", "imap", "smtp", "username", "auth_kind", "secret", "sync_options"}

// secretAAD binds a sealed secret to its owner, so a sealed value copied to
// another user's row does not open (S5).
func secretAAD(companyID, userID int64) []byte {
	return fmt.Appendf(nil, "sightline.mailbox.mail_accounts/%d/%d", companyID, userID)
}

// seal encrypts a secret; "" means none (nil).
func (s *Server) seal(companyID, userID int64, secret string) ([]byte, error) {
	if secret == "" {
		return nil, nil
	}
	if s.box == nil {
		return nil, domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_SECRET_STORAGE_UNAVAILABLE,
			"this server has no secret keys configured (SECRET_KEYS), so it cannot store a mail account secret")
	}
	return s.box.Seal([]byte(secret), secretAAD(companyID, userID))
}

// OpenSecret opens an account's sealed secret for the sync worker that logs
// in to the provider (S5: the plaintext goes nowhere else).
func (s *Server) OpenSecret(companyID, userID int64, sealed []byte) (string, error) {
	if s.box == nil {
		return "", errors.New("no secret keys configured (SECRET_KEYS)")
	}
	pt, err := s.box.Open(sealed, secretAAD(companyID, userID))
	if err != nil {
		return "", err
	}
	return string(pt), nil
}

func serverSettings(field string, in *mailboxv1.ServerSettings) (store.ServerSettings, []apierr.FieldViolation) {
	var vs []apierr.FieldViolation
	out := store.ServerSettings{Host: strings.ToLower(strings.TrimSpace(in.GetHost())), Port: in.GetPort(), Security: int16(in.GetSecurity())}
	vs = append(vs, hostname(field+".host", out.Host)...)
	if out.Port < 1 || out.Port > 65535 {
		vs = append(vs, apierr.Field(field+".port", "must be between 1 and 65535"))
	}
	if _, ok := mailboxv1.ConnectionSecurity_name[int32(out.Security)]; !ok || out.Security == 0 {
		vs = append(vs, apierr.Field(field+".security", "must be TLS, STARTTLS or NONE"))
	}
	return out, vs
}

func syncOptions(in *mailboxv1.SyncOptions) (window int16, known bool, folders []string, vs []apierr.FieldViolation) {
	window = int16(in.GetInitialWindow())
	if window == 0 {
		window = defaultWindow
	}
	if _, ok := mailboxv1.SyncWindow_name[int32(window)]; !ok {
		vs = append(vs, apierr.Field("mail_account.sync_options.initial_window", "unknown value %d", window))
	}
	if len(in.GetFolders()) > maxFolders {
		vs = append(vs, apierr.Field("mail_account.sync_options.folders", "at most %d", maxFolders))
		return window, in.GetOnlyKnownContacts(), nil, vs
	}
	folders = []string{}
	seen := map[string]bool{}
	for i, f := range in.GetFolders() {
		f = strings.TrimSpace(f)
		field := fmt.Sprintf("mail_account.sync_options.folders[%d]", i)
		if f == "" {
			vs = append(vs, apierr.Field(field, "must not be empty"))
			continue
		}
		vs = append(vs, text(field, f, 255)...)
		if !seen[f] {
			seen[f] = true
			folders = append(folders, f)
		}
	}
	if len(folders) == 0 {
		folders = append([]string(nil), defaultFolders...)
	}
	return window, in.GetOnlyKnownContacts(), folders, vs
}

// accountFields validates the fields named in paths into a.
func accountFields(in *mailboxv1.MailAccount, paths map[string]bool, a *store.Account) []apierr.FieldViolation {
	var vs []apierr.FieldViolation
	if paths["email_address"] {
		if e, ok := normalizeEmail(in.GetEmailAddress()); ok {
			a.Email = e
		} else {
			vs = append(vs, apierr.Field("mail_account.email_address", "not an email address"))
		}
	}
	if paths["display_name"] {
		a.DisplayName = strings.TrimSpace(in.GetDisplayName())
		vs = append(vs, text("mail_account.display_name", a.DisplayName, 200)...)
	}
	if paths["imap"] {
		var v []apierr.FieldViolation
		a.IMAP, v = serverSettings("mail_account.imap", in.GetImap())
		vs = append(vs, v...)
	}
	if paths["smtp"] {
		var v []apierr.FieldViolation
		a.SMTP, v = serverSettings("mail_account.smtp", in.GetSmtp())
		vs = append(vs, v...)
	}
	if paths["username"] {
		a.Username = strings.TrimSpace(in.GetUsername())
		if a.Username == "" {
			a.Username = a.Email
		}
		vs = append(vs, text("mail_account.username", a.Username, 320)...)
	}
	if paths["auth_kind"] {
		a.AuthKind = int16(in.GetAuthKind())
		if a.AuthKind != int16(mailboxv1.AuthKind_AUTH_KIND_PASSWORD) && a.AuthKind != int16(mailboxv1.AuthKind_AUTH_KIND_XOAUTH2) {
			vs = append(vs, apierr.Field("mail_account.auth_kind", "must be PASSWORD or XOAUTH2"))
		}
	}
	if paths["sync_options"] {
		var v []apierr.FieldViolation
		a.SyncWindow, a.OnlyKnownContacts, a.Folders, v = syncOptions(in.GetSyncOptions())
		vs = append(vs, v...)
	}
	return vs
}

func secretField(secret string) []apierr.FieldViolation {
	if len(secret) > maxSecretBytes {
		return []apierr.FieldViolation{apierr.Field("secret", "at most %d bytes", maxSecretBytes)}
	}
	if strings.ContainsRune(secret, 0) {
		return []apierr.FieldViolation{apierr.Field("secret", "must not contain NUL")}
	}
	return nil
}

func accountPB(a store.Account) *mailboxv1.MailAccount {
	return &mailboxv1.MailAccount{
		Id:           a.ID,
		UserId:       a.UserID,
		EmailAddress: a.Email,
		DisplayName:  a.DisplayName,
		Imap:         &mailboxv1.ServerSettings{Host: a.IMAP.Host, Port: a.IMAP.Port, Security: mailboxv1.ConnectionSecurity(a.IMAP.Security)},
		Smtp:         &mailboxv1.ServerSettings{Host: a.SMTP.Host, Port: a.SMTP.Port, Security: mailboxv1.ConnectionSecurity(a.SMTP.Security)},
		Username:     a.Username,
		AuthKind:     mailboxv1.AuthKind(a.AuthKind),
		HasSecret:    a.HasSecret,
		SyncOptions: &mailboxv1.SyncOptions{InitialWindow: mailboxv1.SyncWindow(a.SyncWindow),
			OnlyKnownContacts: a.OnlyKnownContacts, Folders: a.Folders},
		CreateTime: ts(a.CreateTime),
		UpdateTime: ts(a.UpdateTime),
	}
}

// accountsPB converts accounts with their sync status (S6).
func (s *Server) accountsPB(ctx context.Context, companyID int64, accts ...store.Account) ([]*mailboxv1.MailAccount, error) {
	ids := make([]int64, len(accts))
	for i, a := range accts {
		ids[i] = a.ID
	}
	sts, err := s.store.SyncStatuses(ctx, companyID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*mailboxv1.MailAccount, len(accts))
	for i, a := range accts {
		st, ok := sts[a.ID]
		out[i] = accountPB(a)
		out[i].SyncStatus = syncStatusPB(a, st, ok)
	}
	return out, nil
}

// accountWithStatus is accountsPB of one account.
func (s *Server) accountWithStatus(ctx context.Context, companyID int64, a store.Account) (*mailboxv1.MailAccount, error) {
	out, err := s.accountsPB(ctx, companyID, a)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// CreateMailAccount connects a mailbox for the caller. The secret is sealed
// before it reaches the database and never returned (S5).
func (s *Server) CreateMailAccount(ctx context.Context, req *mailboxv1.CreateMailAccountRequest) (*mailboxv1.CreateMailAccountResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	all := map[string]bool{}
	for _, path := range accountPaths {
		all[path] = true
	}
	a := store.Account{UserID: p.UserID}
	vs := accountFields(req.GetMailAccount(), all, &a)
	vs = append(vs, secretField(req.GetSecret())...)
	if err := invalid(vs); err != nil {
		return nil, err
	}
	sealed, err := s.seal(p.CompanyID, p.UserID, req.GetSecret())
	if err != nil {
		return nil, err
	}
	out, err := s.store.CreateAccount(ctx, p.CompanyID, a, sealed)
	if err != nil {
		return nil, storeErr(err)
	}
	pb, err := s.accountWithStatus(ctx, p.CompanyID, out)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.CreateMailAccountResponse{MailAccount: pb}, nil
}

// GetMailAccount returns one of the caller's accounts.
func (s *Server) GetMailAccount(ctx context.Context, req *mailboxv1.GetMailAccountRequest) (*mailboxv1.GetMailAccountResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	if err := invalid(positive("mail_account_id", req.GetMailAccountId())); err != nil {
		return nil, err
	}
	a, err := s.store.Account(ctx, p.CompanyID, p.UserID, req.GetMailAccountId())
	if errors.Is(err, store.ErrNotFound) {
		return nil, accountNotFound(req.GetMailAccountId())
	}
	if err != nil {
		return nil, err
	}
	pb, err := s.accountWithStatus(ctx, p.CompanyID, a)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.GetMailAccountResponse{MailAccount: pb}, nil
}

// ListMailAccounts lists the caller's accounts by id.
func (s *Server) ListMailAccounts(ctx context.Context, req *mailboxv1.ListMailAccountsRequest) (*mailboxv1.ListMailAccountsResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	size, err := aip.PageSize(req.GetPageSize(), 50, 100)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("mail_accounts/%d/%d", p.CompanyID, p.UserID)
	cur, err := aip.DecodePageToken(req.GetPageToken(), key, 1)
	if err != nil {
		return nil, err
	}
	after := int64(0)
	if cur != nil {
		after = cur[0]
	}
	accts, err := s.store.ListAccounts(ctx, p.CompanyID, p.UserID, after, size+1)
	if err != nil {
		return nil, err
	}
	resp := &mailboxv1.ListMailAccountsResponse{}
	if len(accts) > size {
		accts = accts[:size]
		resp.NextPageToken = aip.EncodePageToken(key, accts[size-1].ID)
	}
	if resp.MailAccounts, err = s.accountsPB(ctx, p.CompanyID, accts...); err != nil {
		return nil, err
	}
	return resp, nil
}

// UpdateMailAccount changes one of the caller's accounts. The secret changes
// only when the mask names "secret".
func (s *Server) UpdateMailAccount(ctx context.Context, req *mailboxv1.UpdateMailAccountRequest) (*mailboxv1.UpdateMailAccountResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	id := req.GetMailAccount().GetId()
	if err := invalid(positive("mail_account.id", id)); err != nil {
		return nil, err
	}
	paths, err := aip.MaskPaths(req.GetUpdateMask(), accountPaths...)
	if err != nil {
		return nil, err
	}
	if len(req.GetUpdateMask().GetPaths()) == 0 {
		delete(paths, "secret") // an empty mask never touches the secret
	}
	var vs []apierr.FieldViolation
	var probe store.Account
	vs = append(vs, accountFields(req.GetMailAccount(), paths, &probe)...)
	var sec store.SecretUpdate
	if paths["secret"] {
		vs = append(vs, secretField(req.GetSecret())...)
	}
	if err := invalid(vs); err != nil {
		return nil, err
	}
	if paths["secret"] {
		sealed, err := s.seal(p.CompanyID, p.UserID, req.GetSecret())
		if err != nil {
			return nil, err
		}
		sec = store.SecretUpdate{Set: true, Sealed: sealed}
	}
	a, err := s.store.UpdateAccount(ctx, p.CompanyID, p.UserID, id, func(cur *store.Account) error {
		accountFields(req.GetMailAccount(), paths, cur) // validated above
		return nil
	}, sec)
	if errors.Is(err, store.ErrNotFound) {
		return nil, accountNotFound(id)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	pb, err := s.accountWithStatus(ctx, p.CompanyID, a)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.UpdateMailAccountResponse{MailAccount: pb}, nil
}

// DeleteMailAccount disconnects one of the caller's accounts.
func (s *Server) DeleteMailAccount(ctx context.Context, req *mailboxv1.DeleteMailAccountRequest) (*mailboxv1.DeleteMailAccountResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	if err := invalid(positive("mail_account_id", req.GetMailAccountId())); err != nil {
		return nil, err
	}
	err = s.store.DeleteAccount(ctx, p.CompanyID, p.UserID, req.GetMailAccountId())
	if errors.Is(err, store.ErrNotFound) {
		return nil, accountNotFound(req.GetMailAccountId())
	}
	if err != nil {
		return nil, err
	}
	return &mailboxv1.DeleteMailAccountResponse{}, nil
}
