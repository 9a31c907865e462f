package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sightline/sightline/pkg/auth"
	"github.com/sightline/sightline/pkg/config"
	"github.com/sightline/sightline/pkg/grpcserver"
	"github.com/sightline/sightline/pkg/logging"
	"github.com/sightline/sightline/pkg/pg"
	"github.com/sightline/sightline/pkg/tlsconfig"
)

// Deps is what a service's Wire function gets.
type Deps struct {
	Config   *config.Base
	Logger   *zap.Logger
	Pool     *pgxpool.Pool
	Server   *grpc.Server
	Registry *prometheus.Registry
}

// Service describes one binary.
type Service struct {
	Name       string // "visibility"
	Schema     string // PostgreSQL schema, also the migrations' home
	Migrations fs.FS
	Defaults   config.Defaults
	// Flags defines the service's own flags (optional).
	Flags func(fs *flag.FlagSet)
	// Validate checks the service's own flags (optional); return config.Invalid errors.
	Validate func() error
	// Wire registers the service's handlers and starts its background work,
	// which must stop when ctx ends. The returned cleanup runs after the
	// server has stopped.
	Wire func(ctx context.Context, d Deps) (cleanup func(), err error)
	// QuietMethods are full method names whose successful calls log at
	// debug rather than info (see grpcserver.Config).
	QuietMethods []string
	// Listeners, when set, are used instead of listening on the configured
	// addresses (tests pass pre-opened loopback listeners).
	Listeners func() (grpcLis, metricsLis net.Listener)
	// NoEnv ignores environment variables: settings come from the command
	// line only (tests, whose process environment is not the service's).
	NoEnv bool
}

// Main runs the service's command line and exits: 0 on success, 2 on bad usage or configuration, 1 otherwise.
func Main(svc Service) {
	ctx, stop := signalContext()
	err := Run(ctx, svc, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(*usageError)):
		fmt.Fprintf(os.Stderr, "%s: %v\n", svc.Name, err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", svc.Name, err)
		os.Exit(1)
	}
}

// usageError marks configuration and usage mistakes (exit code 2).
type usageError struct{ err error }

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

// Run is Main without the process: parse args and run the chosen subcommand until ctx ends.
func Run(ctx context.Context, svc Service, args []string, stdout, stderr io.Writer) error {
	var base config.Base
	newFlags := func(name string) *flag.FlagSet {
		fs := flag.NewFlagSet(svc.Name+" "+name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		return fs
	}

	envOpts := []ff.Option{ff.WithEnvVars()}
	if svc.NoEnv {
		envOpts = nil
	}
	serveFlags := newFlags("serve")
	base.Register(serveFlags, svc.Defaults)
	if svc.Flags != nil {
		svc.Flags(serveFlags)
	}
	serve := &ffcli.Command{
		Name: "serve", ShortUsage: svc.Name + " serve [flags]", ShortHelp: "serve gRPC (default)",
		FlagSet: serveFlags, Options: envOpts,
		Exec: func(ctx context.Context, _ []string) error {
			if err := validate(&base, svc); err != nil {
				return err
			}
			return serveCmd(ctx, svc, &base, stderr)
		},
	}

	migrateFlags := newFlags("migrate")
	migrateFlags.StringVar(&base.DatabaseURL, "database-url", "", "PostgreSQL connection URL (required)")
	migrate := &ffcli.Command{
		Name: "migrate", ShortUsage: svc.Name + " migrate [flags]", ShortHelp: "apply database migrations and exit",
		FlagSet: migrateFlags, Options: envOpts,
		Exec: func(ctx context.Context, _ []string) error {
			if base.DatabaseURL == "" {
				return &usageError{config.Invalid("database-url", "required")}
			}
			from, to, err := pg.Migrate(ctx, base.DatabaseURL, svc.Schema, svc.Migrations)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: schema %s migrated from version %d to %d\n", svc.Name, svc.Schema, from, to)
			return nil
		},
	}

	root := &ffcli.Command{
		Name:       svc.Name,
		ShortUsage: svc.Name + " [serve|migrate|token|healthcheck] [flags]",
		LongHelp:   "Every flag can also be set by an environment variable of the same name in upper case (--database-url: DATABASE_URL).",
		FlagSet:    newFlags(""),
		Subcommands: []*ffcli.Command{serve, migrate, tokenCommand(svc.Name, newFlags("token"), stdout),
			healthcheckCommand(svc.Name, newFlags("healthcheck"), svc.Defaults.GRPCAddr, stdout)},
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unknown subcommand %q (want serve, migrate, token or healthcheck)", args[0])}
			}
			return serve.ParseAndRun(ctx, nil)
		},
	}
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err}
	}
	return root.Run(ctx)
}

func validate(base *config.Base, svc Service) error {
	errs := []error{base.Validate()}
	if svc.Validate != nil {
		errs = append(errs, svc.Validate())
	}
	if err := errors.Join(errs...); err != nil {
		return &usageError{err}
	}
	return nil
}

func serveCmd(ctx context.Context, svc Service, base *config.Base, logTo io.Writer) (err error) {
	log, err := logging.New(logTo, base.LogFormat, base.LogLevel)
	if err != nil {
		return &usageError{err}
	}
	defer func() { _ = log.Sync() }()
	log = log.With(zap.String("service", svc.Name))

	var cleanups cleanupStack
	// A closure: "defer cleanups.run(log)" would evaluate the (still empty)
	// stack now and run nothing.
	defer func() { cleanups.run(log) }()

	// The TLS files are read first: a bad one stops the start before the
	// database is touched.
	serverOpts := []grpc.ServerOption{grpc.MaxRecvMsgSize(base.MaxRecvMsgBytes)}
	if base.TLSCertFile != "" {
		tlsCfg, err := serverTLS(base)
		if err != nil {
			return err
		}
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(tlsCfg)))
		log.Info("serving gRPC over TLS", zap.Bool("client_certificates_required", base.TLSClientCAFile != ""))
	}

	if base.MigrateOnStart {
		from, to, err := pg.Migrate(ctx, base.DatabaseURL, svc.Schema, svc.Migrations)
		if err != nil {
			return fmt.Errorf("migrate on start: %w", err)
		}
		log.Info("migrated", zap.Int32("from", from), zap.Int32("to", to))
	}
	pool, err := pg.Open(ctx, base.DatabaseURL, svc.Schema, int32(base.DBMaxConns))
	if err != nil {
		return &usageError{config.Invalid("database-url", "%v", err)}
	}
	cleanups.push("database pool", pool.Close)

	registry := grpcserver.NewRegistry()
	srv := grpcserver.New(grpcserver.Config{
		Logger:        log,
		Verifier:      auth.NewVerifier(base.Keys),
		Registry:      registry,
		Ready:         func(ctx context.Context) error { return pg.Ping(ctx, pool, 2*time.Second) },
		ReadyInterval: base.ReadyInterval,
		DrainDelay:    base.DrainDelay,
		ShutdownGrace: base.ShutdownGrace,
		QuietMethods:  svc.QuietMethods,
		Options:       serverOpts,
	})

	// Background work wired by the service stops with wireCtx once the server
	// has drained. Cleanups run last-in-first-out: cancel wireCtx, then the
	// service's cleanup (which may wait for that work), then close the pool.
	wireCtx, stopWire := context.WithCancel(context.WithoutCancel(ctx))
	if svc.Wire != nil {
		cleanup, err := svc.Wire(wireCtx, Deps{Config: base, Logger: log, Pool: pool, Server: srv.Server, Registry: registry})
		if err != nil {
			stopWire()
			return err
		}
		if cleanup != nil {
			cleanups.push(svc.Name, cleanup)
		}
	}
	cleanups.push("background work", stopWire)

	var lis, metricsLis net.Listener
	if svc.Listeners != nil {
		lis, metricsLis = svc.Listeners()
	} else {
		if lis, err = net.Listen("tcp", base.GRPCAddr); err != nil {
			return fmt.Errorf("listen on %s (GRPC_ADDR): %w", base.GRPCAddr, err)
		}
		if base.MetricsAddr != "" {
			if metricsLis, err = net.Listen("tcp", base.MetricsAddr); err != nil {
				lis.Close()
				return fmt.Errorf("listen on %s (METRICS_ADDR): %w", base.MetricsAddr, err)
			}
		}
	}
	return srv.Run(ctx, lis, metricsLis)
}

// serverTLS reads the server's TLS files, naming the setting of the file
// that is wrong: the certificate and key, or the client CAs.
func serverTLS(base *config.Base) (*tls.Config, error) {
	cfg, err := tlsconfig.Server(base.TLSCertFile, base.TLSKeyFile, base.TLSClientCAFile)
	switch {
	case errors.Is(err, tlsconfig.ErrClientCA):
		return nil, &usageError{config.Invalid("tls-client-ca-file", "%v", err)}
	case err != nil:
		return nil, &usageError{config.Invalid("tls-cert-file", "certificate or its key (--tls-key-file): %v", err)}
	}
	return cfg, nil
}
