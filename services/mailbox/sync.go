package mailbox

import (
	"context"
	"flag"
	"time"

	"github.com/sightline/sightline/pkg/cli"
	"github.com/sightline/sightline/pkg/config"
	"github.com/sightline/sightline/services/mailbox/internal/imapsync"
	"github.com/sightline/sightline/services/mailbox/internal/server"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// syncSettings are the IMAP sync's flags (S1, S2).
type syncSettings struct {
	workers      int
	maxAccounts  int
	pollInterval time.Duration
	idleTimeout  time.Duration
	leaseTTL     time.Duration
	batchSize    int
	retryMin     time.Duration
	retryMax     time.Duration
}

func (s *syncSettings) register(fs *flag.FlagSet) {
	fs.IntVar(&s.workers, "sync-workers", imapsync.DefaultWorkers, "mail accounts this replica syncs at once (IMAP fetch passes); 0 disables IMAP sync")
	fs.IntVar(&s.maxAccounts, "sync-max-accounts", imapsync.DefaultMaxAccounts, "mail accounts this replica holds at once (one IMAP connection each, IDLE)")
	fs.DurationVar(&s.pollInterval, "sync-poll-interval", imapsync.DefaultPollInterval,
		"between sync passes without IDLE; how often held accounts look for two-way actions and free accounts are claimed")
	fs.DurationVar(&s.idleTimeout, "sync-idle-timeout", imapsync.DefaultIdleTimeout, "IDLE on INBOX without news for this long triggers a pass of every folder")
	fs.DurationVar(&s.leaseTTL, "sync-lease-ttl", imapsync.DefaultLeaseTTL, "an account's sync lease expires after this long without renewal (renewed every third of it)")
	fs.IntVar(&s.batchSize, "sync-batch-size", imapsync.DefaultBatchSize, "messages per IMAP fetch and per ingest transaction")
	fs.DurationVar(&s.retryMin, "sync-retry-min", imapsync.DefaultRetryMin, "first backoff after a sync error (doubles per failure, with jitter)")
	fs.DurationVar(&s.retryMax, "sync-retry-max", imapsync.DefaultRetryMax, "longest backoff after sync errors")
}

func (s *syncSettings) validate() []error {
	var errs []error
	check := func(ok bool, name, format string, args ...any) {
		if !ok {
			errs = append(errs, config.Invalid(name, format, args...))
		}
	}
	check(s.workers >= 0 && s.workers <= 1000, "sync-workers", "%d is not between 0 and 1000", s.workers)
	check(s.maxAccounts >= 1 && s.maxAccounts <= 100000, "sync-max-accounts", "%d is not between 1 and 100000", s.maxAccounts)
	check(s.pollInterval >= 10*time.Millisecond && s.pollInterval <= time.Hour, "sync-poll-interval", "%s is not between 10ms and 1h", s.pollInterval)
	check(s.idleTimeout >= 100*time.Millisecond && s.idleTimeout <= 29*time.Minute, "sync-idle-timeout", "%s is not between 100ms and 29m", s.idleTimeout)
	check(s.leaseTTL >= 300*time.Millisecond && s.leaseTTL <= time.Hour, "sync-lease-ttl", "%s is not between 300ms and 1h", s.leaseTTL)
	check(s.batchSize >= 1 && s.batchSize <= store.MaxBatch, "sync-batch-size", "%d is not between 1 and %d", s.batchSize, store.MaxBatch)
	check(s.retryMin >= 10*time.Millisecond && s.retryMin <= s.retryMax, "sync-retry-min", "%s is not between 10ms and --sync-retry-max", s.retryMin)
	check(s.retryMax <= 24*time.Hour, "sync-retry-max", "%s is longer than 24h", s.retryMax)
	return errs
}

// startSync runs the IMAP sync workers until ctx ends; the returned func
// waits until they have released their leases.
func startSync(ctx context.Context, s *settings, st *store.Store, srv *server.Server, d cli.Deps) (func(), error) {
	m, err := imapsync.New(st, srv.OpenSecret, imapsync.Config{
		Workers:        s.sync.workers,
		MaxAccounts:    s.sync.maxAccounts,
		PollInterval:   s.sync.pollInterval,
		IdleTimeout:    s.sync.idleTimeout,
		LeaseTTL:       s.sync.leaseTTL,
		BatchSize:      s.sync.batchSize,
		RetryMin:       s.sync.retryMin,
		RetryMax:       s.sync.retryMax,
		TLSConfig:      s.provider.tls,
		AllowPlaintext: s.provider.allowPlaintext,
		Logger:         d.Logger,
		Registry:       d.Registry,
	})
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	return func() { <-done }, nil
}
