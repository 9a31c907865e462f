package servicetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/sightline/sightline/pkg/auth"
	"github.com/sightline/sightline/pkg/cli"
)

// Options configure Start.
type Options struct {
	DatabaseURL string
	// AuthKeys is the key spec shared by services that must accept each
	// other's tokens; empty: a fresh random key.
	AuthKeys string
	// Args are extra command-line flags for serve.
	Args []string
	// Addr is the loopback address to listen on; empty: a free port. Tests
	// that restart a service where its clients expect it set it to the old
	// instance's Addr.
	Addr string
	// ClientTLS is how Instance.Conn connects when the service serves TLS
	// (Args with --tls-cert-file); nil: plaintext.
	ClientTLS *tls.Config
	// Metrics serves /metrics on a free loopback port (Instance.MetricsAddr).
	Metrics bool
}

// Instance is a running service.
type Instance struct {
	Addr string
	// MetricsAddr serves /metrics when Options.Metrics was set.
	MetricsAddr string
	Conn        *grpc.ClientConn
	Caller      // Key and the contexts calling with tokens it signs
	AuthKeys    string

	logs *syncBuffer
	stop context.CancelFunc
	exit *exit
	once sync.Once
}

// Caller mints tokens with the signing key of a service under test (an
// Instance's or a Process's).
type Caller struct {
	Key auth.Key
}

// Token mints a token for p.
func (c Caller) Token(t testing.TB, p auth.Principal) string {
	t.Helper()
	tok, err := auth.Mint(c.Key, p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// As returns a context calling as p.
func (c Caller) As(t testing.TB, p auth.Principal) context.Context {
	t.Helper()
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+c.Token(t, p))
}

// User returns a context calling as a user of a company.
func (c Caller) User(t testing.TB, company, user int64) context.Context {
	t.Helper()
	return c.As(t, auth.Principal{Kind: auth.KindUser, CompanyID: company, UserID: user})
}

// Service returns a context calling as a service principal of a company.
func (c Caller) Service(t testing.TB, company int64) context.Context {
	t.Helper()
	return c.As(t, auth.Principal{Kind: auth.KindService, CompanyID: company, Service: "test"})
}

// exit is the end of one run of a service: done closes once err is set.
type exit struct {
	done chan struct{}
	err  error
}

func newExit() *exit { return &exit{done: make(chan struct{})} }

func (e *exit) set(err error) {
	e.err = err
	close(e.done)
}

// dial returns the client connection of a service under test on addr:
// plaintext, or TLS with o.ClientTLS.
func (o *Options) dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if o.ClientTLS != nil {
		creds = credentials.NewTLS(o.ClientTLS)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// waitServing polls the health service through conn until it reports
// SERVING. It fails t when ex ends first (the service exited during start)
// or after a minute.
func waitServing(t testing.TB, name string, conn *grpc.ClientConn, ex *exit, logs func() string) {
	t.Helper()
	if err := serving(name, conn, ex); err != nil {
		t.Fatalf("%v\n%s", err, logs())
	}
}

// errExitedDuringStart: the service exited before it was SERVING.
var errExitedDuringStart = errors.New("exited during start")

// serving is waitServing's wait: nil once SERVING, errExitedDuringStart
// (wrapped) when ex ends first, another error after a minute.
func serving(name string, conn *grpc.ClientConn, ex *exit) error {
	hc := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(60 * time.Second) // a liveness bound, not a speed assertion
	for {
		select {
		case <-ex.done:
			return fmt.Errorf("%s %w: %v", name, errExitedDuringStart, ex.err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never became SERVING (%v)", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NewKeySpec returns a fresh hs256 key spec "kid=hs256:base64".
func NewKeySpec(t testing.TB) string {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	return "test=hs256:" + base64.StdEncoding.EncodeToString(secret)
}

// key fills in o.AuthKeys when empty and returns its signing key.
func (o *Options) key(t testing.TB) auth.Key {
	t.Helper()
	if o.AuthKeys == "" {
		o.AuthKeys = NewKeySpec(t)
	}
	keys, err := auth.ParseKeys(o.AuthKeys, true)
	if err != nil {
		t.Fatal(err)
	}
	return keys[0]
}

// serveArgs are the serve flags of a service under test on addr: migrated,
// no metrics unless given a listener, no drain, fast readiness, debug logs;
// then o.Args.
func (o *Options) serveArgs(addr string) []string {
	return append([]string{"serve",
		"--database-url", o.DatabaseURL,
		"--auth-keys", o.AuthKeys,
		"--migrate-on-start",
		"--grpc-addr", addr,
		"--metrics-addr", "",
		"--drain-delay", "0s",
		"--ready-interval", "50ms",
		"--log-level", "debug",
	}, o.Args...)
}

// Start runs svc until the test ends, waiting until it reports SERVING.
func Start(t testing.TB, svc cli.Service, o Options) *Instance {
	t.Helper()
	key := o.key(t)
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var metricsLis net.Listener
	if o.Metrics {
		if metricsLis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	svc.Listeners = func() (net.Listener, net.Listener) { return lis, metricsLis }
	// The test process's environment (say SMTP_ADDR of a stack running beside
	// the tests) must not configure the service under test.
	svc.NoEnv = true
	args := o.serveArgs(lis.Addr().String())
	ctx, stop := context.WithCancel(context.Background())
	in := &Instance{Addr: lis.Addr().String(), Caller: Caller{Key: key}, AuthKeys: o.AuthKeys, logs: &syncBuffer{}, stop: stop, exit: newExit()}
	if metricsLis != nil {
		in.MetricsAddr = metricsLis.Addr().String()
	}
	go func() { in.exit.set(cli.Run(ctx, svc, args, &bytes.Buffer{}, in.logs)) }()
	in.Conn = o.dial(t, in.Addr)
	t.Cleanup(func() {
		in.Conn.Close()
		if err := in.Stop(); err != nil {
			t.Errorf("%s stopped with %v; logs:\n%s", svc.Name, err, in.Logs())
		}
	})
	waitServing(t, svc.Name, in.Conn, in.exit, in.Logs)
	return in
}

// Stop shuts the service down gracefully and returns what Run returned.
func (in *Instance) Stop() error {
	var err error
	in.once.Do(func() {
		in.stop()
		<-in.exit.done
		err = in.exit.err
	})
	return err
}

// Logs returns everything the service logged so far.
func (in *Instance) Logs() string { return in.logs.String() }

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
