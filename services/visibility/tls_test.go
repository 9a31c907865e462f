package visibility_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/sightline/sightline/pkg/cli"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/pkg/tlsconfig"
	"github.com/sightline/sightline/pkg/tlsconfig/tlstest"
	"github.com/sightline/sightline/services/visibility"
)

// With --tls-client-ca-file the server takes only clients presenting a
// certificate of that CA (mTLS): plaintext, TLS without a certificate and a
// certificate of another CA are all refused before any method runs.
func TestTLS_ServerRequiresClientCertificates(t *testing.T) {
	ca := tlstest.NewCA(t, "sightline-test-ca")
	srvPair := ca.Server(t, "visibility")
	client := ca.Client(t, "mailbox")
	stranger := tlstest.NewCA(t, "stranger-ca").Client(t, "mallory")

	good, err := tlsconfig.Client(ca.CertFile, client.CertFile, client.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	in := servicetest.Start(t, visibility.Service(), servicetest.Options{
		DatabaseURL: pgtest.New(t, migrated),
		Args:        []string{"--tls-cert-file", srvPair.CertFile, "--tls-key-file", srvPair.KeyFile, "--tls-client-ca-file", ca.CertFile},
		ClientTLS:   good,
	})
	// servicetest waited for SERVING over mTLS; a real call works too.
	if _, err := healthpb.NewHealthClient(in.Conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("mTLS client: %v", err)
	}

	noCert, err := tlsconfig.Client(ca.CertFile, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := tlsconfig.Client(ca.CertFile, stranger.CertFile, stranger.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, creds := range map[string]credentials.TransportCredentials{
		"plaintext":               insecure.NewCredentials(),
		"TLS without a cert":      credentials.NewTLS(noCert),
		"cert of another CA":      credentials.NewTLS(otherCA),
		"server not in the roots": credentials.NewTLS(mustClient(t, tlstest.NewCA(t, "x").CertFile, client)),
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := grpc.NewClient(in.Addr, grpc.WithTransportCredentials(creds))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("got %v, want the connection refused (UNAVAILABLE)", err)
			}
		})
	}

	// The healthcheck subcommand speaks TLS with explicit flags.
	var out bytes.Buffer
	err = cli.Run(context.Background(), visibility.Service(), []string{"healthcheck", "--grpc-addr", in.Addr,
		"--tls-ca-file", ca.CertFile, "--tls-cert-file", client.CertFile, "--tls-key-file", client.KeyFile}, &out, &out)
	if err != nil {
		t.Fatalf("healthcheck over mTLS: %v (%s)", err, out.String())
	}
}

// Half a TLS configuration is a start-up error naming the setting.
func TestTLS_IncompleteSettingsRefused(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	pair := ca.Server(t, "visibility")
	for _, args := range [][]string{
		{"--tls-cert-file", pair.CertFile},
		{"--tls-client-ca-file", ca.CertFile},
	} {
		var out bytes.Buffer
		err := cli.Run(context.Background(), visibility.Service(),
			append([]string{"serve", "--database-url", "postgres://127.0.0.1:1/x", "--auth-keys", servicetest.NewKeySpec(t)}, args...), &out, &out)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("TLS_")) {
			t.Errorf("%v: got %v, want an invalid TLS_* setting", args, err)
		}
	}
}

func mustClient(t *testing.T, caFile string, p tlstest.Pair) *tls.Config {
	t.Helper()
	c, err := tlsconfig.Client(caFile, p.CertFile, p.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
