package mailconn_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/sightline/sightline/services/mailbox/internal/dovecottest"
	"github.com/sightline/sightline/services/mailbox/internal/mailconn"
)

func endpoint(t *testing.T, addr string) mailconn.Endpoint {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return mailconn.Endpoint{Host: host, Port: p, Security: mailconn.None}
}

func TestDialIMAP(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.WithUser("ann@acme.test", "right"))
	ep := endpoint(t, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := mailconn.DialIMAP(ctx, ep, mailconn.Credentials{Username: "ann@acme.test", Secret: "right", Kind: mailconn.Password}, mailconn.Options{})
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("select after login: %v", err)
	}
	c.Close()

	_, err = mailconn.DialIMAP(ctx, ep, mailconn.Credentials{Username: "ann@acme.test", Secret: "wrong-secret-123", Kind: mailconn.Password}, mailconn.Options{})
	if !errors.Is(err, mailconn.ErrAuthFailed) {
		t.Fatalf("wrong password: got %v, want ErrAuthFailed", err)
	}
	if contains(err.Error(), "wrong-secret-123") {
		t.Fatalf("the error names the secret: %v", err)
	}

	// A closed port is an outage, not an authentication failure. Port 1
	// (tcpmux): no test can take it, as one could a port closed just now.
	closed := endpoint(t, "127.0.0.1:1")
	_, err = mailconn.DialIMAP(ctx, closed, mailconn.Credentials{Username: "ann@acme.test", Secret: "right"}, mailconn.Options{})
	if err == nil || errors.Is(err, mailconn.ErrAuthFailed) {
		t.Fatalf("closed port: got %v, want a connection error", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// S5: a connection without TLS carries the password in clear, so it is
// made to loopback addresses only (test and demo servers) unless allowed.
// The refusal comes before any packet is sent: 192.0.2.1 (TEST-NET-1) and
// the name resolving to it are never dialled.
func TestPlaintextOnlyToLoopback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cred := mailconn.Credentials{Username: "ann@acme.test", Secret: "right", Kind: mailconn.Password}
	for _, host := range []string{"192.0.2.1", "2001:db8::1"} {
		ep := mailconn.Endpoint{Host: host, Port: 143, Security: mailconn.None}
		if _, err := mailconn.DialIMAP(ctx, ep, cred, mailconn.Options{}); !errors.Is(err, mailconn.ErrPlaintext) {
			t.Errorf("IMAP to %s without TLS: got %v, want ErrPlaintext", host, err)
		}
		ep.Port = 587
		if _, err := mailconn.DialSMTP(ctx, ep, cred, mailconn.Options{}); !errors.Is(err, mailconn.ErrPlaintext) {
			t.Errorf("SMTP to %s without TLS: got %v, want ErrPlaintext", host, err)
		}
	}
	// Loopback by name and by address is allowed.
	srv := dovecottest.Start(t, dovecottest.WithUser("ann@acme.test", "right"))
	_, port, _ := net.SplitHostPort(srv.Addr())
	p, _ := strconv.Atoi(port)
	for _, host := range []string{"localhost", "127.0.0.1"} {
		c, err := mailconn.DialIMAP(ctx, mailconn.Endpoint{Host: host, Port: p, Security: mailconn.None}, cred, mailconn.Options{})
		if err != nil {
			t.Fatalf("IMAP to %s without TLS: %v", host, err)
		}
		c.Close()
	}
}
