package imapsync

import (
	"context"
	"slices"

	"github.com/emersion/go-imap/v2"
	"go.uber.org/zap"

	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// flags applies \Seen changes at the provider: by CONDSTORE CHANGEDSINCE
// when the server has it, else by re-reading the flags of the folder's
// newest locations (a bounded rescan).
func (s *session) flags(ctx context.Context, sel *imap.SelectData, st *store.FolderState) error {
	seen := map[uint32]bool{}
	switch {
	case s.condstore && sel.HighestModSeq > 0 && st.HighestModSeq > 0:
		if sel.HighestModSeq <= st.HighestModSeq {
			return nil
		}
		msgs, err := s.c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
			UID: true, Flags: true, ChangedSince: st.HighestModSeq,
		}).Collect()
		if err != nil {
			return imapErr("uid fetch changedsince", err)
		}
		for _, m := range msgs {
			if m.UID != 0 {
				seen[uint32(m.UID)] = slices.Contains(m.Flags, imap.FlagSeen)
			}
		}
	case s.condstore && sel.HighestModSeq > 0:
		// The server had no HIGHESTMODSEQ before: start from now on.
	default:
		// No CONDSTORE, or a mailbox without mod-sequences (NOMODSEQ):
		// the bounded rescan.
		stored, err := s.m.store.FolderStoredUIDs(ctx, s.la.CompanyID, s.la.ID, st.Name, flagRescan)
		if err != nil || len(stored) == 0 {
			return err
		}
		uids := make([]imap.UID, 0, len(stored))
		for u := range stored {
			uids = append(uids, imap.UID(u))
		}
		msgs, err := s.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, Flags: true}).Collect()
		if err != nil {
			return imapErr("uid fetch flags", err)
		}
		for _, m := range msgs {
			f := slices.Contains(m.Flags, imap.FlagSeen)
			if was, ok := stored[uint32(m.UID)]; ok && was != f {
				seen[uint32(m.UID)] = f
			}
		}
	}
	n, err := s.m.store.ApplySeen(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner, st.Name, seen)
	if err != nil {
		return err
	}
	if n > 0 {
		s.log.Debug("seen flags changed at the provider", zap.String("folder", st.Name), zap.Int("messages", n))
	}
	if s.condstore && sel.HighestModSeq > st.HighestModSeq {
		if err := s.m.store.UpdateFolder(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner, st.Name,
			store.FolderUpdate{HighestModSeq: ptr(sel.HighestModSeq)}); err != nil {
			return err
		}
		st.HighestModSeq = sel.HighestModSeq
	}
	return nil
}

// expunges finds the folder's locations whose UID is gone at the provider
// (UID SEARCH over the locations' range, compared with the locations) and
// leaves them for applyExpunges, after every folder of the pass: a message
// moved at the provider from this folder to one synced later in the pass
// is then found there first (stored once, S3) and keeps its thread, links
// and sharing, instead of being deleted here and stored again as new.
func (s *session) expunges(folder string, log *zap.Logger, have []uint32) error {
	if len(have) == 0 {
		return nil
	}
	present, err := s.search(&imap.SearchCriteria{UID: uidRange(imap.UID(have[0]), imap.UID(have[len(have)-1]))})
	if err != nil {
		return err
	}
	var gone []uint32
	for _, u := range have {
		if _, found := slices.BinarySearch(present, imap.UID(u)); !found {
			gone = append(gone, u)
		}
	}
	if len(gone) > 0 {
		s.gone = append(s.gone, goneUIDs{folder: folder, log: log, uids: gone})
	}
	return nil
}

// goneUIDs are a folder's UIDs expunged at the provider.
type goneUIDs struct {
	folder string
	log    *zap.Logger
	uids   []uint32
}

// applyExpunges deletes here what the pass found expunged at the provider
// (M6); locations waiting for a two-way move are left alone.
func (s *session) applyExpunges(ctx context.Context) error {
	for _, g := range s.gone {
		res, err := s.m.store.Expunge(ctx, s.la.CompanyID, s.la.ID, s.la.UserID, s.m.cfg.Owner, g.folder, g.uids)
		if err != nil {
			return err
		}
		s.m.metrics.expunged.Add(float64(res.Messages))
		g.log.Info("messages expunged at the provider", zap.Int("locations", res.Locations),
			zap.Int("messages_deleted", res.Messages), zap.Int("threads_deleted", res.Threads))
	}
	s.gone = nil
	return nil
}
