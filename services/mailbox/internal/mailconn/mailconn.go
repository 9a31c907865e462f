// Package mailconn opens authenticated connections to a user's mail
// provider: IMAP with go-imap/v2 (sync, MOVE, APPEND) and SMTP submission
// with go-smtp (sending), over implicit TLS, STARTTLS or, for loopback test
// servers only (Options.AllowPlaintext lifts that), plain TCP; password or
// XOAUTH2. Credentials never appear in
// errors.
package mailconn

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Security is how a connection is protected (the proto's ConnectionSecurity).
type Security int16

const (
	TLS      Security = 1
	StartTLS Security = 2
	None     Security = 3
)

// AuthKind is what the secret is (the proto's AuthKind).
type AuthKind int16

const (
	Password AuthKind = 1
	XOAuth2  AuthKind = 2
)

// Endpoint locates one server.
type Endpoint struct {
	Host     string
	Port     int
	Security Security
}

// Addr is host:port.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// Credentials log in to both servers.
type Credentials struct {
	Username string
	Secret   string
	Kind     AuthKind
}

// ErrPlaintext is a connection without TLS (None) to an address that is not
// loopback, refused unless Options.AllowPlaintext: the credentials would
// cross the network in clear.
var ErrPlaintext = errors.New("mailconn: a connection without TLS is allowed to loopback addresses only")

// ErrAuthFailed is the provider refusing the credentials: retrying cannot
// help until the user updates the secret.
var ErrAuthFailed = errors.New("mailconn: the server refused the credentials")

// Options tune a connection; the zero value is usable.
type Options struct {
	// TLSConfig for TLS and STARTTLS (nil: the system roots, ServerName from
	// the endpoint).
	TLSConfig *tls.Config
	// DialTimeout bounds connecting and the greeting; 0: 30 s.
	DialTimeout time.Duration
	// IMAP's handler of unsolicited responses (EXISTS, EXPUNGE, FETCH during IDLE).
	UnilateralDataHandler *imapclient.UnilateralDataHandler
	// AllowPlaintext allows connections without TLS (None) to any address;
	// otherwise only to loopback ones (local test and demo servers).
	AllowPlaintext bool
	// Silence closes an IMAP connection from which nothing has been read
	// for this long (0: never). go-imap bounds the reading of a response,
	// not the wait for one: a server still there at the TCP level but no
	// longer answering would hold a command, and its session with the
	// account's lease, for good. It must exceed the longest quiet time of a
	// healthy connection (the caller's IDLE restarts and polls).
	Silence time.Duration
}

// silenceConn closes its connection when nothing has been read from it
// for silence.
type silenceConn struct {
	net.Conn
	last atomic.Int64 // unix nanoseconds of the last read that returned data
	done chan struct{}
	once sync.Once
}

func watchSilence(c net.Conn, silence time.Duration) net.Conn {
	w := &silenceConn{Conn: c, done: make(chan struct{})}
	w.last.Store(time.Now().UnixNano())
	go func() {
		t := time.NewTicker(silence / 4)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case now := <-t.C:
				if now.Sub(time.Unix(0, w.last.Load())) > silence {
					_ = w.Close()
					return
				}
			}
		}
	}()
	return w
}

func (w *silenceConn) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	if n > 0 {
		w.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (w *silenceConn) Close() error {
	w.once.Do(func() { close(w.done) })
	return w.Conn.Close()
}

func (o Options) tlsConfig(host string) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLSConfig != nil {
		c = o.TLSConfig.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	return c
}

func (o Options) dial(ctx context.Context, ep Endpoint) (net.Conn, error) {
	timeout := o.DialTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := &net.Dialer{Timeout: timeout}
	addrs := []string{ep.Addr()}
	if ep.Security == None && !o.AllowPlaintext {
		// Resolved here and dialled by address, so that the addresses
		// checked are the ones connected to.
		ips, err := net.DefaultResolver.LookupIPAddr(ctx, ep.Host)
		if err != nil {
			return nil, err
		}
		addrs = addrs[:0]
		for _, ip := range ips {
			if !ip.IP.IsLoopback() {
				return nil, fmt.Errorf("%w (%s is %s)", ErrPlaintext, ep.Host, ip.IP)
			}
			addrs = append(addrs, net.JoinHostPort(ip.IP.String(), strconv.Itoa(ep.Port)))
		}
	}
	var conn net.Conn
	err := fmt.Errorf("mailconn: %s has no address", ep.Host)
	for _, addr := range addrs {
		if conn, err = d.DialContext(ctx, "tcp", addr); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if ep.Security == TLS {
		tc := tls.Client(conn, o.tlsConfig(ep.Host))
		hctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
	return conn, nil
}

// DialIMAP connects and logs in. A refusal of the credentials is
// ErrAuthFailed; anything else is worth retrying later.
func DialIMAP(ctx context.Context, ep Endpoint, cred Credentials, o Options) (*imapclient.Client, error) {
	conn, err := o.dial(ctx, ep)
	if err != nil {
		return nil, fmt.Errorf("imap: connect %s: %w", ep.Addr(), err)
	}
	if o.Silence > 0 {
		conn = watchSilence(conn, o.Silence)
	}
	// Closing the connection when ctx ends ends a STARTTLS or a login stuck
	// on a silent server.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	io := &imapclient.Options{TLSConfig: o.tlsConfig(ep.Host), UnilateralDataHandler: o.UnilateralDataHandler}
	var c *imapclient.Client
	if ep.Security == StartTLS {
		if c, err = imapclient.NewStartTLS(conn, io); err != nil {
			conn.Close()
			return nil, fmt.Errorf("imap: starttls %s: %w", ep.Addr(), err)
		}
	} else {
		c = imapclient.New(conn, io)
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imap: greeting from %s: %w", ep.Addr(), err)
	}
	switch cred.Kind {
	case XOAuth2:
		err = c.Authenticate(NewXOAuth2Client(cred.Username, cred.Secret))
	default:
		err = c.Login(cred.Username, cred.Secret).Wait()
	}
	if err != nil {
		c.Close()
		if isIMAPAuthFailure(err) || errors.Is(err, errTokenRefused) {
			return nil, fmt.Errorf("imap: login to %s as %q: %w", ep.Addr(), cred.Username, ErrAuthFailed)
		}
		return nil, fmt.Errorf("imap: login to %s: %w", ep.Addr(), err)
	}
	return c, nil
}

// isIMAPAuthFailure: a tagged NO to LOGIN or AUTHENTICATE is the server
// refusing the credentials when it says so (RFC 5530 AUTHENTICATIONFAILED,
// AUTHORIZATIONFAILED, EXPIRED; CONTACTADMIN and PRIVACYREQUIRED, which
// the user must act on too) or says nothing (servers without response
// codes). Any other code is temporary: UNAVAILABLE, SERVERBUG, INUSE and
// LIMIT ("too many connections") clear up on their own, and marking the
// account NEEDS_REAUTH for them would stop its sync until the user typed
// the same password again.
func isIMAPAuthFailure(err error) bool {
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo {
		return false
	}
	switch ie.Code {
	case "", imap.ResponseCodeAuthenticationFailed, imap.ResponseCodeAuthorizationFailed, imap.ResponseCodeExpired,
		imap.ResponseCodeContactAdmin, imap.ResponseCodePrivacyRequired:
		return true
	}
	return false
}

// DialSMTP connects to a submission server, says EHLO, upgrades with
// STARTTLS when asked, and authenticates. A refusal of the credentials is
// ErrAuthFailed.
func DialSMTP(ctx context.Context, ep Endpoint, cred Credentials, o Options) (*smtp.Client, error) {
	conn, err := o.dial(ctx, ep)
	if err != nil {
		return nil, fmt.Errorf("smtp: connect %s: %w", ep.Addr(), err)
	}
	// Closing the connection when ctx ends ends a STARTTLS or a login stuck
	// on a silent server.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var c *smtp.Client
	if ep.Security == StartTLS {
		if c, err = smtp.NewClientStartTLS(conn, o.tlsConfig(ep.Host)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("smtp: starttls %s: %w", ep.Addr(), err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	if err := c.Hello("localhost"); err != nil {
		c.Close()
		return nil, fmt.Errorf("smtp: hello %s: %w", ep.Addr(), err)
	}
	if cred.Secret == "" {
		return c, nil
	}
	var auth sasl.Client
	switch cred.Kind {
	case XOAuth2:
		auth = NewXOAuth2Client(cred.Username, cred.Secret)
	default:
		auth = sasl.NewPlainClient("", cred.Username, cred.Secret)
	}
	if err := c.Auth(auth); err != nil {
		c.Close()
		var se *smtp.SMTPError
		if errors.As(err, &se) && (se.Code == 535 || se.Code == 534) || errors.Is(err, errTokenRefused) {
			return nil, fmt.Errorf("smtp: auth to %s as %q: %w", ep.Addr(), cred.Username, ErrAuthFailed)
		}
		return nil, fmt.Errorf("smtp: auth to %s: %w", ep.Addr(), err)
	}
	return c, nil
}

// NewXOAuth2Client is the SASL XOAUTH2 mechanism of Google and Microsoft
// (go-sasl has OAUTHBEARER, which those providers do not all accept).
func NewXOAuth2Client(username, token string) sasl.Client {
	return &xoauth2{username: username, token: token}
}

type xoauth2 struct{ username, token string }

func (a *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + a.username + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
}

// errTokenRefused: the server answered the XOAUTH2 response with its error
// challenge, i.e. it refused the token.
var errTokenRefused = errors.New("xoauth2: the server refused the token")

// Next gets the one challenge XOAUTH2 has: the server's error report (a
// JSON status) on a refused token. It ends the exchange there with
// errTokenRefused (both clients then cancel it) instead of sending the
// empty reply Google's description asks for: go-imap writes an empty reply
// as "=", which IMAP servers answer with BAD (Dovecot: "Invalid base64
// data in continued response"), and BAD reads as an outage, not as a
// token to renew.
func (a *xoauth2) Next(challenge []byte) ([]byte, error) {
	var report struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(challenge, &report) == nil && report.Status != "" {
		return nil, fmt.Errorf("%w (status %s)", errTokenRefused, report.Status)
	}
	return nil, errTokenRefused
}

// ListMailboxes lists the account's mailboxes, with their special-use
// attributes when the server offers them (RFC 6154).
func ListMailboxes(c *imapclient.Client) ([]*imap.ListData, error) {
	var opts *imap.ListOptions
	if c.Caps().Has(imap.CapSpecialUse) {
		opts = &imap.ListOptions{ReturnSpecialUse: true}
	}
	return c.List("", "*", opts).Collect()
}

// SpecialMailbox is the selectable mailbox of list with the special-use
// attribute attr (\Sent, \Archive, \Trash), else NamedMailbox(list,
// fallback).
func SpecialMailbox(list []*imap.ListData, attr imap.MailboxAttr, fallback string) string {
	for _, l := range list {
		if slices.Contains(l.Attrs, attr) && !slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
			return l.Mailbox
		}
	}
	return NamedMailbox(list, fallback)
}

// NamedMailbox is the mailbox of list called name, else one whose name
// differs only in case; "" when there is none.
func NamedMailbox(list []*imap.ListData, name string) string {
	for _, l := range list {
		if l.Mailbox == name {
			return l.Mailbox
		}
	}
	for _, l := range list {
		if strings.EqualFold(l.Mailbox, name) {
			return l.Mailbox
		}
	}
	return ""
}
