package imapsync

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// OpenSecret opens an account's sealed secret; the plaintext never leaves
// the sync session (S5).
type OpenSecret func(companyID, userID int64, sealed []byte) (string, error)

// The defaults of Config (and of the mailbox's --sync-* flags).
const (
	DefaultWorkers      = 4
	DefaultMaxAccounts  = 1000
	DefaultPollInterval = 30 * time.Second
	DefaultIdleTimeout  = 5 * time.Minute
	DefaultLeaseTTL     = 30 * time.Second
	DefaultBatchSize    = 250
	DefaultRetryMin     = 5 * time.Second
	DefaultRetryMax     = 15 * time.Minute
)

// Config tunes a Manager; zero fields take the defaults.
type Config struct {
	// Workers bounds the accounts synced at once (IMAP fetch passes); IDLE
	// waits do not count.
	Workers int
	// MaxAccounts bounds the accounts this replica holds (one IMAP
	// connection each).
	MaxAccounts int
	// PollInterval: between full passes without IDLE; how often a held
	// account looks for two-way actions; how often free accounts are claimed
	// (at most every 5 s).
	PollInterval time.Duration
	// IdleTimeout: how long IDLE on INBOX waits without news before a full
	// pass of every folder.
	IdleTimeout time.Duration
	// LeaseTTL: a lease not renewed for this long is free (renewed every TTL/3).
	LeaseTTL time.Duration
	// BatchSize: messages per UID FETCH and per ingest transaction.
	BatchSize int
	// MaxMessageBytes: larger messages (by RFC822.SIZE) are not downloaded;
	// 0: 25 MiB, the ingest limit.
	MaxMessageBytes int64
	// RetryMin and RetryMax bound the backoff after errors (doubling, with jitter).
	RetryMin, RetryMax time.Duration
	// DialTimeout bounds connecting and logging in.
	DialTimeout time.Duration
	// TLSConfig for TLS and STARTTLS (nil: system roots).
	TLSConfig *tls.Config
	// AllowPlaintext lets accounts without TLS reach non-loopback servers
	// (mailconn.Options.AllowPlaintext).
	AllowPlaintext bool
	// Owner names this replica in leases; "": host-pid-random.
	Owner string

	Logger   *zap.Logger
	Registry prometheus.Registerer
}

// silence is how long a session's IMAP connection may read nothing before
// it is closed (mailconn.Options.Silence): a healthy one reads at least at
// every IDLE restart (IdleTimeout) or poll (PollInterval), so twice the
// longer of the two, plus a minute.
func (c *Config) silence() time.Duration {
	return 2*max(c.IdleTimeout, c.PollInterval) + time.Minute
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.MaxAccounts <= 0 {
		c.MaxAccounts = DefaultMaxAccounts
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxMessageBytes <= 0 || c.MaxMessageBytes > defaultMaxMessageBytes {
		c.MaxMessageBytes = defaultMaxMessageBytes
	}
	if c.BatchSize > store.MaxBatch {
		c.BatchSize = store.MaxBatch
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(c.RetryMin, DefaultRetryMax)
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 30 * time.Second
	}
	if c.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = crand.Read(b)
		c.Owner = host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

// Manager runs the sync workers of one replica.
type Manager struct {
	cfg     Config
	store   *store.Store
	open    OpenSecret
	log     *zap.Logger
	metrics *metrics
	sem     chan struct{}

	mu   sync.Mutex
	held map[[2]int64]bool
}

// New returns a Manager; Run starts it.
func New(st *store.Store, open OpenSecret, cfg Config) (*Manager, error) {
	cfg.defaults()
	m := &Manager{cfg: cfg, store: st, open: open, log: cfg.Logger.With(zap.String("component", "imapsync")),
		sem: make(chan struct{}, cfg.Workers), held: map[[2]int64]bool{}}
	var err error
	if m.metrics, err = newMetrics(cfg.Registry); err != nil {
		return nil, err
	}
	return m, nil
}

// Owner is this Manager's lease owner id.
func (m *Manager) Owner() string { return m.cfg.Owner }

// Run claims and syncs accounts until ctx ends, then releases its leases and
// returns once every account's goroutine has stopped.
func (m *Manager) Run(ctx context.Context) {
	m.log.Info("imap sync started", zap.String("owner", m.cfg.Owner), zap.Int("workers", m.cfg.Workers),
		zap.Int("max_accounts", m.cfg.MaxAccounts))
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		m.log.Info("imap sync stopped", zap.String("owner", m.cfg.Owner))
	}()
	every := min(m.cfg.PollInterval, 5*time.Second)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Claim up to Workers accounts per round, so that replicas starting
		// together share the accounts.
		for range m.cfg.Workers {
			if m.heldCount() >= m.cfg.MaxAccounts || ctx.Err() != nil {
				break
			}
			la, err := m.store.ClaimAccount(ctx, m.cfg.Owner, m.cfg.LeaseTTL)
			if err != nil {
				if ctx.Err() == nil {
					m.metrics.errors.WithLabelValues("database").Inc()
					m.log.Warn("claiming a mail account failed", zap.Error(err))
				}
				break
			}
			if la == nil {
				break
			}
			key := [2]int64{la.CompanyID, la.ID}
			m.mu.Lock()
			if m.held[key] {
				// Our own lease, expired before a late renewal and claimed
				// again: the session holding it goes on (and renews it).
				m.mu.Unlock()
				m.log.Warn("a held mail account's lease had expired and was claimed again",
					zap.Int64("company_id", la.CompanyID), zap.Int64("account_id", la.ID))
				continue
			}
			m.held[key] = true
			m.metrics.leased.Set(float64(len(m.held)))
			m.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					m.mu.Lock()
					delete(m.held, key)
					m.metrics.leased.Set(float64(len(m.held)))
					m.mu.Unlock()
				}()
				m.runAccount(ctx, la)
			}()
		}
		t.Reset(jitter(every, 0.2))
	}
}

func (m *Manager) heldCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.held)
}

// jitter returns d randomized by ±frac.
func jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 - frac + 2*frac*rand.Float64()))
}

// backoff is the wait after the n-th consecutive failure: RetryMin doubled
// per failure up to RetryMax, with "equal jitter" (half fixed, half random).
func (m *Manager) backoff(n int) time.Duration {
	d := m.cfg.RetryMin
	for i := 1; i < n && d < m.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, m.cfg.RetryMax)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// runAccount holds one account's lease: it renews it in the background and
// syncs until the context ends, the lease is lost or an error sends the
// account to backoff.
func (m *Manager) runAccount(ctx context.Context, la *store.LeasedAccount) {
	log := m.log.With(zap.Int64("company_id", la.CompanyID), zap.Int64("account_id", la.ID),
		zap.Int64("user_id", la.UserID))
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		m.renew(actx, cancel, la, log)
	}()

	s := &session{m: m, la: la, log: log, state: la.State}
	log.Info("mail account leased", zap.String("owner", m.cfg.Owner))
	err := s.run(actx)
	s.close()
	cause := context.Cause(actx)
	cancel(nil)
	<-renewed // no renewal after the lease is given up
	m.metrics.lastSuccess.DeleteLabelValues(strconv.FormatInt(la.CompanyID, 10), strconv.FormatInt(la.ID, 10))

	// Record the outcome and give the lease up.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	switch {
	case errors.Is(cause, store.ErrLeaseLost) || errors.Is(err, store.ErrLeaseLost):
		// Deleting an account deletes its lease row too: that is no fault,
		// and no other worker holds it.
		if exists, xerr := m.store.AccountExists(rctx, la.CompanyID, la.ID); xerr == nil && !exists {
			log.Info("mail account deleted: its sync stopped")
			return
		}
		m.metrics.errors.WithLabelValues("lease_lost").Inc()
		log.Warn("mail account lease lost: another worker may hold it now")
		return
	case errors.Is(cause, errSettingsChanged):
		// New settings or a new secret: start over with them at once.
		if _, rerr := m.store.RecordSync(rctx, la.CompanyID, la.ID, m.cfg.Owner, store.SyncOutcome{State: store.SyncPending, Release: true}); rerr != nil {
			log.Warn("releasing a mail account lease failed", zap.Error(rerr))
		}
		log.Info("mail account settings changed: syncing again with them")
		return
	case ctx.Err() != nil:
		// Shutting down: free the account for another replica at once.
		if _, rerr := m.store.RecordSync(rctx, la.CompanyID, la.ID, m.cfg.Owner, store.SyncOutcome{State: s.state, Release: true}); rerr != nil {
			log.Warn("releasing a mail account lease failed", zap.Error(rerr))
		}
		log.Info("mail account released (shutdown)")
		return
	}
	o := store.SyncOutcome{State: store.SyncRetrying, Err: errText(err), Release: true, CountFailed: true,
		AccountUpdate: la.UpdateTime} // a secret saved meanwhile wins over this failure
	kind := errKind(err)
	m.metrics.errors.WithLabelValues(kind).Inc()
	if kind == "auth" {
		m.metrics.authFailures.Inc()
		o.State = store.SyncNeedsReauth
		o.RetryAfter = 0
		log.Warn("mail provider refused the credentials: sync waits for a new secret", zap.Error(err))
	} else {
		n, ferr := m.store.Failures(rctx, la.CompanyID, la.ID)
		if ferr != nil {
			n = 0
		}
		o.RetryAfter = m.backoff(n + 1)
		log.Warn("mail account sync failed, retrying later", zap.String("kind", kind), zap.Error(err),
			zap.Duration("retry_after", o.RetryAfter), zap.Int("failures", n+1))
	}
	if _, rerr := m.store.RecordSync(rctx, la.CompanyID, la.ID, m.cfg.Owner, o); rerr != nil {
		log.Warn("recording a sync error failed", zap.Error(rerr))
	}
}

// errSettingsChanged ends a session whose account was updated.
var errSettingsChanged = errors.New("imapsync: the account's settings changed")

// renew extends the lease every TTL/3; when it is lost (or cannot be
// renewed before it expires) the account's context is cancelled.
func (m *Manager) renew(ctx context.Context, cancel context.CancelCauseFunc, la *store.LeasedAccount, log *zap.Logger) {
	every := m.cfg.LeaseTTL / 3
	last := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, updated, err := m.store.RenewLease(ctx, la.CompanyID, la.ID, m.cfg.Owner, m.cfg.LeaseTTL)
		switch {
		case ok && !updated.Equal(la.UpdateTime):
			cancel(errSettingsChanged)
			return
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			log.Warn("renewing a mail account lease failed", zap.Error(err))
			if time.Since(last) > m.cfg.LeaseTTL*2/3 {
				cancel(store.ErrLeaseLost)
				return
			}
		case !ok:
			cancel(store.ErrLeaseLost)
			return
		default:
			last = time.Now()
		}
	}
}

// errText is an error for the account's status: no secrets (mailconn never
// puts them in errors), bounded length.
func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}
