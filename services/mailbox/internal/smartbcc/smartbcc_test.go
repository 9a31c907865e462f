package smartbcc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/sightline/sightline/services/mailbox/internal/store"
)

const testToken = "abcdefgh12345678"

// memStore is an in-memory Store: one company (7) with token testToken and
// a user (70) with address alice@acme.test; Ingest parses like the real one.
type memStore struct {
	mu     sync.Mutex
	down   bool // every call fails like an unreachable database
	stored []memMsg
}

type memMsg struct {
	company, user int64
	subject       string
	size          int
}

var errDown = errors.New("database down")

func (m *memStore) SmartBccCompany(_ context.Context, token string) (int64, error) {
	if token == testToken {
		return 7, nil
	}
	return 0, ErrUnknown
}

func (m *memStore) UserByAddress(_ context.Context, company int64, email string) (int64, error) {
	if company == 7 && email == "alice@acme.test" {
		return 70, nil
	}
	return 0, ErrUnknown
}

func (m *memStore) Ingest(_ context.Context, company, user int64, raw []byte) (store.IngestResult, error) {
	msg, err := Parse(raw)
	if err != nil {
		return store.IngestResult{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return store.IngestResult{}, errDown
	}
	m.stored = append(m.stored, memMsg{company, user, msg.Subject, len(raw)})
	return store.IngestResult{ThreadID: int64(len(m.stored)), MessageID: int64(len(m.stored))}, nil
}

func serve(t *testing.T, st Store, cfg Config) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(st, cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve(lis) }()
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return lis.Addr().String()
}

func code(err error) int {
	var pe interface{ Error() string }
	if err == nil {
		return 250
	}
	pe = err
	var n int
	fmt.Sscanf(pe.Error(), "%d", &n)
	return n
}

const testMsg = "From: alice@acme.test\r\nTo: carol@customer.test\r\nSubject: hi\r\nMessage-ID: <m1@acme.test>\r\n\r\nhello\r\n"

func TestSessionReplies(t *testing.T) {
	st := &memStore{}
	reg := prometheus.NewRegistry()
	addr := serve(t, st, Config{MaxBytes: 4096, Registry: reg})
	send := func(from string, to []string, body string) (step string, err error) {
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Mail(from); err != nil {
			return "mail", err
		}
		for _, r := range to {
			if err := c.Rcpt(r); err != nil {
				return "rcpt", err
			}
		}
		w, err := c.Data()
		if err != nil {
			return "data", err
		}
		if _, err := w.Write([]byte(body)); err != nil {
			return "data", err
		}
		if err := w.Close(); err != nil {
			return "data-end", err
		}
		return "", c.Quit()
	}
	bcc := testToken + "@" + DefaultDomain
	tests := []struct {
		name     string
		from     string
		to       []string
		body     string
		step     string
		wantCode int
	}{
		{"accepted", "Alice@ACME.test", []string{strings.ToUpper(testToken) + "@BCC.sightline.localhost"}, testMsg, "", 250},
		{"unknown token", "alice@acme.test", []string{"zzzzzzzz99999999@" + DefaultDomain}, testMsg, "rcpt", 550},
		{"other domain", "alice@acme.test", []string{testToken + "@example.com"}, testMsg, "rcpt", 550},
		{"unknown sender", "mallory@evil.test", []string{bcc}, testMsg, "rcpt", 550},
		{"bounce sender", "", []string{bcc}, testMsg, "rcpt", 550},
		{"too large", "alice@acme.test", []string{bcc}, testMsg + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 80), "data-end", 552},
		{"malformed", "alice@acme.test", []string{bcc}, "", "data-end", 554},
		{"long line accepted", "alice@acme.test", []string{bcc}, strings.Replace(testMsg, "hello", strings.Repeat("y", 3000), 1), "", 250},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			step, err := send(tc.from, tc.to, tc.body)
			if step != tc.step || code(err) != tc.wantCode {
				t.Fatalf("failed at %q with %v; want %q with %d", step, err, tc.step, tc.wantCode)
			}
		})
	}
	if len(st.stored) != 2 || st.stored[0] != (memMsg{7, 70, "hi", len(testMsg)}) {
		t.Fatalf("stored %+v", st.stored)
	}

	t.Run("too many recipients", func(t *testing.T) {
		to := make([]string, 11)
		for i := range to {
			to[i] = bcc
		}
		step, err := send("alice@acme.test", to, testMsg)
		if step != "rcpt" || code(err) != 452 || !strings.Contains(err.Error(), "4.5.3") {
			t.Fatalf("failed at %q with %v", step, err)
		}
	})
	t.Run("database down", func(t *testing.T) {
		st.mu.Lock()
		st.down = true
		st.mu.Unlock()
		step, err := send("alice@acme.test", []string{bcc}, testMsg)
		if step != "data-end" || code(err) != 451 || !strings.Contains(err.Error(), "4.3.0") {
			t.Fatalf("failed at %q with %v", step, err)
		}
	})

	// Every answer above is counted: accepted by result, refused by reason.
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				got[mf.GetName()+" "+l.GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	for k, v := range map[string]float64{
		"sightline_mailbox_smartbcc_messages_total stored":                2,
		"sightline_mailbox_smartbcc_rejections_total unknown_recipient":   2,
		"sightline_mailbox_smartbcc_rejections_total unknown_sender":      2,
		"sightline_mailbox_smartbcc_rejections_total too_large":           1,
		"sightline_mailbox_smartbcc_rejections_total malformed":           1,
		"sightline_mailbox_smartbcc_rejections_total too_many_recipients": 1,
		"sightline_mailbox_smartbcc_rejections_total temporary_failure":   1,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

// allowed are the replies Data may give (the package documentation's list).
var allowed = map[string]bool{"451 4.3.0": true, "552 5.3.4": true, "554 5.6.0": true, "503 5.5.1": true}

// FuzzSmartBccData feeds arbitrary DATA payloads through a session's Data:
// it never panics and answers only with the documented replies.
func FuzzSmartBccData(f *testing.F) {
	f.Add([]byte(testMsg))
	f.Add([]byte(""))
	f.Add([]byte("\r\n\r\n"))
	f.Add([]byte("Subject: =?utf-8?b?invalid?=\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\n--x--\r\n"))
	files, _ := filepath.Glob("../mime/testdata/*.eml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	st := &memStore{}
	s := New(st, Config{MaxBytes: 64 << 10})
	f.Fuzz(func(t *testing.T, data []byte) {
		ss := s.newSession()
		if err := ss.Mail("alice@acme.test", &gosmtp.MailOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := ss.Rcpt(testToken+"@"+DefaultDomain, &gosmtp.RcptOptions{}); err != nil {
			t.Fatal(err)
		}
		err := ss.Data(bytes.NewReader(data))
		if err == nil {
			return
		}
		var se *gosmtp.SMTPError
		if !errors.As(err, &se) {
			t.Fatalf("Data returned a non-SMTP error %T %v", err, err)
		}
		key := fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		if !allowed[key] {
			t.Fatalf("Data replied %s (%v), not a documented reply", key, err)
		}
		if int64(len(data)) > 64<<10 && se.Code != 552 {
			t.Fatalf("oversize data got %s", key)
		}
	})
}
