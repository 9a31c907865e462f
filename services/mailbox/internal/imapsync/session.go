package imapsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/zap"

	"github.com/sightline/sightline/services/mailbox/internal/mailconn"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

var (
	errSecret = errors.New("imapsync: the account's secret cannot be opened")
	errIMAP   = errors.New("imapsync: imap command failed")
)

// imapError is a failed IMAP command: errors.Is(err, errIMAP), and it
// unwraps to the cause (a network error stays a net.Error).
type imapError struct {
	op  string
	err error
}

func (e *imapError) Error() string        { return "imap " + e.op + ": " + e.err.Error() }
func (e *imapError) Unwrap() error        { return e.err }
func (e *imapError) Is(target error) bool { return target == errIMAP }

func imapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &imapError{op: op, err: err}
}

// session is one held account: its connection and folders.
type session struct {
	m     *Manager
	la    *store.LeasedAccount
	log   *zap.Logger
	state int16

	c         *imapclient.Client
	notify    chan struct{} // unilateral EXISTS, EXPUNGE or FETCH
	condstore bool
	idle      bool
	folders   []string // provider names, INBOX last
	listed    []*imap.ListData
	resolved  bool            // folders listed at least once
	missing   map[string]bool // folder options not found at the last LIST
	gone      []goneUIDs      // found expunged during the pass, applied at its end
}

func (s *session) close() {
	if s.c != nil {
		_ = s.c.Close()
		s.c = nil
	}
}

// run syncs until ctx ends or an error.
func (s *session) run(ctx context.Context) error {
	secret, err := s.m.open(s.la.CompanyID, s.la.UserID, s.la.Sealed)
	if err != nil {
		// The error of secretbox says nothing of the plaintext.
		return fmt.Errorf("%w: %v", errSecret, err)
	}
	s.la.Sealed = nil
	if err := s.dial(ctx, secret); err != nil {
		return err
	}
	// Closing the connection unblocks any command when the lease ends.
	c := s.c
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	for {
		if err := s.pass(ctx); err != nil {
			return err
		}
		if err := s.wait(ctx); err != nil {
			return err
		}
	}
}

func (s *session) dial(ctx context.Context, secret string) error {
	s.notify = make(chan struct{}, 1)
	signal := func() {
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	h := &imapclient.UnilateralDataHandler{
		Expunge: func(uint32) { signal() },
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				signal()
			}
		},
		Fetch: func(msg *imapclient.FetchMessageData) {
			signal()
			for msg.Next() != nil {
			}
		},
	}
	a := s.la.Account
	c, err := mailconn.DialIMAP(ctx,
		mailconn.Endpoint{Host: a.IMAP.Host, Port: int(a.IMAP.Port), Security: mailconn.Security(a.IMAP.Security)},
		mailconn.Credentials{Username: a.Username, Secret: secret, Kind: mailconn.AuthKind(a.AuthKind)},
		mailconn.Options{TLSConfig: s.m.cfg.TLSConfig, DialTimeout: s.m.cfg.DialTimeout, UnilateralDataHandler: h,
			AllowPlaintext: s.m.cfg.AllowPlaintext, Silence: s.m.cfg.silence()})
	if err != nil {
		return err
	}
	s.c = c
	caps := c.Caps()
	s.condstore = caps.Has(imap.CapCondStore)
	s.idle = caps.Has(imap.CapIdle)
	return nil
}

// resolveFolders maps the account's folder options to provider mailboxes:
// "INBOX" is INBOX, "Sent" is the special-use \Sent mailbox (else one named
// Sent); other names must exist as they are. It runs at the start of the
// first pass and of every pass while a chosen folder is missing, so a folder
// created at the provider later (or deleted and created again while the
// session started) is synced from the next pass on.
func (s *session) resolveFolders() error {
	list, err := mailconn.ListMailboxes(s.c)
	if err != nil {
		return imapErr("list", err)
	}
	s.listed = list
	s.folders = nil
	missing, now := s.missing, map[string]bool{}
	hasInbox := false
	for _, want := range s.la.Folders {
		name := ""
		switch {
		case strings.EqualFold(want, "INBOX"):
			name, hasInbox = "INBOX", true
		case strings.EqualFold(want, "Sent"):
			name = mailconn.SpecialMailbox(s.listed, imap.MailboxAttrSent, "Sent")
		default:
			name = mailconn.NamedMailbox(s.listed, want)
		}
		if name == "" {
			if !missing[want] {
				s.log.Warn("a folder to sync does not exist at the provider", zap.String("folder", want))
			}
			now[want] = true
			continue
		}
		if missing[want] {
			s.log.Info("a folder to sync exists at the provider again", zap.String("folder", want))
		}
		if name != "INBOX" && !slices.Contains(s.folders, name) {
			s.folders = append(s.folders, name)
		}
	}
	if hasInbox {
		s.folders = append(s.folders, "INBOX") // last: IDLE waits on it
	}
	s.resolved, s.missing = true, now
	return nil
}

// pass performs the pending two-way actions and syncs every folder, taking
// one of the Manager's worker slots.
func (s *session) pass(ctx context.Context) error {
	select {
	case s.m.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.m.sem }()
	start := time.Now()
	if !s.resolved || len(s.missing) > 0 {
		if err := s.resolveFolders(); err != nil {
			return err
		}
	}
	if err := s.performActions(ctx); err != nil {
		return err
	}
	s.gone = nil
	for _, f := range s.folders {
		if err := s.syncFolder(ctx, f); err != nil {
			s.folderError(ctx, f, err)
			return err
		}
	}
	if err := s.applyExpunges(ctx); err != nil {
		return err
	}
	if _, err := s.m.store.RecordSync(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner,
		store.SyncOutcome{State: store.SyncSynced, Success: true}); err != nil {
		return err
	}
	if s.state != store.SyncSynced {
		s.log.Info("mail account synced", zap.Duration("took", time.Since(start)))
	}
	s.state = store.SyncSynced
	s.m.metrics.lastSuccess.WithLabelValues(strconv.FormatInt(s.la.CompanyID, 10), strconv.FormatInt(s.la.ID, 10)).
		SetToCurrentTime()
	return nil
}

func (s *session) folderError(ctx context.Context, folder string, err error) {
	if ctx.Err() != nil || errors.Is(err, store.ErrLeaseLost) {
		return
	}
	msg := errText(err)
	_ = s.m.store.UpdateFolder(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner, folder, store.FolderUpdate{Err: &msg})
}

// wait returns when a pass is due: news in IDLE, two-way actions, the idle
// timeout, or the poll interval without IDLE.
func (s *session) wait(ctx context.Context) error {
	sel := s.c.Mailbox()
	if !s.idle || sel == nil || sel.Name != "INBOX" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(jitter(s.m.cfg.PollInterval, 0.1)):
			return nil
		}
	}
	idle, err := s.c.Idle()
	if err != nil {
		return imapErr("idle", err)
	}
	stopIdle := func() error {
		if err := idle.Close(); err != nil {
			return imapErr("idle", err)
		}
		return imapErr("idle", idle.Wait())
	}
	timeout := time.NewTimer(s.m.cfg.IdleTimeout)
	defer timeout.Stop()
	poll := time.NewTicker(jitter(s.m.cfg.PollInterval, 0.1))
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = idle.Close()
			return ctx.Err()
		case <-s.c.Closed():
			return imapErr("idle", errors.New("connection closed by the server"))
		case <-s.notify:
			return stopIdle()
		case <-timeout.C:
			return stopIdle()
		case <-poll.C:
			ok, err := s.m.store.HasPendingActions(ctx, s.la.CompanyID, s.la.ID)
			if err != nil {
				_ = idle.Close()
				return err
			}
			if ok {
				return stopIdle()
			}
		}
	}
}

// setState records a state change while the lease is held (INITIAL_SYNC).
func (s *session) setState(ctx context.Context, state int16) error {
	if s.state == state {
		return nil
	}
	if _, err := s.m.store.RecordSync(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner, store.SyncOutcome{State: state}); err != nil {
		return err
	}
	s.state = state
	return nil
}
