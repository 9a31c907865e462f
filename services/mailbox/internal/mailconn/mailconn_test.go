package mailconn_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sightline/sightline/services/mailbox/internal/dovecottest"
	"github.com/sightline/sightline/services/mailbox/internal/mailconn"
	"github.com/sightline/sightline/services/mailbox/internal/smtptest"
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
	refused(t, err, "wrong-secret-123")

	// A closed port is an outage, not an authentication failure. Port 1
	// (tcpmux): no test can take it, as one could a port closed just now.
	closed := endpoint(t, "127.0.0.1:1")
	_, err = mailconn.DialIMAP(ctx, closed, mailconn.Credentials{Username: "ann@acme.test", Secret: "right"}, mailconn.Options{})
	if err == nil || errors.Is(err, mailconn.ErrAuthFailed) {
		t.Fatalf("closed port: got %v, want a connection error", err)
	}
}

// refused checks that a login with a wrong secret failed as
// ErrAuthFailed (a secret to renew, not an outage) without naming it.
func refused(t *testing.T, err error, secret string) {
	t.Helper()
	if !errors.Is(err, mailconn.ErrAuthFailed) {
		t.Fatalf("wrong secret: got %v, want ErrAuthFailed", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the error names the secret: %v", err)
	}
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

// XOAUTH2 for submission, as Gmail and Microsoft 365 take it: the right
// token logs in and sends; a refused one (the server's JSON error challenge,
// then 535) is ErrAuthFailed and its error does not carry the token.
func TestDialSMTPWithXOAuth2(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Tokens: map[string]string{"ann@acme.test": "ya29.right-token"}})
	pem, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	o := mailconn.Options{TLSConfig: &tls.Config{RootCAs: roots, ServerName: srv.Host(), MinVersion: tls.VersionTLS12}}
	ep := mailconn.Endpoint{Host: srv.Host(), Port: int(srv.Port()), Security: mailconn.StartTLS}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := mailconn.DialSMTP(ctx, ep, mailconn.Credentials{Username: "ann@acme.test", Secret: "ya29.right-token", Kind: mailconn.XOAuth2}, o)
	if err != nil {
		t.Fatalf("right token: %v", err)
	}
	if err := c.SendMail("ann@acme.test", []string{"bob@customer.test"}, strings.NewReader("Subject: Hi\r\n\r\nHi.\r\n")); err != nil {
		t.Fatalf("send after XOAUTH2: %v", err)
	}
	c.Close()
	if got := srv.Messages(); len(got) != 1 || got[0].User != "ann@acme.test" || !got[0].TLS {
		t.Fatalf("accepted %+v, want one message from ann@acme.test over TLS", got)
	}

	_, err = mailconn.DialSMTP(ctx, ep, mailconn.Credentials{Username: "ann@acme.test", Secret: "ya29.expired-token", Kind: mailconn.XOAuth2}, o)
	refused(t, err, "ya29.expired-token")
}

// XOAUTH2 for IMAP against Dovecot's oauth2 passdb, which asks an RFC 7662
// introspection endpoint (here a loopback HTTP server standing in for the
// provider's) about the token: the right token logs in; an inactive one is
// ErrAuthFailed and its error does not carry the token.
func TestDialIMAPWithXOAuth2(t *testing.T) {
	var asked atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		active := r.Method == http.MethodPost && r.PostFormValue("token") == "ya29.right-token"
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"active": active, "username": "ann@acme.test"})
	}))
	defer idp.Close()
	srv := dovecottest.Start(t, dovecottest.WithUser("ann@acme.test", "a-password"), dovecottest.WithOAuth2(idp.URL+"/introspect"))
	ep := endpoint(t, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := mailconn.DialIMAP(ctx, ep, mailconn.Credentials{Username: "ann@acme.test", Secret: "ya29.right-token", Kind: mailconn.XOAuth2}, mailconn.Options{})
	if err != nil {
		t.Fatalf("right token: %v", err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("select after XOAUTH2: %v", err)
	}
	c.Close()
	if asked.Load() == 0 {
		t.Fatal("Dovecot logged in without asking the introspection endpoint")
	}

	_, err = mailconn.DialIMAP(ctx, ep, mailconn.Credentials{Username: "ann@acme.test", Secret: "ya29.expired-token", Kind: mailconn.XOAuth2}, mailconn.Options{})
	refused(t, err, "ya29.expired-token")
}

// A server that greets and then never answers STARTTLS does not hold the
// dial past its context: the connection is closed when the context ends
// (the sync worker's shutdown waits for its dials).
func TestDialGivesUpOnASilentStartTLS(t *testing.T) {
	for _, tt := range []struct {
		name     string
		greeting string
		dial     func(ctx context.Context, ep mailconn.Endpoint) error
	}{
		{"imap", "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n", func(ctx context.Context, ep mailconn.Endpoint) error {
			_, err := mailconn.DialIMAP(ctx, ep, mailconn.Credentials{Username: "ann", Secret: "pw"}, mailconn.Options{})
			return err
		}},
		{"smtp", "220 silent ESMTP\r\n", func(ctx context.Context, ep mailconn.Endpoint) error {
			_, err := mailconn.DialSMTP(ctx, ep, mailconn.Credentials{Username: "ann", Secret: "pw"}, mailconn.Options{})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr := silentServer(t, tt.greeting)
			ep := endpoint(t, addr)
			ep.Security = mailconn.StartTLS
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- tt.dial(ctx, ep) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("a dial to a silent server succeeded")
				}
			case <-time.After(30 * time.Second): // a liveness bound, not a speed assertion
				t.Fatal("the dial was still waiting 30 s after its context ended")
			}
		})
	}
}

// silentServer accepts connections on loopback, sends greeting, answers
// SMTP's EHLO with STARTTLS on offer, and then never answers anything.
func silentServer(t *testing.T, greeting string) string {
	return fakeServer(t, func(c net.Conn) {
		_, _ = c.Write([]byte(greeting))
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if strings.HasPrefix(strings.ToUpper(string(buf[:n])), "EHLO") {
				_, _ = c.Write([]byte("250-silent\r\n250 STARTTLS\r\n"))
			}
		}
	})
}

// fakeServer serves each connection to a loopback listener with serve, for
// server behaviour Dovecot cannot be made to show; the listener and the
// connections are closed when the test ends.
func fakeServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serve(c)
		}
	}()
	return l.Addr().String()
}

// An IMAP server that logs the client in and then answers nothing more is
// let go after Options.Silence: the command waiting on it fails instead of
// holding its session (and the account's lease) for good.
func TestIMAPCommandOnASilentServerEnds(t *testing.T) {
	addr := loginThenSilentServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mailconn.DialIMAP(ctx, endpoint(t, addr), mailconn.Credentials{Username: "ann", Secret: "pw"},
		mailconn.Options{Silence: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := c.Select("INBOX", nil).Wait()
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("SELECT on a silent server succeeded")
		}
	case <-time.After(30 * time.Second): // a liveness bound, not a speed assertion
		t.Fatal("SELECT was still waiting on the silent server after 30 s")
	}
}

// loginThenSilentServer greets with its capabilities, accepts any LOGIN and
// then reads commands without ever answering.
func loginThenSilentServer(t *testing.T) string {
	return fakeServer(t, func(c net.Conn) {
		_, _ = c.Write([]byte("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"))
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if tag, rest, _ := strings.Cut(line, " "); strings.HasPrefix(strings.ToUpper(rest), "LOGIN") {
				_, _ = c.Write([]byte(tag + " OK [CAPABILITY IMAP4rev1] logged in\r\n"))
			}
		}
	})
}
