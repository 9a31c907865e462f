package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// demoMessage is one message of Ada's demo mailbox.
type demoMessage struct {
	folder    string        // "INBOX" or "Sent"
	ago       time.Duration // before the anchor (the company's creation)
	id        string        // Message-ID without brackets
	inReplyTo []string      // the References chain, oldest first; the last is In-Reply-To
	from      string
	to, cc    []string
	subject   string
	body      string
	pdf       string // attachment file name; "" none
}

const (
	addrAda    = "Ada Lovelace <ada@northwind.example>"
	addrBruno  = "Bruno Keller <bruno@northwind.example>"
	addrChloe  = "Chloé Martin <chloe@northwind.example>"
	addrDiego  = "Diego Ramírez <diego@northwind.example>"
	addrHank   = "Hank Scorpio <hank@globex.example>"
	addrPeter  = "Peter Gibbons <peter@initech.example>"
	addrMilton = "Milton Waddams <milton@initech.example>"
	addrWesker = "Albert Wesker <wesker@umbrella.example>"
	addrPepper = "Pepper Potts <pepper@stark.example>"
)

// Subjects the README's walkthrough looks for.
const (
	subjGlobex  = "Globex: pricing for 50 seats"
	subjInitech = "Initech renewal: terms for next year"
	subjLunch   = "Lunch on Friday?"
)

const day = 24 * time.Hour

// messages is Ada's demo mailbox: 12 messages in 7 threads, in INBOX and Sent.
var messages = []demoMessage{
	{folder: "INBOX", ago: 9*day + 6*time.Hour, id: "pricing-50-seats.1@globex.example", from: addrHank, to: []string{addrAda},
		subject: subjGlobex, body: "Hi Ada,\n\nwe are rolling the CRM out to our whole sales floor next quarter: 50 seats.\n" +
			"Could you send us your pricing for that size, with the annual discount?\n\nThanks,\nHank"},
	{folder: "Sent", ago: 9*day + 3*time.Hour, id: "re-pricing-50-seats.2@northwind.example", inReplyTo: []string{"pricing-50-seats.1@globex.example"},
		from: addrAda, to: []string{addrHank}, cc: []string{addrChloe},
		subject: "Re: " + subjGlobex, body: "Hi Hank,\n\nfor 50 seats on the annual plan we can offer 38 EUR per seat and month.\n" +
			"Chloé (in copy) runs the onboarding and can plan the rollout with you.\n\nBest,\nAda"},
	{folder: "INBOX", ago: 8 * day, id: "re-pricing-50-seats.3@globex.example",
		inReplyTo: []string{"pricing-50-seats.1@globex.example", "re-pricing-50-seats.2@northwind.example"},
		from:      addrHank, to: []string{addrAda}, cc: []string{addrChloe},
		subject: "Re: " + subjGlobex, body: "Ada, Chloé,\n\nthat works for us. Our draft purchase order is attached;\n" +
			"legal will sign it once the rollout plan is agreed.\n\nHank", pdf: "Globex-purchase-order-draft.pdf"},

	{folder: "INBOX", ago: 7*day + 5*time.Hour, id: "renewal-terms.1@initech.example", from: addrPeter, to: []string{addrAda},
		subject: subjInitech, body: "Hello Ada,\n\nour contract ends in two months. Before we renew we would like to talk\n" +
			"about the price increase and a 24-month term.\n\nPeter"},
	{folder: "Sent", ago: 7*day + 2*time.Hour, id: "re-renewal-terms.2@northwind.example", inReplyTo: []string{"renewal-terms.1@initech.example"},
		from: addrAda, to: []string{addrPeter},
		subject: "Re: " + subjInitech, body: "Hi Peter,\n\na 24-month term keeps this year's price. I'll send the paperwork next week.\n\nAda"},

	{folder: "INBOX", ago: 6*day + 4*time.Hour, id: "staplers.1@initech.example", from: addrMilton, to: []string{addrAda},
		subject: "Red staplers for the new office", body: "Excuse me, Ada,\n\nwe need 40 red staplers for the new office. Swingline, please.\n\nMilton"},
	{folder: "Sent", ago: 6*day + 3*time.Hour, id: "re-staplers.2@northwind.example", inReplyTo: []string{"staplers.1@initech.example"},
		from: addrAda, to: []string{addrMilton},
		subject: "Re: Red staplers for the new office", body: "Hi Milton,\n\nnoted: 40 red Swingline staplers. Chloé will send a quote.\n\nAda"},

	{folder: "INBOX", ago: 5 * day, id: "questionnaire.1@umbrella.example", from: addrWesker, to: []string{addrAda}, cc: []string{addrBruno},
		subject: "Umbrella: security questionnaire", body: "Ada, Bruno,\n\nbefore the expansion our security team needs the attached\n" +
			"questionnaire answered. A call this week?\n\nA. Wesker"},
	{folder: "Sent", ago: 4*day + 2*time.Hour, id: "re-questionnaire.2@northwind.example", inReplyTo: []string{"questionnaire.1@umbrella.example"},
		from: addrAda, to: []string{addrWesker}, cc: []string{addrBruno},
		subject: "Re: Umbrella: security questionnaire", body: "Albert,\n\nBruno owns the account and will walk your team through it on Thursday.\n\nAda"},

	{folder: "INBOX", ago: 3 * day, id: "lunch.1@northwind.example", from: addrChloe, to: []string{addrAda},
		subject: subjLunch, body: "Ada, lunch on Friday at the Italian place? My treat for the Globex intro.\n\nChloé"},
	{folder: "INBOX", ago: 2 * day, id: "weekly-412@crmweekly.example", from: "CRM Weekly <news@crmweekly.example>", to: []string{addrAda},
		subject: "This week in CRM: pipelines that close", body: "Five habits of teams whose pipelines close. Read on the web."},
	{folder: "INBOX", ago: 1 * day, id: "pilot-kickoff.1@stark.example", from: addrPepper, to: []string{addrAda}, cc: []string{addrDiego},
		subject: "Stark pilot: kickoff", body: "Hi Ada, hi Diego,\n\nthanks for the intro, Ada. Diego, shall we start the pilot on Monday?\n\nPepper"},
}

// raw renders m as an RFC 5322 message dated anchor-m.ago. The same anchor
// gives the same bytes, so a message stored by ingest and the copy synced
// from Dovecot are one message (S3).
func (m demoMessage) raw(anchor time.Time) []byte {
	var b strings.Builder
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("Date", m.date(anchor).Format(time.RFC1123Z))
	h("From", encodeAddr(m.from))
	h("To", encodeAddrs(m.to))
	if len(m.cc) > 0 {
		h("Cc", encodeAddrs(m.cc))
	}
	h("Subject", m.subject)
	h("Message-ID", "<"+m.id+">")
	if n := len(m.inReplyTo); n > 0 {
		h("In-Reply-To", "<"+m.inReplyTo[n-1]+">")
		h("References", "<"+strings.Join(m.inReplyTo, "> <")+">")
	}
	h("MIME-Version", "1.0")
	body := strings.ReplaceAll(m.body, "\n", "\r\n") + "\r\n"
	if m.pdf == "" {
		h("Content-Type", "text/plain; charset=utf-8")
		h("Content-Transfer-Encoding", "8bit")
		b.WriteString("\r\n" + body)
		return []byte(b.String())
	}
	const boundary = "sightline-demo-boundary"
	h("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body)
	b.WriteString("--" + boundary + "\r\n")
	fmt.Fprintf(&b, "Content-Type: application/pdf; name=%q\r\nContent-Disposition: attachment; filename=%q\r\n", m.pdf, m.pdf)
	b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(fakePDF(m.subject))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	return []byte(b.String())
}

func (m demoMessage) date(anchor time.Time) time.Time { return anchor.Add(-m.ago) }

// seen: Ada has read all but the last two days' mail.
func (m demoMessage) seen() bool { return m.folder == "Sent" || m.ago > 2*day }

// fakePDF is a tiny valid PDF with one line of text.
func fakePDF(title string) []byte {
	text := "BT /F1 18 Tf 72 720 Td (" + strings.NewReplacer("(", "", ")", "", "\\", "").Replace(title) + ") Tj ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(text), text),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b strings.Builder
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return []byte(b.String())
}

// encodeAddr writes "Name <addr>" with a non-ASCII name as an RFC 2047 word.
func encodeAddr(a string) string {
	name, rest, ok := strings.Cut(a, " <")
	if !ok {
		return a
	}
	for _, r := range name {
		if r > 127 {
			return "=?utf-8?q?" + qEncode(name) + "?= <" + rest
		}
	}
	return a
}

func encodeAddrs(as []string) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = encodeAddr(a)
	}
	return strings.Join(out, ", ")
}

func qEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c == ' ':
			b.WriteByte('_')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}

// fillDovecot APPENDs the demo messages that the user's IMAP mailbox lacks
// (looked up by Message-ID), so running the seeder again adds nothing. It
// returns how many it appended.
func fillDovecot(ctx context.Context, addr, user, pass string, anchor time.Time) (int, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	c := imapclient.New(conn, nil)
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		return 0, fmt.Errorf("login as %s: %w", user, err)
	}
	appended := 0
	for _, folder := range []string{"INBOX", "Sent"} {
		if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			return appended, fmt.Errorf("select %s: %w", folder, err)
		}
		for _, m := range messages {
			if m.folder != folder {
				continue
			}
			found, err := c.Search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: m.id}}}, nil).Wait()
			if err != nil {
				return appended, fmt.Errorf("search %s: %w", folder, err)
			}
			if len(found.AllSeqNums()) > 0 {
				continue
			}
			raw := m.raw(anchor)
			opts := &imap.AppendOptions{Time: m.date(anchor)}
			if m.seen() {
				opts.Flags = []imap.Flag{imap.FlagSeen}
			}
			cmd := c.Append(folder, int64(len(raw)), opts)
			if _, err := cmd.Write(raw); err != nil {
				return appended, err
			}
			if err := cmd.Close(); err != nil {
				return appended, err
			}
			if _, err := cmd.Wait(); err != nil {
				return appended, fmt.Errorf("append to %s: %w", folder, err)
			}
			appended++
		}
	}
	_ = c.Logout().Wait()
	return appended, nil
}
