package imapsync

import (
	"context"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"go.uber.org/zap"

	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// defaultMaxMessageBytes is the largest message synced (the ingest limit).
const defaultMaxMessageBytes = 25 << 20

// flagRescan bounds the flag rescan of servers without CONDSTORE: the
// newest locations of a folder.
const flagRescan = 500

// windowStart is the first day of the initial window (S1).
func windowStart(w int16, now time.Time) time.Time {
	switch w {
	case 2:
		return now.AddDate(0, -1, 0)
	case 3:
		return now.AddDate(0, -3, 0)
	case 4:
		return now.AddDate(0, -6, 0)
	case 5:
		return now.AddDate(-1, 0, 0)
	case 6:
		return now.AddDate(-2, 0, 0)
	default:
		return now.AddDate(0, 0, -3)
	}
}

func ptr[T any](v T) *T { return &v }

// syncFolder brings one folder up to date.
func (s *session) syncFolder(ctx context.Context, name string) error {
	log := s.log.With(zap.String("folder", name))
	sel, err := s.c.Select(name, &imap.SelectOptions{CondStore: s.condstore}).Wait()
	if err != nil {
		return imapErr("select", err)
	}
	st, ok, err := s.m.store.Folder(ctx, s.la.CompanyID, s.la.ID, name)
	if err != nil {
		return err
	}
	if !ok || st.UIDValidity != sel.UIDValidity {
		if ok {
			// S1: the folder's UIDs mean nothing any more. Its locations go
			// and it is synced again; ingest finds the stored messages by
			// Message-ID and content hash, so nothing is duplicated.
			log.Info("UIDVALIDITY changed: re-syncing the folder",
				zap.Uint32("old", st.UIDValidity), zap.Uint32("new", sel.UIDValidity))
		}
		if err := s.m.store.ResetFolder(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner, name, sel.UIDValidity); err != nil {
			return err
		}
		st = store.FolderState{Name: name, UIDValidity: sel.UIDValidity}
	}
	// The UIDs with a location, once per pass: what this pass stores is
	// outside the ranges the later steps look at (the initial window is
	// below UIDNEXT, new mail above it), and it was just seen at the
	// provider, so the expunge check can leave it to the next pass.
	have, err := s.m.store.FolderUIDs(ctx, s.la.CompanyID, s.la.ID, name)
	if err != nil {
		return err
	}
	if !st.InitialDone {
		if err := s.initialSync(ctx, log, sel, &st, have); err != nil {
			return err
		}
	}
	if err := s.newMail(ctx, sel, &st, have); err != nil {
		return err
	}
	if err := s.flags(ctx, sel, &st); err != nil {
		return err
	}
	if err := s.expunges(name, log, have); err != nil {
		return err
	}
	return s.m.store.UpdateFolder(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner, name, store.FolderUpdate{Success: true})
}

// search runs UID SEARCH and returns the UIDs, ascending.
func (s *session) search(c *imap.SearchCriteria) ([]imap.UID, error) {
	var opts *imap.SearchOptions
	if s.c.Caps().Has(imap.CapESearch) {
		opts = &imap.SearchOptions{ReturnAll: true}
	}
	data, err := s.c.UIDSearch(c, opts).Wait()
	if err != nil {
		return nil, imapErr("uid search", err)
	}
	uids := data.AllUIDs()
	slices.Sort(uids)
	return uids, nil
}

func uidRange(from, to imap.UID) []imap.UIDSet {
	return []imap.UIDSet{{imap.UIDRange{Start: from, Stop: to}}}
}

// initialSync fetches the initial window: the messages since the window's
// first day with a UID below the folder's UIDNEXT when it began. It resumes
// where it stopped: UIDs with a location are done.
func (s *session) initialSync(ctx context.Context, log *zap.Logger, sel *imap.SelectData, st *store.FolderState, have []uint32) error {
	if err := s.setState(ctx, store.SyncInitial); err != nil {
		return err
	}
	first := st.UIDNext == 0
	target := st.UIDNext
	if first {
		target = uint32(sel.UIDNext)
		if target == 0 { // a server not reporting UIDNEXT: the highest UID + 1
			all, err := s.search(&imap.SearchCriteria{UID: uidRange(1, 0)})
			if err != nil {
				return err
			}
			target = 1
			if len(all) > 0 {
				target = uint32(all[len(all)-1]) + 1
			}
		}
	}
	var window []imap.UID
	if target > 1 {
		var err error
		window, err = s.search(&imap.SearchCriteria{
			UID:   uidRange(1, imap.UID(target-1)),
			Since: windowStart(s.la.SyncWindow, time.Now()),
		})
		if err != nil {
			return err
		}
	}
	var todo []imap.UID
	for _, u := range window {
		if _, found := slices.BinarySearch(have, uint32(u)); !found {
			todo = append(todo, u)
		}
	}
	u := store.FolderUpdate{Total: ptr(int64(len(window))), Done: ptr(int64(len(window) - len(todo)))}
	if first {
		u.UIDNext = ptr(target)
		if s.condstore {
			// Changes during the initial fetch are caught by CHANGEDSINCE after it.
			u.HighestModSeq = ptr(sel.HighestModSeq)
		}
	}
	if err := s.m.store.UpdateFolder(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner, st.Name, u); err != nil {
		return err
	}
	log.Info("initial sync of a folder", zap.Int("window", len(window)), zap.Int("to_fetch", len(todo)))
	// The newest first: the user sees recent mail early.
	slices.Reverse(todo)
	got, err := s.syncUIDs(ctx, st, todo, false)
	if err != nil {
		return err
	}
	done := int64(len(window)-len(todo)) + int64(got)
	// Messages expunged since the search are not to do any more.
	if err := s.m.store.UpdateFolder(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner, st.Name,
		store.FolderUpdate{InitialDone: ptr(true), Total: ptr(done), Done: ptr(done)}); err != nil {
		return err
	}
	st.InitialDone = true
	st.UIDNext = target
	if first && s.condstore {
		st.HighestModSeq = sel.HighestModSeq
	}
	return nil
}

// newMail fetches the messages with UIDs from the folder's UIDNEXT on.
func (s *session) newMail(ctx context.Context, sel *imap.SelectData, st *store.FolderState, have []uint32) error {
	if sel.UIDNext != 0 && uint32(sel.UIDNext) <= st.UIDNext {
		return nil
	}
	from := imap.UID(max(st.UIDNext, 1))
	uids, err := s.search(&imap.SearchCriteria{UID: uidRange(from, 0)})
	if err != nil {
		return err
	}
	// "n:*" also matches the highest UID when it is below n.
	uids = slices.DeleteFunc(uids, func(u imap.UID) bool { return u < from })
	uids = slices.DeleteFunc(uids, func(u imap.UID) bool {
		_, found := slices.BinarySearch(have, uint32(u))
		return found // moved here by a two-way action, or seen before
	})
	if _, err := s.syncUIDs(ctx, st, uids, true); err != nil {
		return err
	}
	next := max(uint32(sel.UIDNext), st.UIDNext)
	if next > st.UIDNext {
		if err := s.m.store.UpdateFolder(ctx, s.la.CompanyID, s.la.ID, s.m.cfg.Owner, st.Name,
			store.FolderUpdate{UIDNext: ptr(next)}); err != nil {
			return err
		}
		st.UIDNext = next
	}
	return nil
}

// knownOnly drops the messages none of whose participants is a known
// contact (S1's option); their UIDs are recorded without a message.
func (s *session) knownOnly(ctx context.Context, params []store.IngestParams, items []fetched) ([]store.IngestParams, []fetched, error) {
	var emails []string
	parts := func(m *mime.Message) []string {
		var out []string
		for _, l := range [][]mime.Address{m.From, m.To, m.Cc} {
			for _, a := range l {
				if a.Email != "" {
					out = append(out, a.Email)
				}
			}
		}
		return out
	}
	for _, p := range params {
		emails = append(emails, parts(p.Msg)...)
	}
	known, err := s.m.store.KnownEmails(ctx, s.la.CompanyID, emails)
	if err != nil {
		return nil, nil, err
	}
	var kept []store.IngestParams
	remap := make([]int, len(params))
	for i, p := range params {
		remap[i] = -1
		if slices.ContainsFunc(parts(p.Msg), func(e string) bool { return known[e] }) {
			remap[i] = len(kept)
			kept = append(kept, p)
		}
	}
	for i := range items {
		if items[i].index >= 0 {
			items[i].index = remap[items[i].index]
			items[i].filtered = items[i].index < 0
		}
	}
	return kept, items, nil
}
