// Package smartbcc is the Smart Bcc SMTP listener (DESIGN S4): a company's
// address "<token>@<domain>" accepts mail from its users' verified addresses
// and stores it, through the same ingest path as IngestMessage, in the
// sending user's mailbox with the smart_bcc flag.
//
// SMTP replies (the only ones this package produces; go-smtp adds its own
// protocol errors such as 503 for DATA without RCPT):
//
//	RCPT to another domain or an unknown token          550 5.1.1
//	envelope sender (MAIL FROM) not a verified address  550 5.7.1 (at RCPT)
//	of a user of the recipient's company, or empty (<>)
//	more than MaxRecipients recipients                  452 4.5.3
//	message over MaxBytes (SIZE= or actual data)        552 5.3.4
//	message that does not parse, or a line over 1 MiB   554 5.6.0
//	no usable recipient at DATA                         503 5.5.1
//	database unavailable or slow                        451 4.3.0 (temporary)
//
// Only the envelope sender decides: the From header is not consulted, so a
// bounce (MAIL FROM:<>) is refused. Logs carry the company and user ids,
// the size and the result, never addresses or message content.
package smartbcc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// Defaults.
const (
	DefaultDomain        = "bcc.sightline.localhost"
	DefaultMaxBytes      = 20 << 20 // 20 MB (MiB), advertised as SIZE
	DefaultMaxRecipients = 10
	DefaultTimeout       = 30 * time.Second

	maxLineLength = 1 << 20
)

// ErrMalformed marks a message that cannot be parsed (554 5.6.0).
var ErrMalformed = errors.New("smartbcc: malformed message")

// ErrUnknown is what Store lookups return for an unknown token or sender.
var ErrUnknown = store.ErrNotFound

// Store is what the listener needs from the mailbox.
type Store interface {
	// SmartBccCompany resolves a token; ErrUnknown when none.
	SmartBccCompany(ctx context.Context, token string) (int64, error)
	// UserByAddress resolves a lower-case address to a user of the company; ErrUnknown when none.
	UserByAddress(ctx context.Context, companyID int64, email string) (int64, error)
	// Ingest stores raw in the user's mailbox as Smart Bcc mail; errors
	// wrapping ErrMalformed or mime.ErrTooLarge are permanent, others temporary.
	Ingest(ctx context.Context, companyID, userID int64, raw []byte) (store.IngestResult, error)
}

// Parse parses raw as ingest does (the limits of IngestMessage), wrapping
// parse failures with ErrMalformed.
func Parse(raw []byte) (*mime.Message, error) {
	msg, err := mime.Parse(raw, mime.Options{MaxSize: DefaultMaxBytes})
	switch {
	case errors.Is(err, mime.ErrTooLarge):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return msg, nil
}

// StoreBackend is Store over the mailbox's store: Ingest parses and calls
// store.Ingest, exactly as IngestMessage does, with account 0 and smart_bcc.
type StoreBackend struct{ *store.Store }

// Ingest implements Store.
func (b StoreBackend) Ingest(ctx context.Context, companyID, userID int64, raw []byte) (store.IngestResult, error) {
	msg, err := Parse(raw)
	if err != nil {
		return store.IngestResult{}, err
	}
	return b.Store.Ingest(ctx, store.IngestParams{CompanyID: companyID, UserID: userID, Msg: msg, SmartBcc: true})
}

// Config configures New; zero fields take the defaults.
type Config struct {
	Domain        string // recipients' domain
	Hostname      string // greeting name; default Domain
	MaxBytes      int64
	MaxRecipients int
	Timeout       time.Duration // per store call
	Logger        *zap.Logger
	// Registry receives the accepted and rejected counts (nil: none).
	Registry prometheus.Registerer
}

// Server is the SMTP listener.
type Server struct {
	st      Store
	cfg     Config
	log     *zap.Logger
	smtp    *smtp.Server
	metrics *metrics
}

// New returns a listener over st; Serve starts it.
func New(st Store, cfg Config) *Server {
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	cfg.Domain = strings.ToLower(cfg.Domain)
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.Domain
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxRecipients <= 0 {
		cfg.MaxRecipients = DefaultMaxRecipients
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	s := &Server{st: st, cfg: cfg, log: cfg.Logger, metrics: newMetrics(cfg.Registry)}
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxBytes
	// Recipients are limited by Rcpt (errTooManyRcpt), so that the refusal is counted.
	srv.MaxRecipients = 0
	// RFC 5322 says 998, but real mail (unwrapped HTML) has longer lines;
	// the size limit bounds the message, this bounds a command line.
	srv.MaxLineLength = maxLineLength
	srv.ReadTimeout = 2 * time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = zapLogger{cfg.Logger}
	s.smtp = srv
	return s
}

// Serve accepts connections on lis until Close or Shutdown.
func (s *Server) Serve(lis net.Listener) error {
	err := s.smtp.Serve(lis)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for open sessions until ctx ends, then closes them.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.smtp.Shutdown(ctx)
	if err != nil {
		_ = s.smtp.Close()
	}
	return err
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(*smtp.Conn) (smtp.Session, error) { return s.newSession(), nil }

func (s *Server) newSession() *session { return &session{s: s} }

// SMTP replies.
var (
	errUnknownRcpt   = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such Smart Bcc address"}
	errUnknownSender = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender is not a verified address of this company's users"}
	errTooLarge      = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Maximum message size exceeded"}
	errMalformed     = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message could not be parsed"}
	errNoRcpt        = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "No valid recipients"}
	errTemporary     = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	errTooManyRcpt   = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients"}
)

type target struct{ company, user int64 }

type session struct {
	s       *Server
	from    string // lower-case; "" for <>
	rcpts   int
	targets []target
}

func (ss *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), ss.s.cfg.Timeout)
}

func (ss *session) Reset() { ss.from, ss.rcpts, ss.targets = "", 0, nil }

func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	ss.Reset()
	if opts != nil && opts.Size > ss.s.cfg.MaxBytes {
		return ss.s.reject(errTooLarge, "too_large")
	}
	ss.from = strings.ToLower(strings.TrimSpace(from))
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.rcpts >= ss.s.cfg.MaxRecipients {
		return ss.s.reject(errTooManyRcpt, "too_many_recipients")
	}
	at := strings.LastIndexByte(to, '@')
	if at <= 0 || !strings.EqualFold(to[at+1:], ss.s.cfg.Domain) {
		return ss.s.reject(errUnknownRcpt, "unknown_recipient")
	}
	token := strings.ToLower(to[:at])
	if !validToken(token) {
		return ss.s.reject(errUnknownRcpt, "unknown_recipient")
	}
	ctx, cancel := ss.ctx()
	defer cancel()
	company, err := ss.s.st.SmartBccCompany(ctx, token)
	switch {
	case errors.Is(err, ErrUnknown):
		ss.s.log.Info("smart bcc: unknown recipient")
		return ss.s.reject(errUnknownRcpt, "unknown_recipient")
	case err != nil:
		ss.s.log.Warn("smart bcc: recipient lookup failed", zap.Error(err))
		return ss.s.reject(errTemporary, "temporary_failure")
	}
	if ss.from == "" || !strings.Contains(ss.from, "@") {
		ss.s.log.Info("smart bcc: refused sender", zap.Int64("company_id", company))
		return ss.s.reject(errUnknownSender, "unknown_sender")
	}
	user, err := ss.s.st.UserByAddress(ctx, company, ss.from)
	switch {
	case errors.Is(err, ErrUnknown):
		ss.s.log.Info("smart bcc: refused sender", zap.Int64("company_id", company))
		return ss.s.reject(errUnknownSender, "unknown_sender")
	case err != nil:
		ss.s.log.Warn("smart bcc: sender lookup failed", zap.Int64("company_id", company), zap.Error(err))
		return ss.s.reject(errTemporary, "temporary_failure")
	}
	ss.rcpts++
	t := target{company, user}
	for _, have := range ss.targets {
		if have == t {
			return nil
		}
	}
	ss.targets = append(ss.targets, t)
	return nil
}

func validToken(t string) bool {
	if len(t) < 8 || len(t) > 64 {
		return false
	}
	for _, c := range t {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func (ss *session) Data(r io.Reader) error {
	var buf bytes.Buffer
	_, err := io.Copy(&buf, io.LimitReader(r, ss.s.cfg.MaxBytes+1))
	switch {
	case errors.Is(err, smtp.ErrDataTooLarge):
		ss.s.log.Info("smart bcc: message too large")
		return ss.s.reject(errTooLarge, "too_large")
	case errors.Is(err, smtp.ErrTooLongLine):
		ss.s.log.Info("smart bcc: line too long")
		return ss.s.reject(errMalformed, "malformed")
	case err != nil:
		return err // the connection broke; go-smtp ends the session
	case int64(buf.Len()) > ss.s.cfg.MaxBytes:
		ss.s.log.Info("smart bcc: message too large")
		return ss.s.reject(errTooLarge, "too_large")
	}
	if len(ss.targets) == 0 {
		return ss.s.reject(errNoRcpt, "no_recipient")
	}
	raw := buf.Bytes()
	for _, t := range ss.targets {
		ctx, cancel := ss.ctx()
		res, err := ss.s.st.Ingest(ctx, t.company, t.user, raw)
		cancel()
		fields := []zap.Field{zap.Int64("company_id", t.company), zap.Int64("user_id", t.user), zap.Int("size", len(raw))}
		switch {
		case errors.Is(err, ErrMalformed):
			ss.s.log.Info("smart bcc: malformed message", fields...)
			return ss.s.reject(errMalformed, "malformed")
		case errors.Is(err, mime.ErrTooLarge):
			ss.s.log.Info("smart bcc: message too large", fields...)
			return ss.s.reject(errTooLarge, "too_large")
		case err != nil:
			ss.s.log.Warn("smart bcc: ingest failed", append(fields, zap.Error(err))...)
			return ss.s.reject(errTemporary, "temporary_failure")
		}
		ss.s.metrics.stored(res.Duplicate)
		ss.s.log.Info("smart bcc: message stored", append(fields, zap.Int64("thread_id", res.ThreadID),
			zap.Int64("message_id", res.MessageID), zap.Bool("duplicate", res.Duplicate))...)
	}
	return nil
}

// reject counts a refusal by reason and returns the SMTP reply.
func (s *Server) reject(e *smtp.SMTPError, reason string) error {
	s.metrics.rejected.WithLabelValues(reason).Inc()
	return e
}

// metrics count Smart Bcc intake (S4).
type metrics struct {
	accepted *prometheus.CounterVec // result: stored, duplicate
	rejected *prometheus.CounterVec // reason
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_mailbox_smartbcc_messages_total",
			Help: "Smart Bcc messages accepted, per recipient mailbox: stored, or a duplicate of a stored copy (S3).",
		}, []string{"result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_mailbox_smartbcc_rejections_total",
			Help: "Smart Bcc SMTP commands refused, by reason (unknown_recipient, unknown_sender, too_large, ...).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.accepted, m.rejected)
	}
	return m
}

func (m *metrics) stored(duplicate bool) {
	if duplicate {
		m.accepted.WithLabelValues("duplicate").Inc()
	} else {
		m.accepted.WithLabelValues("stored").Inc()
	}
}

// zapLogger routes go-smtp's connection errors to zap.
type zapLogger struct{ l *zap.Logger }

func (z zapLogger) Printf(format string, v ...any) { z.l.Debug("smtp: " + fmt.Sprintf(format, v...)) }
func (z zapLogger) Println(v ...any)               { z.l.Debug("smtp: " + strings.TrimSpace(fmt.Sprintln(v...))) }
