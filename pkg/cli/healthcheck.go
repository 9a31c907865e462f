package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/sightline/sightline/pkg/tlsconfig"
)

// healthcheckCommand asks a running server's grpc.health.v1 and exits 0 only
// when it answers SERVING: the probe for container healthchecks, where
// distroless images have no shell and no separate probe binary.
//
//	visibility healthcheck [--grpc-addr 127.0.0.1:50051] [--timeout 3s]
func healthcheckCommand(name string, fs *flag.FlagSet, defaultAddr string, stdout io.Writer) *ffcli.Command {
	if env := os.Getenv("GRPC_ADDR"); env != "" {
		defaultAddr = env // the address the server in this container listens on
	}
	addr := fs.String("grpc-addr", defaultAddr, "address of the server to check (default $GRPC_ADDR); a wildcard host means loopback")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	// TLS settings are flags only, never read from the server's environment:
	// its TLS_CERT_FILE is a server certificate, not a client one.
	var tlsFlags tlsconfig.ClientFlags
	tlsFlags.Register(fs, "tls", "the server")
	return &ffcli.Command{
		Name: "healthcheck", ShortUsage: name + " healthcheck [--grpc-addr host:port]",
		ShortHelp: "exit 0 when the server at --grpc-addr reports SERVING", FlagSet: fs,
		Exec: func(ctx context.Context, _ []string) error {
			target := loopbackFor(*addr)
			ctx, cancel := context.WithTimeout(ctx, *timeout)
			defer cancel()
			creds := insecure.NewCredentials()
			tlsCfg, err := tlsFlags.Config()
			if err != nil {
				return err
			}
			if tlsCfg != nil {
				creds = credentials.NewTLS(tlsCfg)
			}
			conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
			if err != nil {
				return fmt.Errorf("healthcheck %s: %w", target, err)
			}
			defer conn.Close()
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				return fmt.Errorf("healthcheck %s: %w", target, err)
			}
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				return fmt.Errorf("healthcheck %s: %s", target, resp.GetStatus())
			}
			fmt.Fprintf(stdout, "%s: SERVING\n", target)
			return nil
		},
	}
}

// loopbackFor turns a listen address with a wildcard host into one to dial.
func loopbackFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
