package tlsconfig

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/sightline/sightline/pkg/tlsconfig/tlstest"
)

// A renewed certificate written over the files is served without a
// restart; a broken write keeps the last good one.
func TestServerCertificateReloads(t *testing.T) {
	old := recheck
	recheck = 0
	t.Cleanup(func() { recheck = old })

	ca := tlstest.NewCA(t, "ca")
	first := ca.Server(t, "first")
	cfg, err := Server(first.CertFile, first.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := cfg.GetCertificate(nil)

	second := ca.Server(t, "second")
	copyFile(t, second.CertFile, first.CertFile)
	copyFile(t, second.KeyFile, first.KeyFile)
	later := time.Now().Add(time.Minute)
	for _, f := range []string{first.CertFile, first.KeyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	c2, _ := cfg.GetCertificate(nil)
	if bytes.Equal(c1.Certificate[0], c2.Certificate[0]) {
		t.Fatal("the renewed certificate was not picked up")
	}

	if err := os.WriteFile(first.CertFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := later.Add(time.Minute)
	if err := os.Chtimes(first.CertFile, broken, broken); err != nil {
		t.Fatal(err)
	}
	c3, err := cfg.GetCertificate(nil)
	if err != nil || !bytes.Equal(c3.Certificate[0], c2.Certificate[0]) {
		t.Fatalf("a broken file replaced the last good certificate (%v)", err)
	}
}

func TestHalfAPairIsAnError(t *testing.T) {
	if _, err := Server("cert.pem", "", ""); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
	if _, err := Client("/nonexistent/ca.pem", "", "", ""); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
