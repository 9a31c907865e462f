package mime

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// contentHashVersion is the first line of the hashed form. Change it (and
// re-hash stored messages) whenever the form below changes.
const contentHashVersion = "sightline-mime-content-v1"

// contentHash returns the hex SHA-256 of this exact form, which identifies
// the same message received twice (two IMAP folders, or IMAP sync and a
// Smart Bcc copy):
//
//	sightline-mime-content-v1\n
//	from\t<emails>\n
//	to\t<emails>\n
//	cc\t<emails>\n
//	subject\t<len>\t<Subject>\n
//	date\t<Date as UTC Unix seconds, or "" when zero>\n
//	body\t<kind>\t<len>\t<body>\n
//	attachments\t<count>\n
//	att\t<ContentType>\t<Size>\t<len>\t<Filename>\n    (one line per attachment, in document order)
//
// where <emails> is the field's lower-cased addresses (display names left
// out), de-duplicated, sorted, each written as <len>:<email> and joined
// with ","; <len> is the byte
// length of the value that follows, so no value can forge a field boundary;
// <kind> is "text" when Message.Text is not blank, else "html" with
// Message.HTML; and <body> is that decoded body with CRLF and lone CR turned
// into LF, trailing white space removed from every line and trailing empty
// lines removed. Strings are the sanitized ones (valid UTF-8, no NUL).
//
// Left out on purpose, because they differ between copies of one message:
// Message-ID (a relay may add one), Bcc, Sender, Reply-To, Received,
// Return-Path, Delivered-To, DKIM/ARC/Authentication-Results, every X-*
// header, the MIME structure (boundaries, transfer encodings, charsets: the
// decoded body is hashed) and the attachment bytes (their metadata is).
func contentHash(m *Message) string {
	h := sha256.New()
	write := func(parts ...string) {
		for i, p := range parts {
			if i > 0 {
				h.Write([]byte{'\t'})
			}
			h.Write([]byte(p))
		}
		h.Write([]byte{'\n'})
	}
	write(contentHashVersion)
	write("from", hashEmails(m.From))
	write("to", hashEmails(m.To))
	write("cc", hashEmails(m.Cc))
	write("subject", strconv.Itoa(len(m.Subject)), m.Subject)
	date := ""
	if !m.Date.IsZero() {
		date = strconv.FormatInt(m.Date.UTC().Unix(), 10)
	}
	write("date", date)
	kind, body := "text", m.Text
	if strings.TrimSpace(body) == "" {
		kind, body = "html", m.HTML
	}
	body = normalizeBodyForHash(body)
	write("body", kind, strconv.Itoa(len(body)), body)
	write("attachments", strconv.Itoa(len(m.Attachments)))
	for _, a := range m.Attachments {
		writeAttachment(h, a)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeAttachment(h hash.Hash, a Attachment) {
	h.Write([]byte("att\t" + a.ContentType + "\t" + strconv.FormatInt(a.Size, 10) + "\t" +
		strconv.Itoa(len(a.Filename)) + "\t" + a.Filename + "\n"))
}

func hashEmails(l []Address) string {
	if len(l) == 0 {
		return ""
	}
	es := make([]string, 0, len(l))
	seen := make(map[string]bool, len(l))
	for _, a := range l {
		if a.Email == "" || seen[a.Email] {
			continue
		}
		seen[a.Email] = true
		es = append(es, a.Email)
	}
	sort.Strings(es)
	for i, e := range es {
		es[i] = strconv.Itoa(len(e)) + ":" + e
	}
	return strings.Join(es, ",")
}

// normalizeBodyForHash: CRLF/CR -> LF, trailing white space off every line,
// trailing empty lines off.
func normalizeBodyForHash(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}
