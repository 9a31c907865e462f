package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/sightline/sightline/pkg/auth"
	"github.com/sightline/sightline/pkg/cli"
	"github.com/sightline/sightline/pkg/config"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/pkg/tlsconfig/tlstest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// svc is a minimal service: one migration, no handlers.
func svc() cli.Service {
	return cli.Service{
		Name:   "testsvc",
		Schema: "testsvc",
		Migrations: fstest.MapFS{
			"001_init.sql": {Data: []byte("CREATE TABLE things (id bigint PRIMARY KEY);\n---- create above / drop below ----\nDROP TABLE things;\n")},
		},
		Defaults: config.Defaults{GRPCAddr: "127.0.0.1:0", MetricsAddr: "", MaxRecvMsgBytes: 4 << 20},
	}
}

func TestBadConfigurationStopsStartWithClearMessage(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("AUTH_KEYS", "")
	keys := servicetest.NewKeySpec(t)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"no database", []string{"serve", "--auth-keys", keys}, []string{"DATABASE_URL (--database-url): required"}},
		{"no keys", []string{"serve", "--database-url", "postgres://x@localhost/db"}, []string{"AUTH_KEYS (--auth-keys): required"}},
		{"bad key", []string{"serve", "--database-url", "postgres://x@localhost/db", "--auth-keys", "k=hs256:c2hvcnQ="}, []string{"AUTH_KEYS (--auth-keys)", "at least 32 bytes"}},
		{"bad address", []string{"serve", "--database-url", "postgres://x@localhost/db", "--auth-keys", keys, "--grpc-addr", "nonsense"}, []string{"GRPC_ADDR (--grpc-addr)"}},
		{"several at once", []string{"serve", "--log-format", "xml", "--log-level", "loud"}, []string{"LOG_FORMAT", "LOG_LEVEL", "DATABASE_URL", "AUTH_KEYS"}},
		{"unknown flag", []string{"serve", "--no-such-flag"}, []string{"no-such-flag"}},
		{"unknown subcommand", []string{"frobnicate"}, []string{"unknown subcommand"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := cli.Run(ctx, svc(), c.args, &bytes.Buffer{}, &stderr)
			if err == nil {
				t.Fatal("started with a bad configuration")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), keys[len("test=hs256:"):]) {
				t.Error("the error echoes a key")
			}
		})
	}
	// An env variable configures like its flag.
	t.Setenv("LOG_FORMAT", "yaml")
	err := cli.Run(context.Background(), svc(), []string{"serve"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `LOG_FORMAT (--log-format): "yaml"`) {
		t.Fatalf("env setting not validated: %v", err)
	}
}

// A TLS file that cannot be used stops the start before the database is
// touched (the URL here reaches nothing), naming the setting at fault.
func TestBadTLSFilesNamedBeforeTheDatabase(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	pair := ca.Server(t, "testsvc")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	cases := []struct {
		name      string
		args      []string
		want, not string
	}{
		{"missing certificate", []string{"--tls-cert-file", missing, "--tls-key-file", pair.KeyFile}, "TLS_CERT_FILE", "TLS_CLIENT_CA_FILE"},
		{"key of no certificate", []string{"--tls-cert-file", pair.CertFile, "--tls-key-file", notPEM}, "TLS_CERT_FILE", "TLS_CLIENT_CA_FILE"},
		{"client CA not PEM", []string{"--tls-cert-file", pair.CertFile, "--tls-key-file", pair.KeyFile, "--tls-client-ca-file", notPEM}, "TLS_CLIENT_CA_FILE", "TLS_CERT_FILE"},
		{"client CA missing", []string{"--tls-cert-file", pair.CertFile, "--tls-key-file", pair.KeyFile, "--tls-client-ca-file", missing}, "TLS_CLIENT_CA_FILE", "TLS_CERT_FILE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			args := append([]string{"serve", "--database-url", "postgres://u@127.0.0.1:1/db?connect_timeout=1",
				"--auth-keys", servicetest.NewKeySpec(t), "--migrate-on-start"}, c.args...)
			err := cli.Run(ctx, svc(), args, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), c.not) {
				t.Fatalf("got %v, want an invalid %s", err, c.want)
			}
			if strings.Contains(err.Error(), "migrate") || strings.Contains(err.Error(), "DATABASE_URL") {
				t.Fatalf("got %v: the database was tried before the TLS files", err)
			}
		})
	}
}

func TestDatabasePasswordNeverInErrors(t *testing.T) {
	err := cli.Run(context.Background(), svc(), []string{"migrate", "--database-url", "postgres://u:hunter2secret@127.0.0.1:1/db?connect_timeout=1"},
		&bytes.Buffer{}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("migrated against nothing")
	}
	if strings.Contains(err.Error(), "hunter2secret") {
		t.Fatalf("password in error: %v", err)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	url := pgtest.New(t)
	for i, want := range []string{"from version 0 to 1", "from version 1 to 1"} {
		var out bytes.Buffer
		if err := cli.Run(context.Background(), svc(), []string{"migrate", "--database-url", url}, &out, &bytes.Buffer{}); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if !strings.Contains(out.String(), want) {
			t.Fatalf("run %d printed %q, want %q", i, out.String(), want)
		}
	}
}

func TestTokenSubcommandMintsAVerifiableToken(t *testing.T) {
	spec := servicetest.NewKeySpec(t)
	t.Setenv("AUTH_KEYS", spec)
	t.Setenv("USER", "root") // must not be taken for --user
	var out bytes.Buffer
	if err := cli.Run(context.Background(), svc(), []string{"token", "--company", "4", "--user", "2"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	keys, _ := auth.ParseKeys(spec, false)
	p, err := auth.NewVerifier(keys).Verify(strings.TrimSpace(out.String()))
	if err != nil || !p.IsUser() || p.UserID != 2 || p.CompanyID != 4 {
		t.Fatalf("minted %v, %v", p, err)
	}
}

// TestHealthFollowsPostgreSQL stops and restarts a real PostgreSQL under a
// running service: health must flip to NOT_SERVING and back with no restart.
func TestHealthFollowsPostgreSQL(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	url := cluster.CreateDatabase(t)
	in := servicetest.Start(t, svc(), servicetest.Options{DatabaseURL: url})
	conn, err := grpc.NewClient(in.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitHealth(t, conn, healthpb.HealthCheckResponse_SERVING)
	cluster.Stop(t)
	waitHealth(t, conn, healthpb.HealthCheckResponse_NOT_SERVING)
	cluster.Start(t)
	waitHealth(t, conn, healthpb.HealthCheckResponse_SERVING)
}

func waitHealth(t *testing.T, conn *grpc.ClientConn, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	hc := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(30 * time.Second) // a liveness bound, not a speed assertion
	for {
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health never became %v: %v %v", want, resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWireContextEndsAndCleanupRunsAtShutdown: background work stops with
// the Wire context, and the service's cleanup runs after it (regression: the
// cleanup stack was evaluated when deferred and ran nothing).
func TestWireContextEndsAndCleanupRunsAtShutdown(t *testing.T) {
	url := pgtest.NewCluster(t).CreateDatabase(t)
	s := svc()
	wireDone := make(chan struct{})
	var order []string
	s.Wire = func(ctx context.Context, _ cli.Deps) (func(), error) {
		go func() { <-ctx.Done(); order = append(order, "ctx done"); close(wireDone) }()
		return func() { <-wireDone; order = append(order, "cleanup") }, nil
	}
	in := servicetest.Start(t, s, servicetest.Options{DatabaseURL: url})
	if err := in.Stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "ctx done,cleanup" {
		t.Fatalf("shutdown order %v, want the Wire context ended, then the cleanup", order)
	}
}
