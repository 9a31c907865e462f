package mime

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// eml joins lines with CRLF, as a message on the wire.
func eml(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n"))
}

type labeled struct{ name, value string }

// allStrings lists every string Parse returns, labelled for messages.
func allStrings(m *Message) []labeled {
	out := []labeled{
		{"MessageID", m.MessageID},
		{"Subject", m.Subject},
		{"Text", m.Text},
		{"HTML", m.HTML},
		{"Snippet", m.Snippet},
		{"ContentHash", m.ContentHash},
	}
	for i, s := range m.InReplyTo {
		out = append(out, labeled{fmt.Sprintf("InReplyTo[%d]", i), s})
	}
	for i, s := range m.References {
		out = append(out, labeled{fmt.Sprintf("References[%d]", i), s})
	}
	addrs := map[string][]Address{"From": m.From, "ReplyTo": m.ReplyTo, "To": m.To, "Cc": m.Cc, "Bcc": m.Bcc}
	if m.Sender != nil {
		addrs["Sender"] = []Address{*m.Sender}
	}
	for name, l := range addrs {
		for i, a := range l {
			out = append(out, labeled{fmt.Sprintf("%s[%d].Name", name, i), a.Name},
				labeled{fmt.Sprintf("%s[%d].Email", name, i), a.Email})
		}
	}
	for i, a := range m.Attachments {
		out = append(out, labeled{fmt.Sprintf("Attachments[%d].Filename", i), a.Filename},
			labeled{fmt.Sprintf("Attachments[%d].ContentType", i), a.ContentType},
			labeled{fmt.Sprintf("Attachments[%d].ContentID", i), a.ContentID})
	}
	return out
}

// checkInvariants are the properties every successful Parse must have.
func checkInvariants(t testing.TB, m *Message) {
	t.Helper()
	for _, l := range allStrings(m) {
		if !utf8.ValidString(l.value) {
			t.Errorf("%s is not valid UTF-8: %q", l.name, l.value)
		}
		if strings.IndexByte(l.value, 0) >= 0 {
			t.Errorf("%s contains NUL: %q", l.name, l.value)
		}
	}
	if n := utf8.RuneCountInString(m.Snippet); n > SnippetMaxRunes {
		t.Errorf("Snippet has %d runes, max %d", n, SnippetMaxRunes)
	}
	if len(m.ContentHash) != 64 {
		t.Errorf("ContentHash %q is not hex SHA-256", m.ContentHash)
	}
	for _, a := range append(append(append(append(append([]Address{}, m.From...), m.To...), m.Cc...), m.Bcc...), m.ReplyTo...) {
		if a.Email != strings.ToLower(a.Email) || a.Email != strings.TrimSpace(a.Email) {
			t.Errorf("email not normalized: %q", a.Email)
		}
	}
}

func isSentinel(err error) bool {
	return errors.Is(err, ErrEmpty) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooComplex)
}

func mustParse(t *testing.T, raw []byte) *Message {
	t.Helper()
	m, err := Parse(raw, Options{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checkInvariants(t, m)
	return m
}
