package mime

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseBodies(t *testing.T) {
	tests := []struct {
		name     string
		raw      []byte
		text     string
		html     string
		snippet  string
		nAtts    int
		checkFns []func(*testing.T, *Message)
	}{
		{
			name: "plain text",
			raw: eml("From: a@example.com", "To: b@example.com", "Subject: Hi", "Date: Mon, 1 Jul 2024 10:00:00 +0000",
				"Message-ID: <p1@example.com>", "Content-Type: text/plain; charset=utf-8", "", "Hello Bob,", "", "See you.", ""),
			text:    "Hello Bob,\n\nSee you.\n",
			snippet: "Hello Bob, See you.",
		},
		{
			name: "missing content-type is text/plain",
			raw:  eml("From: a@example.com", "Subject: Hi", "", "Just text."),
			text: "Just text.", snippet: "Just text.",
		},
		{
			name: "LF line endings",
			raw:  []byte("From: a@example.com\nSubject: Hi\n\nLine one\nLine two\n"),
			text: "Line one\nLine two\n", snippet: "Line one Line two",
		},
		{
			name: "multipart/alternative text and html",
			raw: eml("From: a@example.com", "Content-Type: multipart/alternative; boundary=b1", "",
				"--b1", "Content-Type: text/plain; charset=utf-8", "", "Plain body", "--b1",
				"Content-Type: text/html; charset=utf-8", "", "<p>HTML body</p>", "--b1--", ""),
			text: "Plain body", html: "<p>HTML body</p>", snippet: "Plain body",
		},
		{
			name: "html only: snippet from html",
			raw: eml("From: a@example.com", "Content-Type: text/html; charset=utf-8", "",
				"<html><head><style>p{x:y}</style><script>alert(1)</script></head><body><p>Hello&nbsp;<b>there</b> &amp; welcome</p></body></html>"),
			html:    "<html><head><style>p{x:y}</style><script>alert(1)</script></head><body><p>Hello&nbsp;<b>there</b> &amp; welcome</p></body></html>",
			snippet: "Hello there & welcome",
		},
		{
			name: "quoted-printable body",
			raw: eml("From: a@example.com", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", "",
				"Tack f=C3=B6r m=C3=B6tet, vi h=C3=B6rs snart. Det h=C3=A4r =", "=C3=A4r en l=C3=A5ng rad.", ""),
			text:    "Tack för mötet, vi hörs snart. Det här är en lång rad.\n",
			snippet: "Tack för mötet, vi hörs snart. Det här är en lång rad.",
		},
		{
			name: "base64 utf-8 body",
			raw: eml("From: a@example.com", "Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: base64", "",
				base64.StdEncoding.EncodeToString([]byte("Dobrý den, děkujeme za objednávku.")), ""),
			text: "Dobrý den, děkujeme za objednávku.", snippet: "Dobrý den, děkujeme za objednávku.",
		},
		{
			name: "iso-8859-1 body",
			raw:  append(eml("From: a@example.com", "Content-Type: text/plain; charset=iso-8859-1", "", ""), []byte("Hej fr\xe5n G\xf6teborg")...),
			text: "Hej från Göteborg", snippet: "Hej från Göteborg",
		},
		{
			name: "windows-1250 body",
			raw:  append(eml("From: a@example.com", "Content-Type: text/plain; charset=windows-1250", "", ""), []byte("\x8e\xe1dost o nab\xeddku")...),
			text: "Žádost o nabídku", snippet: "Žádost o nabídku",
		},
		{
			name: "unknown charset keeps bytes as best-effort UTF-8",
			raw:  append(eml("From: a@example.com", "Content-Type: text/plain; charset=x-klingon-42", "", ""), []byte("ok caf\xe9 and caf\xc3\xa9")...),
			text: "ok caf\uFFFD and café", snippet: "ok caf\uFFFD and café",
		},
		{
			name: "declared utf-8 with invalid bytes",
			raw:  append(eml("From: a@example.com", "Content-Type: text/plain; charset=utf-8", "", ""), []byte("bad \xff\xfe bytes")...),
			text: "bad \uFFFD bytes", snippet: "bad \uFFFD bytes",
		},
		{
			name: "html without charset uses meta charset",
			raw:  append(eml("From: a@example.com", "Content-Type: text/html", "", ""), []byte("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"><p>Sm\xf6rg\xe5s</p>")...),
			html: `<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"><p>Smörgås</p>`, snippet: "Smörgås",
		},
		{
			name: "unknown transfer encoding keeps raw bytes",
			raw:  eml("From: a@example.com", "Content-Type: text/plain", "Content-Transfer-Encoding: x-rot13", "", "uryyb"),
			text: "uryyb", snippet: "uryyb",
		},
		{
			name: "nested multipart: mixed(alternative(text, related(html, image)), pdf)",
			raw: eml("From: a@example.com", "Content-Type: multipart/mixed; boundary=outer", "",
				"--outer", "Content-Type: multipart/alternative; boundary=alt", "",
				"--alt", "Content-Type: text/plain", "", "Nested plain", "--alt",
				"Content-Type: multipart/related; boundary=rel", "",
				"--rel", "Content-Type: text/html", "", `<p>Nested <img src="cid:img1"></p>`, "--rel",
				"Content-Type: image/gif", "Content-ID: <img1>", "Content-Transfer-Encoding: base64", "", "R0lGODlhAQABAAAAACw=", "--rel--",
				"--alt--", "--outer", "Content-Type: application/pdf; name=doc.pdf", "Content-Transfer-Encoding: base64", "",
				"JVBERi0xLjQK", "--outer--", ""),
			text: "Nested plain", html: `<p>Nested <img src="cid:img1"></p>`, snippet: "Nested plain", nAtts: 2,
			checkFns: []func(*testing.T, *Message){func(t *testing.T, m *Message) {
				if a := m.Attachments[0]; a.ContentType != "image/gif" || a.ContentID != "img1" || !a.Inline || a.Size != 14 {
					t.Errorf("image = %+v", a)
				}
				if a := m.Attachments[1]; a.Filename != "doc.pdf" || a.Inline || a.Size != 9 {
					t.Errorf("pdf = %+v", a)
				}
				if !m.HasAttachments {
					t.Error("HasAttachments = false with a PDF")
				}
			}},
		},
		{
			name: "message/rfc822 attachment is not recursed into for the body",
			raw: eml("From: a@example.com", "Content-Type: multipart/mixed; boundary=m", "",
				"--m", "Content-Type: text/plain", "", "Outer text", "--m", "Content-Type: message/rfc822", "",
				"From: inner@example.com", "Subject: =?utf-8?q?Inner_=C3=A4mne?=", "Content-Type: text/plain", "", "Inner text", "--m--", ""),
			text: "Outer text", snippet: "Outer text", nAtts: 1,
			checkFns: []func(*testing.T, *Message){func(t *testing.T, m *Message) {
				a := m.Attachments[0]
				if a.ContentType != "message/rfc822" || a.Filename != "Inner ämne.eml" || a.Inline {
					t.Errorf("rfc822 = %+v", a)
				}
				if !m.HasAttachments {
					t.Error("HasAttachments = false")
				}
			}},
		},
		{
			name: "text parts in multipart/mixed are concatenated",
			raw: eml("From: a@example.com", "Content-Type: multipart/mixed; boundary=m", "",
				"--m", "Content-Type: text/plain", "", "Main text", "--m", "Content-Type: text/plain", "", "List footer", "--m--", ""),
			text: "Main text\n\nList footer", snippet: "Main text List footer",
		},
		{
			name: "text attachment with filename is an attachment",
			raw: eml("From: a@example.com", "Content-Type: multipart/mixed; boundary=m", "",
				"--m", "Content-Type: text/plain", "", "Body", "--m", "Content-Type: text/plain; name=notes.txt", "Content-Disposition: attachment", "", "notes", "--m--", ""),
			text: "Body", snippet: "Body", nAtts: 1,
		},
		{
			name: "truncated multipart keeps what was read",
			raw: eml("From: a@example.com", "Content-Type: multipart/alternative; boundary=b", "",
				"--b", "Content-Type: text/plain", "", "First part survives", "--b", "Content-Type: text/html", "", "<p>cut off mid"),
			text: "First part survives", html: "<p>cut off mid", snippet: "First part survives",
		},
		{
			name: "truncated base64 keeps decoded prefix",
			raw: eml("From: a@example.com", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", "",
				base64.StdEncoding.EncodeToString([]byte("Hello world, this is a test"))[:20]+"!!"),
			text: "Hello world, th", snippet: "Hello world, th", // 20 base64 characters = 15 bytes
		},
		{
			name: "multipart without boundary is read as text",
			raw:  eml("From: a@example.com", "Content-Type: multipart/mixed", "", "no boundary here"),
			text: "no boundary here", snippet: "no boundary here",
		},
		{
			name: "header only, no body",
			raw:  eml("From: a@example.com", "Subject: Only headers"),
		},
		{
			name: "mbox From_ line and garbage header line are skipped",
			raw:  eml("From someone@example.com Mon Jul  1 10:00:00 2024", "From: a@example.com", "this is not a header", "Subject: Kept", "", "Body"),
			text: "Body", snippet: "Body",
			checkFns: []func(*testing.T, *Message){func(t *testing.T, m *Message) {
				if m.Subject != "Kept" || len(m.From) != 1 {
					t.Errorf("Subject = %q, From = %+v", m.Subject, m.From)
				}
			}},
		},
		{
			name: "headers then body without separator",
			raw:  eml("From: a@example.com", "Subject: No blank line", "Body starts here"),
			text: "Body starts here", snippet: "Body starts here",
		},
		{
			name: "NUL bytes are stripped everywhere",
			raw:  eml("From: a@example.com", "Subject: nul\x00here", "Content-Type: text/plain", "", "bo\x00dy"),
			text: "body", snippet: "body",
			checkFns: []func(*testing.T, *Message){func(t *testing.T, m *Message) {
				if m.Subject != "nulhere" {
					t.Errorf("Subject = %q", m.Subject)
				}
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, tt.raw)
			if m.Text != tt.text {
				t.Errorf("Text = %q, want %q", m.Text, tt.text)
			}
			if m.HTML != tt.html {
				t.Errorf("HTML = %q, want %q", m.HTML, tt.html)
			}
			if m.Snippet != tt.snippet {
				t.Errorf("Snippet = %q, want %q", m.Snippet, tt.snippet)
			}
			if len(m.Attachments) != tt.nAtts {
				t.Fatalf("Attachments = %+v, want %d", m.Attachments, tt.nAtts)
			}
			for _, f := range tt.checkFns {
				f(t, m)
			}
		})
	}
}

func TestParseSubject(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"ascii", eml("Subject: Quarterly   report", "", ""), "Quarterly report"},
		{"iso-8859-1 Q", eml("Subject: =?ISO-8859-1?Q?=C5terkoppling_p=E5_offerten?=", "", ""), "Återkoppling på offerten"},
		{"windows-1250 B", eml("Subject: =?windows-1250?B?juFkb3N0IG8gbmFi7WRrdQ==?=", "", ""), "Žádost o nabídku"},
		{"utf-8 B", eml("Subject: =?UTF-8?B?w4V0ZXJrb3BwbGluZw==?=", "", ""), "Återkoppling"},
		{"utf-8 B split over folded words", eml("Subject: =?UTF-8?B?xb3DoWRvc3Qg?=", " =?UTF-8?B?byBuYWLDrWRrdQ==?=", "", ""), "Žádost o nabídku"},
		{"mixed encoded and plain", eml("Subject: Re: =?utf-8?q?=C3=85terkoppling?= (v2)", "", ""), "Re: Återkoppling (v2)"},
		{"unknown charset in encoded word", eml("Subject: =?x-unknown?Q?caf=E9?= ok", "", ""), "caf\uFFFD ok"},
		{"malformed encoded word kept", eml("Subject: =?utf-8?B?###?= x", "", ""), "=?utf-8?B?###?= x"},
		{"8-bit utf-8 header", eml("Subject: Smörgåsbord på fredag", "", ""), "Smörgåsbord på fredag"},
		{"8-bit latin-1 header with top-level charset", append([]byte("Content-Type: text/plain; charset=iso-8859-1\r\nSubject: Sm\xf6rg\xe5s\r\n\r\n"), 'x'), "Smörgås"},
		{"8-bit latin-1 header without charset", []byte("Subject: Sm\xf6rg\xe5s\r\n\r\nx"), "Sm\uFFFDrg\uFFFDs"},
		{"folded", eml("Subject: a very", "\tlong subject", "", ""), "a very long subject"},
		{"missing", eml("From: a@example.com", "", ""), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, tt.raw)
			if m.Subject != tt.want {
				t.Errorf("Subject = %q, want %q", m.Subject, tt.want)
			}
		})
	}
}

func TestParseAttachments(t *testing.T) {
	part := func(headers ...string) []byte {
		lines := []string{"From: a@example.com", "Content-Type: multipart/mixed; boundary=zz", "", "--zz", "Content-Type: text/plain", "", "body", "--zz"}
		lines = append(lines, headers...)
		lines = append(lines, "Content-Transfer-Encoding: base64", "", "aGVsbG8=", "--zz--", "")
		return eml(lines...)
	}
	tests := []struct {
		name    string
		raw     []byte
		want    Attachment
		hasAtts bool
	}{
		{"filename from Content-Disposition", part("Content-Type: application/pdf", `Content-Disposition: attachment; filename="Offert 2024.pdf"`),
			Attachment{Filename: "Offert 2024.pdf", ContentType: "application/pdf", Size: 5}, true},
		{"filename from Content-Type name", part(`Content-Type: application/vnd.ms-excel; name="Prislista.xls"`),
			Attachment{Filename: "Prislista.xls", ContentType: "application/vnd.ms-excel", Size: 5}, true},
		{"disposition filename wins over name", part(`Content-Type: application/pdf; name="a.pdf"`, `Content-Disposition: attachment; filename="b.pdf"`),
			Attachment{Filename: "b.pdf", ContentType: "application/pdf", Size: 5}, true},
		{"RFC 2231 utf-8", part("Content-Type: application/pdf", "Content-Disposition: attachment; filename*=UTF-8''%C5%BD%C3%A1dost.pdf"),
			Attachment{Filename: "Žádost.pdf", ContentType: "application/pdf", Size: 5}, true},
		{"RFC 2231 iso-8859-1", part("Content-Type: application/pdf", "Content-Disposition: attachment; filename*=iso-8859-1'sv'%C5terkoppling.pdf"),
			Attachment{Filename: "Återkoppling.pdf", ContentType: "application/pdf", Size: 5}, true},
		{"RFC 2231 windows-1250 continuation", part("Content-Type: application/pdf", "Content-Disposition: attachment;", " filename*0*=windows-1250''%8E%E1dost;", " filename*1=_2024.pdf"),
			Attachment{Filename: "Žádost_2024.pdf", ContentType: "application/pdf", Size: 5}, true},
		{"RFC 2047 in quoted filename", part("Content-Type: application/pdf", `Content-Disposition: attachment; filename="=?utf-8?B?w4V0ZXJrb3BwbGluZy5wZGY=?="`),
			Attachment{Filename: "Återkoppling.pdf", ContentType: "application/pdf", Size: 5}, true},
		{"path components removed", part("Content-Type: application/octet-stream", `Content-Disposition: attachment; filename="..\\..\\windows\\evil.exe"`),
			Attachment{Filename: "evil.exe", ContentType: "application/octet-stream", Size: 5}, true},
		{"malformed params still yield filename", part("Content-Type: application/pdf; name=a.pdf; name=b.pdf; junk", "Content-Disposition: attachment; filename=report v2.pdf"),
			Attachment{Filename: "report v2.pdf", ContentType: "application/pdf", Size: 5}, true},
		{"disposition without type", part("Content-Type: application/pdf", "Content-Disposition: filename=bare.pdf"),
			Attachment{Filename: "bare.pdf", ContentType: "application/pdf", Size: 5}, true},
		{"inline image referenced from nothing counts", part("Content-Type: image/png; name=sig.png", "Content-Disposition: inline", "Content-ID: <sig@x>"),
			Attachment{Filename: "sig.png", ContentType: "image/png", ContentID: "sig@x", Size: 5, Inline: true}, true},
		{"content-id without disposition is inline", part("Content-Type: image/jpeg", "Content-ID: <photo1>"),
			Attachment{ContentType: "image/jpeg", ContentID: "photo1", Size: 5, Inline: true}, true},
		{"other text type is an attachment", part("Content-Type: text/calendar; method=REQUEST"),
			Attachment{ContentType: "text/calendar", Size: 5}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, tt.raw)
			if m.Text != "body" {
				t.Errorf("Text = %q", m.Text)
			}
			if len(m.Attachments) != 1 {
				t.Fatalf("Attachments = %+v", m.Attachments)
			}
			if got := m.Attachments[0]; got != tt.want {
				t.Errorf("Attachment = %+v\nwant %+v", got, tt.want)
			}
			if m.HasAttachments != tt.hasAtts {
				t.Errorf("HasAttachments = %v, want %v", m.HasAttachments, tt.hasAtts)
			}
		})
	}
}

func TestParseMessageIDs(t *testing.T) {
	tests := []struct {
		name       string
		raw        []byte
		id         string
		inReplyTo  []string
		references []string
	}{
		{"normal", eml("Message-ID: <abc.123@mail.example.com>", "", ""), "abc.123@mail.example.com", nil, nil},
		{"missing", eml("Subject: x", "", ""), "", nil, nil},
		{"bogus: no at sign", eml("Message-ID: <just-a-token>", "", ""), "", nil, nil},
		{"bogus: space inside", eml("Message-ID: <abc def@example.com>", "", ""), "", nil, nil},
		{"bogus: empty brackets", eml("Message-ID: <>", "", ""), "", nil, nil},
		{"no brackets", eml("Message-ID: abc@example.com", "", ""), "abc@example.com", nil, nil},
		{"with comment", eml("Message-ID: <abc@example.com> (added by postmaster)", "", ""), "abc@example.com", nil, nil},
		{"duplicate headers: first wins", eml("Message-ID: <first@example.com>", "Message-ID: <second@example.com>", "", ""), "first@example.com", nil, nil},
		{"references with duplicates and junk", eml(
			"In-Reply-To: <p3@example.com> (Anna's message of Mon, 1 Jul)",
			"References: <p1@example.com> <p2@example.com>", " <p1@example.com> <bogus> <p3@example.com>", "", ""),
			"", []string{"p3@example.com"}, []string{"p1@example.com", "p2@example.com", "p3@example.com"}},
		{"comma separated bare ids", eml("In-Reply-To: p1@example.com, p2@example.com", "", ""), "", []string{"p1@example.com", "p2@example.com"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, tt.raw)
			if m.MessageID != tt.id {
				t.Errorf("MessageID = %q, want %q", m.MessageID, tt.id)
			}
			if !reflect.DeepEqual(m.InReplyTo, tt.inReplyTo) {
				t.Errorf("InReplyTo = %q, want %q", m.InReplyTo, tt.inReplyTo)
			}
			if !reflect.DeepEqual(m.References, tt.references) {
				t.Errorf("References = %q, want %q", m.References, tt.references)
			}
		})
	}
}

func TestNormalizeMessageID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<a@b>", "a@b"},
		{"  <a@b>  ", "a@b"},
		{"a@b", "a@b"},
		{"< a@b >", "a@b"},
		{"<a@[127.0.0.1]>", "a@[127.0.0.1]"},
		{"<CAF=x+y/z@mail.gmail.com>", "CAF=x+y/z@mail.gmail.com"},
		{"", ""},
		{"<>", ""},
		{"<nobrackets", ""},
		{"<a b@c>", ""},
		{"<a@>", ""},
		{"<@b>", ""},
		{"<a\x00b@c>", ""},
		{"<a\tb@c>", ""},
		{"<caf\xe9@x>", ""},
		{"<" + strings.Repeat("x", 1000) + "@y>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := NormalizeMessageID(tt.in); got != tt.want {
				t.Errorf("NormalizeMessageID(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseMessageIDList(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"one", "<a@b>", []string{"a@b"}},
		{"several, folded", "<a@b>\r\n <c@d>\t<e@f>", []string{"a@b", "c@d", "e@f"}},
		{"no spaces between", "<a@b><c@d>", []string{"a@b", "c@d"}},
		{"duplicates keep first position", "<a@b> <c@d> <a@b>", []string{"a@b", "c@d"}},
		{"bogus dropped", "<a@b> <nope> <c d@e> <f@g>", []string{"a@b", "f@g"}},
		{"phrase around id", `Your message of "Mon, 1 Jul" <a@b>`, []string{"a@b"}},
		{"bare ids", "a@b c@d", []string{"a@b", "c@d"}},
		{"unterminated last", "<a@b> <c@d", []string{"a@b", "c@d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseMessageIDList(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseMessageIDList(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseAddresses(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   []Address
	}{
		{"simple", "To: Anna Berg <Anna.Berg@ACME.example>", []Address{{"Anna Berg", "anna.berg@acme.example"}}},
		{"bare", "To: anna@acme.example", []Address{{"", "anna@acme.example"}}},
		{"quoted comma name", `To: "Berg, Anna" <anna@acme.example>, erik@nordlast.se`, []Address{{"Berg, Anna", "anna@acme.example"}, {"", "erik@nordlast.se"}}},
		{"encoded name", "To: =?windows-1250?B?UGV0cmEgTm924WtvduE=?= <petra@zlutykun.cz>", []Address{{"Petra Nováková", "petra@zlutykun.cz"}}},
		{"group", "To: Sales team: anna@acme.example, erik@nordlast.se;", []Address{{"", "anna@acme.example"}, {"", "erik@nordlast.se"}}},
		{"undisclosed recipients", "To: undisclosed-recipients:;", nil},
		{"malformed entry keeps the rest", "To: anna@acme.example, Broken <<>>, Erik Lindqvist <erik@nordlast.se>", []Address{{"", "anna@acme.example"}, {"Erik Lindqvist", "erik@nordlast.se"}}},
		{"unquoted special in name salvaged", "To: Anna (Sales) Berg [ACME] <anna@acme.example>, bob@x.example", []Address{{"Anna (Sales) Berg [ACME]", "anna@acme.example"}, {"", "bob@x.example"}}},
		{"semicolon separated", "To: anna@acme.example; erik@nordlast.se", []Address{{"", "anna@acme.example"}, {"", "erik@nordlast.se"}}},
		{"duplicates dropped", "To: anna@acme.example, ANNA@acme.example", []Address{{"", "anna@acme.example"}}},
		{"8-bit name", "To: Björn Åkesson <bjorn@nordlast.se>", []Address{{"Björn Åkesson", "bjorn@nordlast.se"}}},
		{"garbage only", "To: this is not an address", nil},
		{"trailing comma", "To: anna@acme.example,", []Address{{"", "anna@acme.example"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, eml(tt.header, "", ""))
			if !reflect.DeepEqual(m.To, tt.want) {
				t.Errorf("To = %+v, want %+v", m.To, tt.want)
			}
		})
	}
	t.Run("sender, reply-to, cc, bcc", func(t *testing.T) {
		m := mustParse(t, eml("From: A <a@x.example>", "Sender: S <s@x.example>", "Reply-To: r@x.example", "Cc: c@x.example", "Bcc: b@x.example", "", ""))
		if m.Sender == nil || *m.Sender != (Address{"S", "s@x.example"}) {
			t.Errorf("Sender = %+v", m.Sender)
		}
		if !reflect.DeepEqual(m.ReplyTo, []Address{{"", "r@x.example"}}) || !reflect.DeepEqual(m.Cc, []Address{{"", "c@x.example"}}) ||
			!reflect.DeepEqual(m.Bcc, []Address{{"", "b@x.example"}}) {
			t.Errorf("ReplyTo %+v Cc %+v Bcc %+v", m.ReplyTo, m.Cc, m.Bcc)
		}
	})
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		name, header string
		want         time.Time
	}{
		{"rfc5322", "Date: Tue, 14 May 2024 09:12:01 +0200", time.Date(2024, 5, 14, 7, 12, 1, 0, time.UTC)},
		{"no weekday", "Date: 14 May 2024 09:12:01 +0200", time.Date(2024, 5, 14, 7, 12, 1, 0, time.UTC)},
		{"zone comment", "Date: Tue, 14 May 2024 09:12:01 +0200 (CEST)", time.Date(2024, 5, 14, 7, 12, 1, 0, time.UTC)},
		{"obsolete zone", "Date: Tue, 14 May 2024 07:12:01 GMT", time.Date(2024, 5, 14, 7, 12, 1, 0, time.UTC)},
		{"iso 8601", "Date: 2024-05-14T09:12:01+02:00", time.Date(2024, 5, 14, 7, 12, 1, 0, time.UTC)},
		{"missing", "Subject: x", time.Time{}},
		{"unparseable", "Date: sometime last week", time.Time{}},
		{"empty", "Date:", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, eml(tt.header, "", ""))
			if !m.Date.Equal(tt.want) {
				t.Errorf("Date = %v, want %v", m.Date, tt.want)
			}
			if tt.want.IsZero() != m.Date.IsZero() {
				t.Errorf("Date zero = %v, want %v", m.Date.IsZero(), tt.want.IsZero())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	deep := func(n int) []byte {
		var b strings.Builder
		b.WriteString("From: a@example.com\r\n")
		for i := 0; i < n; i++ {
			b.WriteString("Content-Type: multipart/mixed; boundary=b" + string(rune('a'+i%26)) + strings.Repeat("x", i) + "\r\n\r\n")
			b.WriteString("--b" + string(rune('a'+i%26)) + strings.Repeat("x", i) + "\r\n")
		}
		b.WriteString("Content-Type: text/plain\r\n\r\ndeep\r\n")
		return []byte(b.String())
	}
	many := func(n int) []byte {
		var b strings.Builder
		b.WriteString("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n")
		for i := 0; i < n; i++ {
			b.WriteString("--p\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n")
		}
		b.WriteString("--p--\r\n")
		return []byte(b.String())
	}
	tests := []struct {
		name string
		raw  []byte
		opts Options
		want error // nil: must succeed
	}{
		{"empty", nil, Options{}, ErrEmpty},
		{"whitespace only", []byte(" \r\n\t\r\n"), Options{}, ErrEmpty},
		{"oversize", eml("Subject: x", "", strings.Repeat("a", 200)), Options{MaxSize: 100}, ErrTooLarge},
		{"exactly max size", eml("Subject: x", "", strings.Repeat("a", 86)), Options{MaxSize: 100}, nil},
		{"garbage without header or separator", []byte("this is just some text\nwith two lines"), Options{}, ErrMalformed},
		{"binary garbage", []byte{0x00, 0xff, 0xfe, 0x01, 0x02, '\n', 0x03}, Options{}, ErrMalformed},
		{"separator but no header is a body-only message", []byte("not a header\n\nbody"), Options{}, nil},
		{"leading blank line: empty header", []byte("\r\nbody only"), Options{}, nil},
		{"too deep", deep(25), Options{}, ErrTooComplex},
		{"deep but within MaxDepth", deep(15), Options{}, nil},
		{"custom MaxDepth", deep(5), Options{MaxDepth: 3}, ErrTooComplex},
		{"too many parts", many(600), Options{}, ErrTooComplex},
		{"custom MaxParts", many(10), Options{MaxParts: 5}, ErrTooComplex},
		{"parts within limit", many(100), Options{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.raw, tt.opts)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				checkInvariants(t, m)
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if m != nil {
				t.Errorf("message returned with error")
			}
		})
	}
	t.Run("deep message body is found", func(t *testing.T) {
		m := mustParse(t, deep(15))
		if m.Text != "deep" {
			t.Errorf("Text = %q", m.Text)
		}
	})
}

func TestSnippet(t *testing.T) {
	long := strings.Repeat("Žluťoučký kůň úpěl ďábelské ódy. ", 20) // multi-byte, 33 runes each
	tests := []struct {
		name string
		text string
		html string
		want string
	}{
		{"short kept as is", "Hello", "", "Hello"},
		{"whitespace collapsed", "  Hello \n\n\t world  ", "", "Hello world"},
		{"quoted lines dropped", "Sounds good.\n\n> old text\n> more old text\n", "", "Sounds good."},
		{"english attribution dropped", "Yes.\n\nOn Mon, 1 Jul 2024 at 10:00, Anna <a@x> wrote:\n> Can we meet?\n", "", "Yes."},
		{"swedish attribution dropped", "Ja.\n\nDen 1 juli 2024 kl. 10:00 skrev Anna <a@x>:\n> Kan vi ses?\n", "", "Ja."},
		{"czech attribution dropped", "Ano.\n\nDne 1. 7. 2024 v 10:00 Anna napsal(a):\n> Sejdeme se?\n", "", "Ano."},
		{"czech gmail attribution dropped", "Ano.\n\npo 1. 7. 2024 v 10:00 odesílatel Anna <a@x> napsal:\n> Sejdeme se?\n", "", "Ano."},
		{"german attribution dropped", "Ja.\n\nAm 01.07.2024 um 10:00 schrieb Anna <a@x>:\n> Treffen?\n", "", "Ja."},
		{"wrapped attribution dropped", "Yes.\n\nOn Mon, 1 Jul 2024 at 10:00, Anna Berg <anna@acme.example>\nwrote:\n> Can we meet?\n", "", "Yes."},
		{"wrote: without quote kept", "He wrote: the plan is fine.\nI agree.", "", "He wrote: the plan is fine. I agree."},
		{"outlook separator cuts the rest", "Fine by me.\n\n-----Original Message-----\nFrom: Anna\nSent: Monday\n\nOld text", "", "Fine by me."},
		{"outlook underscore separator", "Fine by me.\n\n________________________________\nFrån: Anna\nSkickat: måndag\n\nGammal text", "", "Fine by me."},
		{"only quoted text falls back to everything", "> quoted only\n> still quoted", "", "> quoted only > still quoted"},
		{"html stripped", "", "<style>x{}</style><p>Hi&nbsp;there &lt;3</p><script>evil()</script>", "Hi there <3"},
		{"html gmail quote dropped", "", `<div>Thanks!</div><div class="gmail_quote"><div class="gmail_attr">On Mon Anna wrote:</div><blockquote>old</blockquote></div>`, "Thanks!"},
		{"html outlook reply header stops", "", `<p>Agreed.</p><div id="divRplyFwdMsg"><b>From:</b> Anna</div><div>old text</div>`, "Agreed."},
		{"html blockquote only falls back", "", `<blockquote>only quoted</blockquote>`, "only quoted"},
		{"zero-width padding removed", "Hello\u200c\u00a0\u200c\u00a0world\u034f\ufeff", "", "Hello world"},
		{"text preferred over html", "from text", "<p>from html</p>", "from text"},
		{"blank text falls back to html", " \n ", "<p>from html</p>", "from html"},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := makeSnippet(tt.text, tt.html); got != tt.want {
				t.Errorf("makeSnippet = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("long multi-byte text is cut to at most 225 runes with ellipsis", func(t *testing.T) {
		got := makeSnippet(long, "")
		n := utf8.RuneCountInString(got)
		if n > SnippetMaxRunes || n < SnippetMaxRunes-30 {
			t.Errorf("snippet has %d runes", n)
		}
		if !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
			t.Errorf("snippet = %q", got)
		}
		if strings.HasSuffix(got, " …") {
			t.Errorf("snippet ends with space before ellipsis: %q", got)
		}
	})
	t.Run("exactly 225 runes is not cut", func(t *testing.T) {
		s := strings.Repeat("ž", SnippetMaxRunes)
		if got := makeSnippet(s, ""); got != s {
			t.Errorf("cut a 225-rune text: %d runes", utf8.RuneCountInString(got))
		}
	})
	t.Run("226 runes without spaces is cut to 224 plus ellipsis", func(t *testing.T) {
		s := strings.Repeat("ž", SnippetMaxRunes+1)
		got := makeSnippet(s, "")
		if want := strings.Repeat("ž", SnippetMaxRunes-1) + "…"; got != want {
			t.Errorf("got %d runes %q", utf8.RuneCountInString(got), got)
		}
	})
	t.Run("4-byte runes", func(t *testing.T) {
		s := strings.Repeat("😀", 300)
		got := makeSnippet(s, "")
		if utf8.RuneCountInString(got) != SnippetMaxRunes || !utf8.ValidString(got) {
			t.Errorf("got %d runes", utf8.RuneCountInString(got))
		}
	})
}

func TestContentHash(t *testing.T) {
	// The copy synced over IMAP from the Sent folder.
	imapCopy := eml(
		"Return-Path: <anna@acme.example>",
		"Received: from client.acme.example by imap.acme.example; Mon, 1 Jul 2024 10:00:01 +0200",
		"X-Mailer: Thunderbird 115",
		"Message-ID: <sent-1@acme.example>",
		"Date: Mon, 1 Jul 2024 10:00:00 +0200",
		"From: Anna Berg <anna@acme.example>",
		"To: Erik Lindqvist <erik@nordlast.se>",
		"Cc: bjorn@nordlast.se",
		"Bcc: acme@bcc.sightline.example",
		"Subject: =?utf-8?q?=C3=85terkoppling?=",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"Hej Erik,   ",
		"",
		"h=C3=A4r kommer offerten.",
		"",
		"",
	)
	// The same message received as a Smart Bcc copy: other Received and
	// X- headers, no Bcc, no Message-ID, LF line endings, another transfer
	// encoding, names written differently.
	bccCopy := []byte("Received: from mx.acme.example by smtp.sightline.example; Mon, 1 Jul 2024 08:00:03 +0000\n" +
		"Received: from client.acme.example by mx.acme.example; Mon, 1 Jul 2024 10:00:02 +0200\n" +
		"X-Spam-Score: 0.1\n" +
		"Date: Mon, 01 Jul 2024 08:00:00 +0000\n" +
		"From: \"Berg, Anna\" <ANNA@acme.example>\n" +
		"To: erik@nordlast.se\n" +
		"Cc: Björn <bjorn@nordlast.se>\n" +
		"Subject: Återkoppling\n" +
		"Content-Type: text/plain; charset=utf-8\n" +
		"Content-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString([]byte("Hej Erik,\r\n\r\nhär kommer offerten.\r\n")) + "\n")
	a := mustParse(t, imapCopy)
	b := mustParse(t, bccCopy)
	if a.MessageID == "" || b.MessageID != "" {
		t.Fatalf("test setup: ids %q %q", a.MessageID, b.MessageID)
	}
	if a.ContentHash != b.ContentHash {
		t.Errorf("copies hash differently:\n%s\n%s", a.ContentHash, b.ContentHash)
	}

	variants := []struct {
		name string
		raw  []byte
	}{
		{"different body", []byte(strings.Replace(string(imapCopy), "offerten", "fakturan", 1))},
		{"different subject", []byte(strings.Replace(string(imapCopy), "=C3=85terkoppling", "Offert", 1))},
		{"different date", []byte(strings.Replace(string(imapCopy), "10:00:00 +0200", "10:00:01 +0200", 1))},
		{"different recipient", []byte(strings.Replace(string(imapCopy), "To: Erik Lindqvist <erik@nordlast.se>", "To: lisa@globex.example", 1))},
		{"different sender", []byte(strings.Replace(string(imapCopy), "From: Anna Berg <anna@acme.example>", "From: jonas@acme.example", 1))},
		{"extra attachment", eml("Date: Mon, 1 Jul 2024 10:00:00 +0200", "From: Anna Berg <anna@acme.example>", "To: Erik Lindqvist <erik@nordlast.se>",
			"Cc: bjorn@nordlast.se", "Subject: =?utf-8?q?=C3=85terkoppling?=", "Content-Type: multipart/mixed; boundary=h", "",
			"--h", "Content-Type: text/plain; charset=utf-8", "", "Hej Erik,", "", "här kommer offerten.", "--h",
			"Content-Type: application/pdf; name=o.pdf", "", "%PDF", "--h--", "")},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			m := mustParse(t, v.raw)
			if m.ContentHash == a.ContentHash {
				t.Errorf("hash equal to the original")
			}
		})
	}
	t.Run("stable across runs", func(t *testing.T) {
		if again := mustParse(t, imapCopy); again.ContentHash != a.ContentHash {
			t.Errorf("hash not deterministic")
		}
	})
}

func TestParseNeverReturnsInvalidStrings(t *testing.T) {
	raw := []byte("From: \xff\xfe <a\x00b@example.com>, Bad\x80Name <c@example.com>\r\n" +
		"To: =?utf-8?B?/w==?= <d@example.com>\r\n" +
		"Subject: \x00\xc3\x28 =?utf-8?q?=FF=00?=\r\n" +
		"Message-ID: <\xff@x>\r\n" +
		"Content-Type: multipart/mixed; boundary=q\r\n\r\n" +
		"--q\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xff\x00\xfe text\r\n" +
		"--q\r\nContent-Type: text/html; charset=utf-16\r\n\r\n\x00<\x00p\x00>\x00\xd8\r\n" +
		"--q\r\nContent-Type: application/x; name=\"\xff\x00.bin\"\r\nContent-ID: <\x00\xff>\r\n\r\nzz\r\n--q--\r\n")
	m := mustParse(t, raw)
	if len(m.From) == 0 || len(m.Attachments) != 1 {
		t.Errorf("From = %+v, Attachments = %+v", m.From, m.Attachments)
	}
}
