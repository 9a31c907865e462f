// Package smtptest runs an SMTP submission server for tests of sending
// (SendThreadMessage, M5): on a loopback port, STARTTLS with a certificate
// signed by a CA made at start (CAFile is what the client must trust), AUTH
// PLAIN against known users, and a Deliver hook that hands each accepted
// message to its recipients (the tests append it to the recipient's Dovecot
// INBOX). It records every accepted envelope.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sightline/sightline/pkg/tlsconfig/tlstest"
)

// Options configure Start.
type Options struct {
	// Users are the accounts AUTH PLAIN accepts: username → password.
	Users map[string]string
	// Tokens are the accounts AUTH XOAUTH2 accepts: username → bearer
	// token (as Gmail and Microsoft 365 submission servers take them). nil:
	// XOAUTH2 is not offered.
	Tokens map[string]string
	// Deliver hands an accepted message to one recipient; an error refuses
	// the message (451). nil: messages are only recorded.
	Deliver func(rcpt string, data []byte) error
	// RejectRcpt refuses a recipient with the returned error (e.g. an
	// *smtp.SMTPError with code 550); nil: every recipient is accepted.
	RejectRcpt func(rcpt string) error
}

// Envelope is one accepted message.
type Envelope struct {
	User string // who authenticated
	TLS  bool   // whether the session was encrypted (STARTTLS)
	From string
	To   []string
	Data []byte
}

// Server is a running submission server.
type Server struct {
	CAFile string // PEM of the CA that signed the server's certificate

	opts Options
	addr *net.TCPAddr
	srv  *smtp.Server

	mu   sync.Mutex
	msgs []Envelope
}

// Start listens on 127.0.0.1:0 and serves until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	ca := tlstest.NewCA(t, "smtptest")
	pair := ca.Server(t, "smtp")
	cert, err := tls.LoadX509KeyPair(pair.CertFile, pair.KeyFile)
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	s := &Server{opts: o, CAFile: ca.CertFile}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = lis.Addr().(*net.TCPAddr)
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.MaxMessageBytes = 32 << 20
	s.srv.ErrorLog = testLogger{t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(lis)
	}()
	t.Cleanup(func() {
		_ = s.srv.Close()
		<-done
	})
	return s
}

type testLogger struct{ t testing.TB }

func (l testLogger) Printf(format string, v ...any) { l.t.Logf("smtptest: "+format, v...) }
func (l testLogger) Println(v ...any)               { l.t.Log(append([]any{"smtptest:"}, v...)...) }

// Addr is host:port.
func (s *Server) Addr() string { return s.addr.String() }

// Host is the listening address ("127.0.0.1", in the certificate).
func (s *Server) Host() string { return s.addr.IP.String() }

// Port is the listening port.
func (s *Server) Port() int32 { return int32(s.addr.Port) }

// Messages returns the accepted envelopes so far, in order.
func (s *Server) Messages() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Envelope(nil), s.msgs...)
}

type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	env  Envelope
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Tokens != nil {
		return []string{sasl.Plain, xoauth2}
	}
	return []string{sasl.Plain}
}

const xoauth2 = "XOAUTH2"

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech == xoauth2 && ss.s.opts.Tokens != nil {
		return &xoauth2Server{ss: ss}, nil
	}
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if want, ok := ss.s.opts.Users[username]; !ok || want != password || (identity != "" && identity != username) {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

// xoauth2Server is the server side of XOAUTH2 as Google documents it: the
// client's one response is "user=U^Aauth=Bearer T^A^A"; a refused token is
// answered with a JSON error challenge, the client's empty reply to it
// with 535.
type xoauth2Server struct {
	ss      *session
	refused bool
}

func (x *xoauth2Server) Next(response []byte) ([]byte, bool, error) {
	switch {
	case x.refused:
		return nil, true, smtp.ErrAuthFailed
	case response == nil:
		return []byte{}, false, nil // no initial response: ask for it
	}
	user, token, ok := parseXOAuth2(string(response))
	if want, known := x.ss.s.opts.Tokens[user]; ok && known && want == token {
		x.ss.user = user
		return nil, true, nil
	}
	x.refused = true
	return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), false, nil
}

func parseXOAuth2(r string) (user, token string, ok bool) {
	fields, ok := strings.CutSuffix(r, "\x01\x01")
	if !ok {
		return "", "", false
	}
	for f := range strings.SplitSeq(fields, "\x01") {
		switch k, v, _ := strings.Cut(f, "="); k {
		case "user":
			user = v
		case "auth":
			token, _ = strings.CutPrefix(v, "Bearer ")
		}
	}
	return user, token, user != "" && token != ""
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.user == "" {
		return smtp.ErrAuthRequired
	}
	_, tlsOn := ss.conn.TLSConnectionState()
	ss.env = Envelope{User: ss.user, TLS: tlsOn, From: from}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.user == "" {
		return smtp.ErrAuthRequired
	}
	if f := ss.s.opts.RejectRcpt; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.env.To = append(ss.env.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(ss.env.To) == 0 {
		return errors.New("no recipients")
	}
	ss.env.Data = bytes.Clone(data)
	if d := ss.s.opts.Deliver; d != nil {
		for _, rcpt := range ss.env.To {
			if err := d(rcpt, ss.env.Data); err != nil {
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
					Message: "delivery to " + rcpt + " failed: " + err.Error()}
			}
		}
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.env)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.env = Envelope{} }
func (ss *session) Logout() error { return nil }
