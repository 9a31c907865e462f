package compose_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sightline/sightline/services/mailbox/internal/compose"
	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/threading"
)

var date = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func original() compose.Original {
	return compose.Original{
		MessageID:  "orig@customer.test",
		References: []string{"root@customer.test", "mid@acme.test"},
		Subject:    "Re: Contract",
		From:       []compose.Address{{Name: "Carol Customer", Email: "carol@customer.test"}},
		To:         []compose.Address{{Name: "Alice", Email: "alice@acme.test"}, {Email: "dave@customer.test"}},
		Cc:         []compose.Address{{Email: "erin@partner.test"}, {Email: "ALICE@acme.test"}},
		Date:       date,
		Text:       "Please sign.\n\n> earlier text\nThanks",
	}
}

func parse(t *testing.T, raw []byte) *mime.Message {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Fatalf("bare LF in the message:\n%s", raw)
	}
	m, err := mime.Parse(raw, mime.Options{})
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	return m
}

func emails(l []mime.Address) []string {
	out := make([]string, len(l))
	for i, a := range l {
		out[i] = a.Email
	}
	return out
}

func addrEmails(l []compose.Address) []string {
	out := make([]string, len(l))
	for i, a := range l {
		out[i] = a.Email
	}
	return out
}

func TestRecipients_ByMode(t *testing.T) {
	own := []string{"alice@acme.test"}
	withReplyTo := original()
	withReplyTo.ReplyTo = []compose.Address{{Email: "sales@customer.test"}}
	fromSelf := original()
	fromSelf.From = []compose.Address{{Email: "alice@acme.test"}}
	for _, tc := range []struct {
		name       string
		mode       compose.Mode
		orig       compose.Original
		addTo      []string
		addCc      []string
		wantTo, cc []string
	}{
		{"reply goes to From", compose.Reply, original(), nil, nil, []string{"carol@customer.test"}, nil},
		{"reply goes to Reply-To", compose.Reply, withReplyTo, nil, nil, []string{"sales@customer.test"}, nil},
		{"reply adds recipients", compose.Reply, original(), []string{"x@y.test", "carol@customer.test"}, []string{"z@y.test"},
			[]string{"carol@customer.test", "x@y.test"}, []string{"z@y.test"}},
		{"reply all: everyone but me", compose.ReplyAll, original(), nil, nil,
			[]string{"carol@customer.test", "dave@customer.test"}, []string{"erin@partner.test"}},
		{"reply all with Reply-To", compose.ReplyAll, withReplyTo, nil, nil,
			[]string{"sales@customer.test", "dave@customer.test"}, []string{"erin@partner.test"}},
		{"reply to my own message goes to its recipients", compose.Reply, fromSelf, nil, nil,
			[]string{"dave@customer.test"}, nil},
		{"forward: only the given ones", compose.Forward, original(), []string{"frank@else.test"}, []string{"erin@partner.test"},
			[]string{"frank@else.test"}, []string{"erin@partner.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to, cc := compose.Recipients(tc.mode, tc.orig, own, tc.addTo, tc.addCc)
			if got := addrEmails(to); !slices.Equal(got, tc.wantTo) {
				t.Errorf("to %v, want %v", got, tc.wantTo)
			}
			if got := addrEmails(cc); !slices.Equal(got, tc.cc) {
				t.Errorf("cc %v, want %v", got, tc.cc)
			}
		})
	}
}

func TestSubject_PrefixesDoNotStack(t *testing.T) {
	for _, tc := range []struct {
		mode     compose.Mode
		in, want string
	}{
		{compose.Reply, "Contract", "Re: Contract"},
		{compose.Reply, "Re: Contract", "Re: Contract"},
		{compose.Reply, "RE: re: Fwd: Contract", "Re: Contract"},
		{compose.Reply, "AW: SV: Offert", "Re: Offert"},
		{compose.Reply, "Re[3]: Contract", "Re: Contract"},
		{compose.Reply, "[EXT] Re: Contract", "Re: Contract"},
		{compose.Reply, "Meeting: agenda", "Re: Meeting: agenda"},
		{compose.Reply, "Re: Meeting: agenda", "Re: Meeting: agenda"},
		{compose.Forward, "Re: Contract", "Fwd: Contract"},
		{compose.Forward, "Fwd: Fwd: Smlouva č. 5", "Fwd: Smlouva č. 5"},
		{compose.Reply, "", "Re:"},
		{compose.Reply, "Re:", "Re:"},
		{compose.Reply, "Line\r\nbreak", "Re: Line break"},
	} {
		got := compose.Subject(tc.mode, tc.in)
		if got != tc.want {
			t.Errorf("Subject(%d, %q) = %q, want %q", tc.mode, tc.in, got, tc.want)
		}
		if tc.in != "" && threading.NormalizeSubject(got) != threading.NormalizeSubject(tc.in) {
			t.Errorf("%q does not thread with %q", got, tc.in)
		}
	}
}

func TestBuild_ReplyHeadersAndQuote(t *testing.T) {
	msg, err := compose.Build(compose.Draft{Mode: compose.Reply, From: compose.Address{Name: "Alice Åström", Email: "alice@acme.test"},
		Own: []string{"alice@acme.test"}, Text: "Signed, see you.", Date: date.Add(time.Hour)}, original())
	if err != nil {
		t.Fatal(err)
	}
	m := parse(t, msg.Raw)
	if m.Subject != "Re: Contract" {
		t.Errorf("subject %q", m.Subject)
	}
	if len(m.From) != 1 || m.From[0].Name != "Alice Åström" || m.From[0].Email != "alice@acme.test" {
		t.Errorf("from %+v", m.From)
	}
	if got := emails(m.To); !slices.Equal(got, []string{"carol@customer.test"}) || len(m.Cc) != 0 {
		t.Errorf("to %v cc %v", got, m.Cc)
	}
	if !slices.Equal(m.InReplyTo, []string{"orig@customer.test"}) {
		t.Errorf("In-Reply-To %v", m.InReplyTo)
	}
	if want := []string{"root@customer.test", "mid@acme.test", "orig@customer.test"}; !slices.Equal(m.References, want) {
		t.Errorf("References %v, want %v", m.References, want)
	}
	if m.MessageID != msg.MessageID || !strings.HasSuffix(m.MessageID, "@acme.test") {
		t.Errorf("Message-ID %q (composed %q)", m.MessageID, msg.MessageID)
	}
	if !m.Date.Equal(date.Add(time.Hour)) {
		t.Errorf("date %v", m.Date)
	}
	want := "Signed, see you.\n\nOn Mon, 2 Mar 2026 at 10:00 +0000, Carol Customer <carol@customer.test> wrote:\n" +
		"> Please sign.\n>\n>> earlier text\n> Thanks\n"
	if m.Text != want {
		t.Errorf("text:\n%q\nwant\n%q", m.Text, want)
	}
	// The snippet is the new text only (the quote is recognized).
	if m.Snippet != "Signed, see you." {
		t.Errorf("snippet %q", m.Snippet)
	}
	if !bytes.Contains(msg.Raw, []byte("From: =?utf-8?")) {
		t.Errorf("the non-ASCII display name is not RFC 2047 encoded:\n%s", msg.Raw)
	}
	if got := msg.Recipients(); !slices.Equal(got, []string{"carol@customer.test"}) {
		t.Errorf("envelope %v", got)
	}
}

func TestBuild_NonASCIISubjectAndBody(t *testing.T) {
	orig := original()
	orig.Subject = "Smlouva č. 5 – podpis"
	orig.Text = "Dobrý den, posílám smlouvu.\n" + strings.Repeat("Dlouhý řádek ", 20)
	msg, err := compose.Build(compose.Draft{Mode: compose.ReplyAll, From: compose.Address{Email: "alice@acme.test"},
		Own: []string{"alice@acme.test"}, Text: "Děkuji, podepíšu zítra. 😀", Date: date}, orig)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range bytes.Split(msg.Raw, []byte("\r\n")) {
		if len(line) > 998 {
			t.Fatalf("line %d is %d bytes", i, len(line))
		}
		for _, b := range line {
			if b >= 0x80 {
				t.Fatalf("8-bit byte on line %d: %q", i, line)
			}
		}
	}
	m := parse(t, msg.Raw)
	if m.Subject != "Re: Smlouva č. 5 – podpis" {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.HasPrefix(m.Text, "Děkuji, podepíšu zítra. 😀\n\n") || !strings.Contains(m.Text, "> Dobrý den, posílám smlouvu.\n") {
		t.Errorf("text %q", m.Text)
	}
	if got := emails(m.To); !slices.Equal(got, []string{"carol@customer.test", "dave@customer.test"}) {
		t.Errorf("to %v", got)
	}
	if got := emails(m.Cc); !slices.Equal(got, []string{"erin@partner.test"}) {
		t.Errorf("cc %v", got)
	}
}

func TestBuild_ForwardBlockAndAttachments(t *testing.T) {
	raw := []byte("From: Carol <carol@customer.test>\r\nTo: alice@acme.test\r\nSubject: Offer\r\nMessage-ID: <orig@customer.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n" +
		"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n" +
		"--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>See attached.</p>\r\n--b2--\r\n" +
		"--b1\r\nContent-Type: application/pdf; name=\"offer.pdf\"\r\nContent-Disposition: attachment; filename*=utf-8''Offert%20%C3%A5.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCg==\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nSm=F6rg=E5s\r\n" +
		"--b1--\r\n")
	atts, err := compose.ExtractAttachments(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 2 || atts[0].Filename != "Offert å.pdf" || atts[1].Filename != "notes.txt" {
		t.Fatalf("attachments %+v", atts)
	}
	pdf := []byte("%PDF-1.4\n%\xc3\xa4\xc3\xbc\xc3\xb6\xc3\x9f\n")
	if !bytes.Equal(atts[0].Data, pdf) || !bytes.Equal(atts[1].Data, []byte("Sm\xf6rg\xe5s")) {
		t.Fatalf("data %q / %q", atts[0].Data, atts[1].Data)
	}

	orig := original()
	orig.Subject = "Offer"
	orig.Text = "See attached."
	msg, err := compose.Build(compose.Draft{Mode: compose.Forward, From: compose.Address{Name: "Alice", Email: "alice@acme.test"},
		Own: []string{"alice@acme.test"}, To: []string{"frank@else.test"}, Text: "FYI", Date: date, Attachments: atts}, orig)
	if err != nil {
		t.Fatal(err)
	}
	m := parse(t, msg.Raw)
	if m.Subject != "Fwd: Offer" || !slices.Equal(emails(m.To), []string{"frank@else.test"}) || len(m.Cc) != 0 {
		t.Errorf("subject %q to %v cc %v", m.Subject, m.To, m.Cc)
	}
	for _, want := range []string{"FYI\n\n---------- Forwarded message ---------\n", "From: Carol Customer <carol@customer.test>\n",
		"Subject: Offer\n", "To: Alice <alice@acme.test>, dave@customer.test\n", "\nSee attached.\n"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if len(m.Attachments) != 2 || m.Attachments[0].Filename != "Offert å.pdf" || m.Attachments[0].ContentType != "application/pdf" ||
		m.Attachments[1].Filename != "notes.txt" {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	again, err := compose.ExtractAttachments(msg.Raw)
	if err != nil || len(again) != 2 || !bytes.Equal(again[0].Data, pdf) || !bytes.Equal(again[1].Data, atts[1].Data) {
		t.Fatalf("round trip: %v %+v", err, again)
	}
	if !slices.Equal(m.InReplyTo, []string{"orig@customer.test"}) {
		t.Errorf("a forward refers to the original too (threading): %v", m.InReplyTo)
	}
}

func TestBuild_Errors(t *testing.T) {
	_, err := compose.Build(compose.Draft{Mode: compose.Forward, From: compose.Address{Email: "alice@acme.test"}, Date: date}, original())
	if !errors.Is(err, compose.ErrNoRecipients) {
		t.Errorf("forward without recipients: %v", err)
	}
	noSender := original()
	noSender.From = nil
	_, err = compose.Build(compose.Draft{Mode: compose.Reply, From: compose.Address{Email: "alice@acme.test"}, Date: date}, noSender)
	if !errors.Is(err, compose.ErrNoRecipients) {
		t.Errorf("reply without a sender: %v", err)
	}
	if _, err := compose.Build(compose.Draft{Mode: 9, From: compose.Address{Email: "a@b.test"}}, original()); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestReferences_Bounded(t *testing.T) {
	orig := compose.Original{MessageID: "last@x"}
	for i := range 50 {
		orig.References = append(orig.References, strings.Repeat("r", 3)+string(rune('a'+i%26))+string(rune('a'+i/26))+"@x")
	}
	refs := compose.References(orig)
	if len(refs) != 20 || refs[0] != orig.References[0] || refs[19] != "last@x" {
		t.Fatalf("references %v", refs)
	}
	if got := compose.References(compose.Original{MessageID: "bad id"}); len(got) != 0 {
		t.Errorf("an id with a space is dropped: %v", got)
	}
}

// The quote line's date does not depend on the zone the time is in (the
// database hands it over in the server's local zone).
func TestQuoteDateIsUTC(t *testing.T) {
	cet := time.Date(2026, 3, 2, 11, 0, 0, 0, time.FixedZone("CET", 3600))
	body := compose.Body(compose.Reply, "Thanks", compose.Original{Date: cet, Text: "Hi",
		From: []compose.Address{{Name: "Carol", Email: "carol@customer.test"}}})
	if !strings.Contains(body, "On Mon, 2 Mar 2026 at 10:00 +0000, Carol") {
		t.Fatalf("quote line in another zone:\n%s", body)
	}
}

// A subject that looks like an encoded word is sent encoded, so that the
// recipient reads it as it is, and long ones stay within 75 characters a word.
func TestSubjectLikeAnEncodedWordKeepsItsText(t *testing.T) {
	for _, subject := range []string{"=?utf-8?q?x?=", "Price =?ISO-8859-1?Q?caf=E9?= and " + strings.Repeat("ä =?", 40)} {
		msg, err := compose.Build(compose.Draft{Mode: compose.Reply, From: compose.Address{Email: "alice@acme.test"},
			Own: []string{"alice@acme.test"}, To: []string{"x@y.test"}, Date: date}, compose.Original{Subject: subject})
		if err != nil {
			t.Fatal(err)
		}
		m, err := mime.Parse(msg.Raw, mime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "Re: "+subject {
			t.Fatalf("subject %q, want %q\n%s", m.Subject, "Re: "+subject, msg.Raw)
		}
		for _, w := range strings.Fields(string(msg.Raw[:bytes.Index(msg.Raw, []byte("\r\n\r\n"))])) {
			if len(w) > 75 {
				t.Fatalf("an encoded word of %d characters: %s", len(w), w)
			}
		}
	}
}

func FuzzCompose(f *testing.F) {
	f.Add("Re: Contract", "Carol Ö", "carol@customer.test", "Hello\n> quoted", "Thanks", "orig@x", uint8(1))
	f.Add("", "", "", "", "", "", uint8(3))
	f.Add("Fwd: [EXT] AW: x", "a\r\nb", "a@b", "\r\n\r\n", "😀", "<a@b>", uint8(2))
	f.Add("=?utf-8?q?x?=", "", "a@b", "", "", "a@b", uint8(1)) // looks like an encoded word
	f.Fuzz(func(t *testing.T, subject, name, email, origText, text, id string, mode uint8) {
		orig := compose.Original{MessageID: id, Subject: subject, Text: origText, Date: date,
			From: []compose.Address{{Name: name, Email: email}}, To: []compose.Address{{Email: "alice@acme.test"}}}
		d := compose.Draft{Mode: compose.Mode(mode%3 + 1), From: compose.Address{Name: name, Email: "alice@acme.test"},
			Own: []string{"alice@acme.test"}, To: []string{"x@y.test"}, Text: text, Date: date}
		msg, err := compose.Build(d, orig)
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		m, err := mime.Parse(msg.Raw, mime.Options{})
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, msg.Raw)
		}
		if m.MessageID != msg.MessageID {
			t.Fatalf("Message-ID %q, composed %q", m.MessageID, msg.MessageID)
		}
		if threading.NormalizeSubject(m.Subject) != threading.NormalizeSubject(compose.StripPrefixes(subject)) &&
			strings.ToValidUTF8(subject, "") == subject && !strings.ContainsFunc(subject, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Fatalf("subject %q from %q does not thread", m.Subject, subject)
		}
	})
}
