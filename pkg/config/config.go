package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/sightline/sightline/pkg/auth"
)

// Base holds the settings shared by both services.
type Base struct {
	GRPCAddr        string
	MetricsAddr     string
	DatabaseURL     string
	DBMaxConns      int
	LogFormat       string
	LogLevel        string
	AuthKeys        string
	MigrateOnStart  bool
	DrainDelay      time.Duration
	ShutdownGrace   time.Duration
	ReadyInterval   time.Duration
	MaxRecvMsgBytes int
	TLSCertFile     string
	TLSKeyFile      string
	TLSClientCAFile string

	Keys []auth.Key // parsed from AuthKeys by Validate
}

// Defaults are a service's own default values.
type Defaults struct {
	GRPCAddr        string
	MetricsAddr     string
	MaxRecvMsgBytes int
}

// Register defines the shared flags on fs.
func (b *Base) Register(fs *flag.FlagSet, d Defaults) {
	fs.StringVar(&b.GRPCAddr, "grpc-addr", d.GRPCAddr, "gRPC listen address (host:port)")
	fs.StringVar(&b.MetricsAddr, "metrics-addr", d.MetricsAddr, "Prometheus /metrics listen address (host:port); empty disables")
	fs.StringVar(&b.DatabaseURL, "database-url", "", "PostgreSQL connection URL (required)")
	fs.IntVar(&b.DBMaxConns, "db-max-conns", 20, "maximum PostgreSQL connections in the pool")
	fs.StringVar(&b.LogFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&b.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&b.AuthKeys, "auth-keys", "", "token verification keys: kid=hs256:base64secret or kid=ed25519:base64pubkey, comma-separated (required)")
	fs.BoolVar(&b.MigrateOnStart, "migrate-on-start", false, "apply database migrations before serving")
	fs.DurationVar(&b.DrainDelay, "drain-delay", 2*time.Second, "on shutdown, time between reporting NOT_SERVING and stopping to accept calls")
	fs.DurationVar(&b.ShutdownGrace, "shutdown-grace", 15*time.Second, "on shutdown, how long in-flight calls may run before they are cut off")
	fs.DurationVar(&b.ReadyInterval, "ready-interval", time.Second, "how often the database is pinged for the health status")
	fs.IntVar(&b.MaxRecvMsgBytes, "max-recv-msg-bytes", d.MaxRecvMsgBytes, "largest gRPC request accepted, in bytes")
	fs.StringVar(&b.TLSCertFile, "tls-cert-file", "", "PEM server certificate: serve gRPC over TLS only (re-read when the file changes); empty: plaintext")
	fs.StringVar(&b.TLSKeyFile, "tls-key-file", "", "PEM key of --tls-cert-file")
	fs.StringVar(&b.TLSClientCAFile, "tls-client-ca-file", "", "PEM CA certificates: require every client to present a certificate they signed (mTLS)")
}

// Parse fills fs from args and then from environment variables named after the flags.
func Parse(fs *flag.FlagSet, args []string) error {
	return ff.Parse(fs, args, ff.WithEnvVars())
}

// EnvName returns the environment variable of a flag, e.g. DATABASE_URL.
func EnvName(flagName string) string {
	return strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Invalid builds the start-up error for one bad setting.
func Invalid(flagName, format string, args ...any) error {
	return fmt.Errorf("invalid setting %s (--%s): %s", EnvName(flagName), flagName, fmt.Sprintf(format, args...))
}

// Validate checks every shared setting and parses the keys.
func (b *Base) Validate() error {
	var errs []error
	check := func(ok bool, flagName, format string, args ...any) {
		if !ok {
			errs = append(errs, Invalid(flagName, format, args...))
		}
	}
	check(validAddr(b.GRPCAddr), "grpc-addr", "%q is not host:port", b.GRPCAddr)
	check(b.MetricsAddr == "" || validAddr(b.MetricsAddr), "metrics-addr", "%q is not host:port", b.MetricsAddr)
	check(b.DatabaseURL != "", "database-url", "required")
	check(b.DBMaxConns >= 1 && b.DBMaxConns <= 1000, "db-max-conns", "%d is not between 1 and 1000", b.DBMaxConns)
	check(b.LogFormat == "json" || b.LogFormat == "console", "log-format", "%q: want json or console", b.LogFormat)
	check(oneOf(b.LogLevel, "debug", "info", "warn", "error"), "log-level", "%q: want debug, info, warn or error", b.LogLevel)
	check(b.DrainDelay >= 0 && b.DrainDelay <= time.Minute, "drain-delay", "%s is not between 0 and 1m", b.DrainDelay)
	check(b.ShutdownGrace > 0 && b.ShutdownGrace <= 10*time.Minute, "shutdown-grace", "%s is not between 0 and 10m", b.ShutdownGrace)
	check(b.ReadyInterval >= 10*time.Millisecond && b.ReadyInterval <= time.Minute, "ready-interval", "%s is not between 10ms and 1m", b.ReadyInterval)
	check(b.MaxRecvMsgBytes >= 1<<10 && b.MaxRecvMsgBytes <= 256<<20, "max-recv-msg-bytes", "%d is not between 1 KiB and 256 MiB", b.MaxRecvMsgBytes)
	check((b.TLSCertFile == "") == (b.TLSKeyFile == ""), "tls-cert-file", "needs --tls-key-file too, and the other way round")
	check(b.TLSClientCAFile == "" || b.TLSCertFile != "", "tls-client-ca-file", "client certificates need TLS: set --tls-cert-file and --tls-key-file")
	if b.AuthKeys == "" {
		errs = append(errs, Invalid("auth-keys", "required"))
	} else if keys, err := auth.ParseKeys(b.AuthKeys, false); err != nil {
		errs = append(errs, Invalid("auth-keys", "%v", err))
	} else {
		b.Keys = keys
	}
	return errors.Join(errs...)
}

func validAddr(a string) bool {
	_, port, err := net.SplitHostPort(a)
	return err == nil && port != ""
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}
