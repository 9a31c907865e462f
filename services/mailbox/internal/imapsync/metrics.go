package imapsync

import (
	"errors"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline/sightline/services/mailbox/internal/mailconn"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

type metrics struct {
	messages     *prometheus.CounterVec // by result: stored, duplicate, skipped
	errors       *prometheus.CounterVec // by kind
	authFailures prometheus.Counter
	lastSuccess  *prometheus.GaugeVec // by company_id, account_id: unix seconds
	leased       prometheus.Gauge
	expunged     prometheus.Counter
	actions      *prometheus.CounterVec // by kind, result
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_mailbox_sync_messages_total",
			Help: "Messages fetched by IMAP sync, by result (stored, duplicate, skipped).",
		}, []string{"result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_mailbox_sync_errors_total",
			Help: "IMAP sync errors by kind (auth, network, imap, database, lease_lost, secret, parse, action).",
		}, []string{"kind"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_mailbox_sync_auth_failures_total",
			Help: "Logins the mail provider refused (the account then needs re-authentication).",
		}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sightline_mailbox_sync_last_success_timestamp_seconds",
			Help: "When each account held by this replica was last fully synced (sync lag: time() minus this).",
		}, []string{"company_id", "account_id"}),
		leased: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sightline_mailbox_sync_accounts_leased",
			Help: "Mail accounts whose sync lease this replica holds.",
		}),
		expunged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_mailbox_sync_expunged_messages_total",
			Help: "Messages deleted here because the provider expunged them (M6).",
		}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_mailbox_sync_provider_actions_total",
			Help: "Two-way actions (M6) performed at the provider, by kind and result.",
		}, []string{"kind", "result"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.messages, m.errors, m.authFailures, m.lastSuccess, m.leased, m.expunged, m.actions} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// errKind classifies a sync error for metrics and logs.
func errKind(err error) string {
	var ne net.Error
	var be *store.BatchError
	switch {
	case errors.Is(err, mailconn.ErrAuthFailed):
		return "auth"
	case errors.Is(err, store.ErrLeaseLost):
		return "lease_lost"
	case errors.Is(err, errSecret):
		return "secret"
	case errors.As(err, &be):
		return "database"
	case errors.As(err, &ne):
		return "network"
	case errors.Is(err, errIMAP):
		return "imap"
	default:
		return "database"
	}
}
