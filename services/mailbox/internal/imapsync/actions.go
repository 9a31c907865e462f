package imapsync

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/emersion/go-imap/v2"
	"go.uber.org/zap"

	"github.com/sightline/sightline/services/mailbox/internal/mailconn"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// maxActionAttempts: a two-way action failing this often is dropped (the
// provider keeps the message where it is).
const maxActionAttempts = 5

// errNoSafeMove: the server offers neither MOVE nor UIDPLUS, so a move
// could only end with an EXPUNGE of the whole folder's deleted mail.
var errNoSafeMove = errors.New("the server supports neither MOVE nor UIDPLUS: moving one message would expunge every message marked deleted in its folder")

// performActions mirrors archive, unarchive and delete to the provider
// (M6): UID MOVE to the special-use \Archive or \Trash mailbox (else one
// named Archive or Trash, created when missing), and from the archive back
// to INBOX. The message's location moves with it in the same transaction
// that marks the action done, so the source folder's expunge never deletes
// the moved message here and the destination's new UID is never fetched as
// new mail. Actions run in the order they were queued.
func (s *session) performActions(ctx context.Context) error {
	acts, err := s.m.store.PendingActions(ctx, s.la.CompanyID, s.la.ID, 500)
	if err != nil || len(acts) == 0 {
		return err
	}
	mv := &mover{s: s}
	for _, a := range acts {
		var err error
		switch a.Kind {
		case store.ActionUnarchive:
			err = s.unarchive(ctx, mv, a)
		case store.ActionTrash:
			err = s.moveTo(ctx, mv, a, "trash", imap.MailboxAttrTrash, "Trash")
		default:
			err = s.moveTo(ctx, mv, a, "archive", imap.MailboxAttrArchive, "Archive")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// moveTo moves the action's UID to the mailbox of a special use. A
// provider that will not create that mailbox (no right to create one, a
// namespace that wants another name) fails this action, not the pass: the
// account's sync goes on.
func (s *session) moveTo(ctx context.Context, mv *mover, a store.ProviderAction, kind string, attr imap.MailboxAttr, fallback string) error {
	dest, err := s.destination(attr, fallback)
	if err != nil {
		if isNetErr(err) {
			return err
		}
		s.failAction(ctx, s.log.With(zap.String("action", kind), zap.String("folder", a.Folder), zap.Uint32("uid", a.UID),
			zap.String("dest", fallback)), a, kind, err)
		return nil
	}
	return mv.move(ctx, a, kind, dest)
}

// unarchive moves what the message has in the archive back to INBOX; a
// message the archive does not hold (never moved there, or moved away
// since) stays where it is.
func (s *session) unarchive(ctx context.Context, mv *mover, a store.ProviderAction) error {
	archive := mailconn.SpecialMailbox(s.listed, imap.MailboxAttrArchive, "Archive")
	var locs []store.FolderUID
	if archive != "" && a.MessageID != 0 {
		var err error
		if locs, err = s.m.store.MessageLocations(ctx, s.la.CompanyID, s.la.ID, a.MessageID); err != nil {
			return err
		}
	}
	moved := false
	for _, l := range locs {
		if l.Folder != archive {
			continue
		}
		b := a
		b.Folder, b.UIDValidity, b.UID = l.Folder, l.UIDValidity, l.UID
		if err := mv.move(ctx, b, "unarchive", "INBOX"); err != nil {
			return err
		}
		moved = true
	}
	if !moved {
		return s.m.store.DropAction(ctx, s.la.CompanyID, a.ID)
	}
	return nil
}

// mover moves single UIDs at the provider, keeping the mailbox selected
// between moves from one folder.
type mover struct {
	s        *session
	selected string
	validity uint32
}

// move moves a.UID from a.Folder to dest and records it. A refusal by the
// provider counts as a failed attempt of the action; only a broken
// connection or the database is an error.
func (mv *mover) move(ctx context.Context, a store.ProviderAction, kind, dest string) error {
	s := mv.s
	log := s.log.With(zap.String("action", kind), zap.String("folder", a.Folder), zap.Uint32("uid", a.UID),
		zap.String("dest", dest))
	if mv.selected != a.Folder {
		sel, err := s.c.Select(a.Folder, nil).Wait()
		if err != nil {
			if isNetErr(err) {
				return imapErr("select", err)
			}
			s.failAction(ctx, log, a, kind, err)
			return nil
		}
		mv.selected, mv.validity = a.Folder, sel.UIDValidity
	}
	if mv.validity != a.UIDValidity {
		// The UID names another message now: nothing to move.
		log.Info("two-way action dropped: the folder's UIDVALIDITY changed")
		return s.m.store.DropAction(ctx, s.la.CompanyID, a.ID)
	}
	if a.Folder == dest {
		return s.m.store.CompleteAction(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner, a, dest, mv.validity, a.UID)
	}
	if caps := s.c.Caps(); !caps.Has(imap.CapMove) && !caps.Has(imap.CapUIDPlus) {
		// go-imap would move by COPY, STORE \Deleted and a plain EXPUNGE,
		// which expunges every message of the folder marked \Deleted.
		s.failAction(ctx, log, a, kind, errNoSafeMove)
		return nil
	}
	data, err := s.c.Move(imap.UIDSetNum(imap.UID(a.UID)), dest).Wait()
	if err != nil {
		if isNetErr(err) {
			return imapErr("uid move", err)
		}
		s.failAction(ctx, log, a, kind, err)
		return nil
	}
	var destUID uint32
	if set, ok := data.DestUIDs.(imap.UIDSet); ok {
		if nums, ok := set.Nums(); ok && len(nums) == 1 {
			destUID = uint32(nums[0])
		}
	}
	if err := s.m.store.CompleteAction(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner, a, dest, data.UIDValidity, destUID); err != nil {
		return err
	}
	s.m.metrics.actions.WithLabelValues(kind, "done").Inc()
	log.Info("two-way action done at the provider", zap.Uint32("dest_uid", destUID))
	return nil
}

func (s *session) failAction(ctx context.Context, log *zap.Logger, a store.ProviderAction, kind string, err error) {
	s.m.metrics.actions.WithLabelValues(kind, "failed").Inc()
	s.m.metrics.errors.WithLabelValues("action").Inc()
	log.Warn("two-way action failed at the provider", zap.Int("attempts", a.Attempts+1), zap.Error(err))
	if ferr := s.m.store.FailAction(ctx, s.la.CompanyID, a.ID, errText(err), maxActionAttempts); ferr != nil {
		log.Warn("recording a failed two-way action failed", zap.Error(ferr))
	}
}

// destination resolves (and creates when missing) the mailbox of a
// special use.
func (s *session) destination(attr imap.MailboxAttr, fallback string) (string, error) {
	if name := mailconn.SpecialMailbox(s.listed, attr, fallback); name != "" {
		return name, nil
	}
	var opts *imap.CreateOptions
	if s.c.Caps().Has(imap.CapCreateSpecialUse) {
		opts = &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{attr}}
	}
	if err := s.c.Create(fallback, opts).Wait(); err != nil {
		return "", imapErr("create", err)
	}
	s.log.Info("created a mailbox at the provider for two-way sync", zap.String("mailbox", fallback))
	s.listed = append(s.listed, &imap.ListData{Mailbox: fallback, Attrs: []imap.MailboxAttr{attr}})
	return fallback, nil
}

// isNetErr reports a broken connection (retry the pass later) as opposed
// to the provider refusing a command (a failed attempt of the action).
// go-imap ends the commands in flight on a lost connection with
// io.ErrUnexpectedEOF, which is no net.Error.
func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed)
}
