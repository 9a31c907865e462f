package imapsync

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// Messages are synced in batches of Config.BatchSize UIDs, each stored in
// one transaction with the folder state that covers it (S2). The batches
// go through a pipeline of two stages: the IMAP stage fetches a batch and
// parses its messages (on every core) while the store stage ingests the
// one before, so a sync takes about the longer of the two stages rather
// than their sum. Batches are stored in the order they were fetched; at
// most two are held at once (one being fetched or waiting, one being
// stored), each within maxBatchBytes of message bytes. Once the store
// stage fails, the IMAP stage fetches nothing more.

// maxBatchBytes bounds the message bytes of one fetched batch.
const maxBatchBytes = 64 << 20

// fetched is one fetched UID: index into the batch's ingest params, -1
// when the message is not stored here (too large, unparsable, or not from
// a known contact).
type fetched struct {
	uid      imap.UID
	index    int
	filtered bool // left out by the known-contacts filter
}

// batch is a fetched and parsed batch, ready to store.
type batch struct {
	uids   []imap.UID // every UID the batch covers
	params []store.IngestParams
	items  []fetched
	fetch  time.Duration
	parse  time.Duration
}

// syncUIDs fetches and stores uids in batches, in their order (the
// caller's: the newest first for the initial window, ascending for new
// mail). advance moves UIDNEXT past each stored batch. It returns how many
// UIDs were still on the server.
func (s *session) syncUIDs(ctx context.Context, st *store.FolderState, uids []imap.UID, advance bool) (int, error) {
	if len(uids) == 0 {
		return 0, nil
	}
	batches := make(chan batch)
	stop := make(chan struct{})
	fetchErr := make(chan error, 1)
	go func() {
		defer close(batches)
		fetchErr <- s.fetchAll(st, uids, stop, func(b batch) bool {
			select {
			case batches <- b:
				return true
			case <-stop:
				return false
			}
		})
	}()
	total := 0
	var err error
	for b := range batches {
		if err != nil {
			continue // the fetch stage is stopping
		}
		var n int
		n, err = s.storeBatch(ctx, st, b, advance)
		total += n
		if err != nil {
			close(stop)
		}
	}
	// The fetch stage has ended (batches is closed), so the connection is
	// the caller's again.
	if ferr := <-fetchErr; err == nil {
		err = ferr
	}
	return total, err
}

// fetchAll is the IMAP stage: it fetches uids BatchSize at a time and
// hands each parsed batch to emit, until emit returns false or stop is
// closed (checked before each fetch: a select between a ready send and a
// closed stop could go either way).
//
// Sizes are asked first (RFC822.SIZE): a message over MaxMessageBytes is
// never downloaded (its UID is recorded without a message, counted as
// skipped and logged), and a batch's bodies stay within maxBatchBytes, so
// a mailbox of huge messages cannot exhaust memory.
func (s *session) fetchAll(st *store.FolderState, uids []imap.UID, stop <-chan struct{}, emit func(batch) bool) error {
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	for len(uids) > 0 && !stopped() {
		n := min(len(uids), s.m.cfg.BatchSize)
		sizes, err := s.c.Fetch(imap.UIDSetNum(uids[:n]...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
		if err != nil {
			return imapErr("uid fetch rfc822.size", err)
		}
		size := make(map[imap.UID]int64, len(sizes))
		for _, m := range sizes {
			size[m.UID] = m.RFC822Size
		}
		var (
			chunk, large []imap.UID
			bytes        int64
		)
		flush := func() (bool, error) {
			if len(chunk) == 0 && len(large) == 0 {
				return true, nil
			}
			if stopped() {
				return false, nil
			}
			b, err := s.fetchBatch(st, chunk, large)
			chunk, large, bytes = nil, nil, 0
			if err != nil {
				return false, err
			}
			return emit(b), nil
		}
		for _, u := range uids[:n] {
			sz, ok := size[u]
			if !ok {
				continue // expunged meanwhile
			}
			if sz > s.m.cfg.MaxMessageBytes {
				s.m.metrics.errors.WithLabelValues("too_large").Inc()
				s.log.Warn("a message over the size limit is not downloaded", zap.String("folder", st.Name),
					zap.Uint32("uid", uint32(u)), zap.Int64("size", sz), zap.Int64("max", s.m.cfg.MaxMessageBytes))
				large = append(large, u)
				continue
			}
			if len(chunk) > 0 && bytes+sz > maxBatchBytes {
				if ok, err := flush(); !ok {
					return err
				}
			}
			chunk = append(chunk, u)
			bytes += sz
		}
		if ok, err := flush(); !ok {
			return err
		}
		uids = uids[n:]
	}
	return nil
}

// fetchBatch downloads uids (BODY.PEEK[], FLAGS, INTERNALDATE) and parses
// them; skip are UIDs recorded without a message.
func (s *session) fetchBatch(st *store.FolderState, uids, skip []imap.UID) (batch, error) {
	body := &imap.FetchItemBodySection{Peek: true}
	t0 := time.Now()
	var msgs []*imapclient.FetchMessageBuffer
	if len(uids) > 0 {
		var err error
		msgs, err = s.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
			UID: true, Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{body},
		}).Collect()
		if err != nil {
			return batch{}, imapErr("uid fetch", err)
		}
	}
	msgs = slices.DeleteFunc(msgs, func(m *imapclient.FetchMessageBuffer) bool { return m.UID == 0 })
	slices.SortFunc(msgs, func(a, b *imapclient.FetchMessageBuffer) int { return cmp.Compare(a.UID, b.UID) })
	b := batch{uids: slices.Concat(uids, skip), fetch: time.Since(t0)}
	t1 := time.Now()
	parsed, errs := parseAll(msgs, body)
	b.parse = time.Since(t1)
	for _, u := range skip {
		b.items = append(b.items, fetched{uid: u, index: -1})
	}
	for i, fm := range msgs {
		if errs[i] != nil {
			// Never retried: the UID is recorded without a message.
			s.m.metrics.errors.WithLabelValues("parse").Inc()
			s.log.Warn("a message cannot be parsed and is skipped", zap.String("folder", st.Name),
				zap.Uint32("uid", uint32(fm.UID)), zap.Int("size", len(fm.FindBodySection(body))), zap.Error(errs[i]))
			b.items = append(b.items, fetched{uid: fm.UID, index: -1})
			continue
		}
		b.items = append(b.items, fetched{uid: fm.UID, index: len(b.params)})
		b.params = append(b.params, store.IngestParams{
			CompanyID: s.la.CompanyID, UserID: s.la.UserID, AccountID: s.la.ID, Folder: st.Name, Msg: parsed[i],
			Seen: slices.Contains(fm.Flags, imap.FlagSeen), ReceivedAt: fm.InternalDate,
		})
	}
	return b, nil
}

// parseAll parses every message's body section, on every core.
func parseAll(msgs []*imapclient.FetchMessageBuffer, body *imap.FetchItemBodySection) ([]*mime.Message, []error) {
	parsed := make([]*mime.Message, len(msgs))
	errs := make([]error, len(msgs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(msgs)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(msgs) {
					return
				}
				parsed[i], errs[i] = mime.Parse(msgs[i].FindBodySection(body), mime.Options{MaxSize: defaultMaxMessageBytes})
			}
		})
	}
	wg.Wait()
	return parsed, errs
}

// storeBatch is the store stage: the batch's messages, their locations and
// the folder state in one transaction (S2). It returns how many UIDs the
// batch covered.
func (s *session) storeBatch(ctx context.Context, st *store.FolderState, b batch, advance bool) (int, error) {
	params, items := b.params, b.items
	now := time.Now()
	for i := range params {
		params[i].Now = now
	}
	var err error
	if s.la.OnlyKnownContacts && len(params) > 0 {
		if params, items, err = s.knownOnly(ctx, params, items); err != nil {
			return 0, err
		}
	}
	maxUID := slices.Max(b.uids)
	var stored, dup int
	_, err = s.m.store.IngestBatch(ctx, params, func(ctx context.Context, tx pgx.Tx, res []store.IngestResult) error {
		step := store.SyncStep{CompanyID: s.la.CompanyID, AccountID: s.la.ID, Owner: s.m.cfg.Owner,
			Folder: st.Name, UIDValidity: st.UIDValidity}
		stored, dup = 0, 0
		for _, it := range items {
			loc := store.Location{UID: uint32(it.uid), Filtered: it.filtered}
			if it.index >= 0 {
				loc.MessageID = res[it.index].MessageID
				if res[it.index].Duplicate {
					dup++
				} else {
					stored++
				}
			}
			step.Locations = append(step.Locations, loc)
		}
		step.Update.AddDone = int64(len(items))
		if advance {
			step.Update.UIDNext = ptr(uint32(maxUID) + 1)
			step.Update.AddTotal = int64(len(items))
		}
		return store.CommitStep(ctx, tx, step)
	})
	if err != nil {
		return 0, err
	}
	if advance {
		st.UIDNext = max(st.UIDNext, uint32(maxUID)+1)
	}
	s.m.metrics.messages.WithLabelValues("stored").Add(float64(stored))
	s.m.metrics.messages.WithLabelValues("duplicate").Add(float64(dup))
	s.m.metrics.messages.WithLabelValues("skipped").Add(float64(len(items) - stored - dup))
	s.log.Debug("batch synced", zap.String("folder", st.Name), zap.Int("messages", len(items)),
		zap.Int("stored", stored), zap.Int("duplicates", dup), zap.Duration("fetch", b.fetch),
		zap.Duration("parse", b.parse), zap.Duration("ingest", time.Since(now)))
	return len(items), nil
}
