// Package tlsconfig builds the TLS configurations of Sightline's gRPC
// servers and clients from PEM files: server certificates (re-read when the
// files change, so that rotated certificates, e.g. from cert-manager, apply
// without a restart), optional client-certificate verification (mTLS), and
// client configurations that verify the server against a CA file and
// present their own certificate.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

// ErrClientCA marks an error of Server that is the client CA file's (not
// the certificate's or the key's).
var ErrClientCA = errors.New("tls: client CA file")

// Server returns a server configuration serving certFile/keyFile. With
// clientCAFile set, every client must present a certificate signed by one
// of its CAs (mTLS).
func Server(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	kp, err := newKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.get() },
		NextProtos:     []string{"h2"},
	}
	if clientCAFile != "" {
		pool, err := loadPool(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrClientCA, err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Client returns a client configuration that verifies the server against
// caFile (empty: the system roots) under serverName (empty: the dialed
// host) and presents certFile/keyFile when set (mTLS).
func Client(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pool, err := loadPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		kp, err := newKeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.get() }
	}
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: CA file %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// recheck is how often the files are looked at for a newer version (a
// variable for tests).
var recheck = 10 * time.Second

// keyPair is a certificate and key read from files, re-read when either
// file's modification time changes. A broken new version keeps the last
// good one.
type keyPair struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	mtime   time.Time
	checked time.Time
}

func newKeyPair(certFile, keyFile string) (*keyPair, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tls: a certificate needs both the certificate file and the key file")
	}
	kp := &keyPair{certFile: certFile, keyFile: keyFile}
	if err := kp.load(); err != nil {
		return nil, err
	}
	return kp, nil
}

func (kp *keyPair) modTime() time.Time {
	var latest time.Time
	for _, f := range []string{kp.certFile, kp.keyFile} {
		if st, err := os.Stat(f); err == nil && st.ModTime().After(latest) {
			latest = st.ModTime()
		}
	}
	return latest
}

func (kp *keyPair) load() error {
	mtime := kp.modTime()
	cert, err := tls.LoadX509KeyPair(kp.certFile, kp.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	kp.cert, kp.mtime = &cert, mtime
	return nil
}

func (kp *keyPair) get() (*tls.Certificate, error) {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if now := time.Now(); now.Sub(kp.checked) >= recheck {
		kp.checked = now
		if !kp.modTime().Equal(kp.mtime) {
			_ = kp.load() // keep serving the last good pair when the new one is broken
		}
	}
	return kp.cert, nil
}

// ClientFlags are the settings of a TLS client, registered under a prefix
// (e.g. "visibility-tls" gives --visibility-tls-ca-file, ...).
type ClientFlags struct {
	Enabled    bool
	CAFile     string
	CertFile   string
	KeyFile    string
	ServerName string
}

// Register defines the flags; what names the server for the help texts.
func (c *ClientFlags) Register(fs *flag.FlagSet, prefix, what string) {
	fs.BoolVar(&c.Enabled, prefix, false, "connect to "+what+" over TLS (implied by the other "+prefix+"-* settings)")
	fs.StringVar(&c.CAFile, prefix+"-ca-file", "", "PEM CA certificates that verify "+what+"; empty: the system roots")
	fs.StringVar(&c.CertFile, prefix+"-cert-file", "", "PEM client certificate presented to "+what+" (mTLS)")
	fs.StringVar(&c.KeyFile, prefix+"-key-file", "", "PEM key of the client certificate")
	fs.StringVar(&c.ServerName, prefix+"-server-name", "", "name expected in "+what+"'s certificate; empty: the dialed host")
}

// Config returns the client configuration, or nil when TLS is off.
func (c *ClientFlags) Config() (*tls.Config, error) {
	if !c.Enabled && c.CAFile == "" && c.CertFile == "" && c.KeyFile == "" && c.ServerName == "" {
		return nil, nil
	}
	return Client(c.CAFile, c.CertFile, c.KeyFile, c.ServerName)
}
