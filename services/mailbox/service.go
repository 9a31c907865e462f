// Package mailbox is the mailbox service: each user's email inside the CRM
// (DESIGN M1–M7, S1–S6). Service wires it; the binary is cmd/mailbox.
package mailbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc/credentials"

	"github.com/sightline/sightline/pkg/cli"
	"github.com/sightline/sightline/pkg/config"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/grpcclient"
	"github.com/sightline/sightline/pkg/secretbox"
	"github.com/sightline/sightline/pkg/tlsconfig"
	"github.com/sightline/sightline/services/mailbox/internal/mailconn"
	"github.com/sightline/sightline/services/mailbox/internal/server"
	"github.com/sightline/sightline/services/mailbox/internal/smartbcc"
	"github.com/sightline/sightline/services/mailbox/internal/store"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
	"github.com/sightline/sightline/services/mailbox/migrations"
)

// settings are the mailbox's own flags.
type settings struct {
	secretKeys        string
	visibilityAddr    string
	visibilityTimeout time.Duration
	smtpAddr          string
	smartBccDomain    string
	sync              syncSettings
	provider          providerSettings // --provider-ca-file (see the block at the end)

	visTLS       tlsconfig.ClientFlags // --visibility-tls-*
	visTLSConfig *tls.Config           // from visTLS by validate; nil: plaintext

	box *secretbox.Box // parsed from secretKeys by validate; nil when empty
}

func (s *settings) register(fs *flag.FlagSet) {
	fs.StringVar(&s.secretKeys, "secret-keys", "",
		"keys sealing mail account secrets: kid=base64(32 bytes), comma-separated; the first seals, all open (rotation). "+
			"Empty: accounts cannot store a secret")
	fs.StringVar(&s.visibilityAddr, "visibility-addr", "127.0.0.1:50051", "gRPC address of the visibility service")
	fs.DurationVar(&s.visibilityTimeout, "visibility-timeout", 2*time.Second, "deadline of each call to the visibility service")
	fs.StringVar(&s.smtpAddr, "smtp-addr", "", "host:port of the Smart Bcc SMTP listener (S4); empty: disabled")
	fs.StringVar(&s.smartBccDomain, "smartbcc-domain", smartbcc.DefaultDomain, "domain of the companies' Smart Bcc addresses")
	s.visTLS.Register(fs, "visibility-tls", "the visibility service")
	s.provider.register(fs)
	s.sync.register(fs)
}

func (s *settings) validate() error {
	var errs []error
	if s.secretKeys != "" {
		box, err := secretbox.ParseKeys(s.secretKeys)
		if err != nil {
			errs = append(errs, config.Invalid("secret-keys", "%v", err))
		}
		s.box = box
	}
	if _, port, err := net.SplitHostPort(s.visibilityAddr); err != nil || port == "" {
		errs = append(errs, config.Invalid("visibility-addr", "%q is not host:port", s.visibilityAddr))
	}
	if s.visibilityTimeout < 10*time.Millisecond || s.visibilityTimeout > time.Minute {
		errs = append(errs, config.Invalid("visibility-timeout", "%s is not between 10ms and 1m", s.visibilityTimeout))
	}
	if s.smtpAddr != "" {
		if _, _, err := net.SplitHostPort(s.smtpAddr); err != nil {
			errs = append(errs, config.Invalid("smtp-addr", "%q is not host:port", s.smtpAddr))
		}
	}
	s.smartBccDomain = strings.ToLower(strings.TrimSpace(s.smartBccDomain))
	if s.smartBccDomain == "" || strings.ContainsAny(s.smartBccDomain, "@ <>\t") || !strings.Contains(s.smartBccDomain, ".") {
		errs = append(errs, config.Invalid("smartbcc-domain", "%q is not a domain name", s.smartBccDomain))
	}
	if cfg, err := s.visTLS.Config(); err != nil {
		errs = append(errs, config.Invalid("visibility-tls-ca-file", "%v", err))
	} else {
		s.visTLSConfig = cfg
	}
	errs = append(errs, s.provider.validate())
	errs = append(errs, s.sync.validate()...)
	return errors.Join(errs...)
}

// Service wires the mailbox: the binary runs it with cli.Main,
// tests in-process with cli.Run (see pkg/servicetest).
func Service() cli.Service { return service(nil, nil) }

// ServiceWithVisibility is Service with the visibility dependency replaced
// (tests use visibilityclient.Table); --visibility-addr is then unused.
func ServiceWithVisibility(vis visibilityclient.Checker) cli.Service { return service(vis, nil) }

// ServiceForTests is ServiceWithVisibility whose Smart Bcc listener tells
// listening its address once it listens: tests give --smtp-addr
// 127.0.0.1:0, a port nothing else can take between its choice and the
// bind.
func ServiceForTests(vis visibilityclient.Checker, listening func(smtpAddr string)) cli.Service {
	return service(vis, listening)
}

func service(vis visibilityclient.Checker, smtpListening func(string)) cli.Service {
	var s settings
	return cli.Service{
		Name:       "mailbox",
		Schema:     "mailbox",
		Migrations: migrations.FS,
		Defaults: config.Defaults{
			GRPCAddr:        "127.0.0.1:50052",
			MetricsAddr:     "127.0.0.1:9092",
			MaxRecvMsgBytes: 32 << 20, // raw messages up to the 25 MiB ingest limit
		},
		Flags:    s.register,
		Validate: s.validate,
		Wire: func(ctx context.Context, d cli.Deps) (func(), error) {
			var cleanups []func()
			cleanup := func() {
				for i := len(cleanups) - 1; i >= 0; i-- {
					cleanups[i]()
				}
			}
			checker := vis
			if checker == nil {
				opts := []grpcclient.Option{grpcclient.WithDefaultTimeout(s.visibilityTimeout), grpcclient.WithRegisterer(d.Registry)}
				if s.visTLSConfig != nil {
					// Verify visibility's certificate and present ours when configured (mTLS).
					opts = append(opts, grpcclient.WithTransportCredentials(credentials.NewTLS(s.visTLSConfig)))
				}
				conn, err := grpcclient.Dial(s.visibilityAddr, opts...)
				if err != nil {
					return nil, err
				}
				cleanups = append(cleanups, func() { _ = conn.Close() })
				checker = visibilityclient.NewGRPC(conn, s.visibilityTimeout)
			}
			if s.box == nil {
				d.Logger.Warn("no secret keys configured (SECRET_KEYS): mail accounts cannot store a secret")
			} else {
				d.Logger.Info("secret keys loaded", zap.String("sealing_key_id", s.box.SealingKeyID()))
			}
			st := store.New(d.Pool)
			srv := server.New(st, checker, s.box)
			srv.SetSmartBccDomain(s.smartBccDomain)
			srv.SetProviderOptions(s.provider.options())
			mailboxv1.RegisterMailboxServiceServer(d.Server, srv)
			// Background work (sync, Smart Bcc) stops when bg ends: with ctx at
			// shutdown, or at once when a later step of Wire fails, so that
			// waiting for it in cleanup cannot hang.
			bg, stopBg := context.WithCancel(ctx)
			cleanups = append(cleanups, stopBg)
			fail := func(err error) (func(), error) {
				stopBg()
				cleanup()
				return nil, err
			}
			if s.sync.workers > 0 {
				stop, err := startSync(bg, &s, st, srv, d)
				if err != nil {
					return fail(err)
				}
				cleanups = append(cleanups, stop)
			}
			if s.smtpAddr != "" {
				stop, err := startSmartBcc(bg, &s, st, d.Logger, d.Registry, smtpListening)
				if err != nil {
					return fail(err)
				}
				cleanups = append(cleanups, stop)
			}
			return func() { stopBg(); cleanup() }, nil
		},
	}
}

// startSmartBcc listens on --smtp-addr and serves Smart Bcc (S4) until ctx
// ends; the returned func waits until the listener has stopped.
func startSmartBcc(ctx context.Context, s *settings, st *store.Store, log *zap.Logger, reg prometheus.Registerer,
	listening func(string)) (func(), error) {
	lis, err := net.Listen("tcp", s.smtpAddr)
	if err != nil {
		return nil, fmt.Errorf("smart bcc: %w", err)
	}
	if listening != nil {
		listening(lis.Addr().String())
	}
	log = log.With(zap.String("component", "smartbcc"))
	bcc := smartbcc.New(smartbcc.StoreBackend{Store: st}, smartbcc.Config{Domain: s.smartBccDomain, Logger: log, Registry: reg})
	log.Info("smart bcc SMTP listening", zap.String("addr", lis.Addr().String()), zap.String("domain", s.smartBccDomain))
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := bcc.Serve(lis); err != nil {
			log.Error("smart bcc SMTP failed", zap.Error(err))
		}
	}()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := bcc.Shutdown(sctx); err != nil {
			log.Warn("smart bcc SMTP shutdown", zap.Error(err))
		}
		<-served
		log.Info("smart bcc SMTP stopped")
	}()
	return func() { <-stopped }, nil
}

// ---- Connections to users' mail providers (SendThreadMessage) ----

// providerSettings are the flags of connections to users' IMAP and SMTP servers.
type providerSettings struct {
	caFile         string
	tls            *tls.Config // from caFile by validate; nil: the system roots only
	allowPlaintext bool
}

func (p *providerSettings) register(fs *flag.FlagSet) {
	fs.StringVar(&p.caFile, "provider-ca-file", "",
		"extra CA certificates trusted for users' IMAP/SMTP servers (PEM file), besides the system roots")
	fs.BoolVar(&p.allowPlaintext, "provider-allow-plaintext", false,
		"allow accounts with connection security NONE to reach non-loopback servers (passwords in clear: demo networks only)")
}

func (p *providerSettings) validate() error {
	if p.caFile == "" {
		return nil
	}
	pem, err := os.ReadFile(p.caFile)
	if err != nil {
		return config.Invalid("provider-ca-file", "%v", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return config.Invalid("provider-ca-file", "%s holds no PEM certificate", p.caFile)
	}
	p.tls = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	return nil
}

func (p *providerSettings) options() mailconn.Options {
	return mailconn.Options{TLSConfig: p.tls, AllowPlaintext: p.allowPlaintext}
}
