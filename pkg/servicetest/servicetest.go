package servicetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
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
}

// Instance is a running service.
type Instance struct {
	Addr     string
	Conn     *grpc.ClientConn
	Key      auth.Key
	AuthKeys string

	logs *syncBuffer
	stop context.CancelFunc
	done chan error
	once sync.Once
}

// NewKeySpec returns a fresh hs256 key spec "kid=hs256:base64".
func NewKeySpec(t testing.TB) string {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	return "test=hs256:" + base64.StdEncoding.EncodeToString(secret)
}

// Start runs svc until the test ends, waiting until it reports SERVING.
func Start(t testing.TB, svc cli.Service, o Options) *Instance {
	t.Helper()
	if o.AuthKeys == "" {
		o.AuthKeys = NewKeySpec(t)
	}
	keys, err := auth.ParseKeys(o.AuthKeys, true)
	if err != nil {
		t.Fatal(err)
	}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	svc.Listeners = func() (net.Listener, net.Listener) { return lis, nil }
	args := append([]string{"serve",
		"--database-url", o.DatabaseURL,
		"--auth-keys", o.AuthKeys,
		"--migrate-on-start",
		"--grpc-addr", lis.Addr().String(),
		"--metrics-addr", "",
		"--drain-delay", "0s",
		"--ready-interval", "50ms",
		"--log-level", "debug",
	}, o.Args...)
	ctx, stop := context.WithCancel(context.Background())
	in := &Instance{Addr: lis.Addr().String(), Key: keys[0], AuthKeys: o.AuthKeys, logs: &syncBuffer{}, stop: stop, done: make(chan error, 1)}
	go func() { in.done <- cli.Run(ctx, svc, args, &bytes.Buffer{}, in.logs) }()
	in.Conn, err = grpc.NewClient(in.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Conn.Close()
		if err := in.Stop(); err != nil {
			t.Errorf("%s stopped with %v; logs:\n%s", svc.Name, err, in.Logs())
		}
	})
	in.waitServing(t, svc.Name)
	return in
}

func (in *Instance) waitServing(t testing.TB, name string) {
	t.Helper()
	hc := healthpb.NewHealthClient(in.Conn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-in.done:
			in.done <- err
			t.Fatalf("%s exited during start: %v\n%s", name, err, in.Logs())
		default:
		}
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became SERVING (%v)\n%s", name, err, in.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the service down gracefully and returns what Run returned.
func (in *Instance) Stop() error {
	var err error
	in.once.Do(func() {
		in.stop()
		err = <-in.done
	})
	return err
}

// Logs returns everything the service logged so far.
func (in *Instance) Logs() string { return in.logs.String() }

// Token mints a token for p.
func (in *Instance) Token(t testing.TB, p auth.Principal) string {
	t.Helper()
	tok, err := auth.Mint(in.Key, p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// As returns a context calling as p.
func (in *Instance) As(t testing.TB, p auth.Principal) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+in.Token(t, p))
}

// User returns a context calling as a user of a company.
func (in *Instance) User(t testing.TB, company, user int64) context.Context {
	return in.As(t, auth.Principal{Kind: auth.KindUser, CompanyID: company, UserID: user})
}

// Service returns a context calling as a service principal of a company.
func (in *Instance) Service(t testing.TB, company int64) context.Context {
	return in.As(t, auth.Principal{Kind: auth.KindService, CompanyID: company, Service: "test"})
}

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
