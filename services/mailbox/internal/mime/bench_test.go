package mime

import (
	"encoding/base64"
	"strings"
	"testing"
)

// benchMessage is a ~5 KB multipart/mixed message: text and HTML
// alternatives and a base64 PDF attachment.
func benchMessage() []byte {
	text := strings.Repeat("Hej Anna, tack för offerten. Vi återkommer med synpunkter före fredag.\n", 14)
	html := "<html><body>" + strings.Repeat("<p>Hej Anna, tack för offerten. Vi återkommer med synpunkter före fredag.</p>", 14) + "</body></html>"
	att := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("%PDF-1.4 fake content ", 70)))
	var wrapped strings.Builder
	for i := 0; i < len(att); i += 76 {
		wrapped.WriteString(att[i:min(i+76, len(att))])
		wrapped.WriteString("\r\n")
	}
	return eml(
		"Received: from mail.nordlast.se by mx.sightline.example; Wed, 15 May 2024 10:00:00 +0200",
		"Message-ID: <bench-1@mail.nordlast.se>",
		"In-Reply-To: <p1@acme.example>",
		"References: <p0@acme.example> <p1@acme.example>",
		"Date: Wed, 15 May 2024 09:59:58 +0200",
		"From: =?utf-8?q?Erik_Lindqvist?= <erik.lindqvist@nordlast.se>",
		"To: Anna Berg <anna@acme.example>, bjorn@nordlast.se",
		"Subject: =?UTF-8?B?U1Y6IMOFdGVya29wcGxpbmcgcMOlIG9mZmVydGVu?=",
		"MIME-Version: 1.0",
		"Content-Type: multipart/mixed; boundary=mix",
		"",
		"--mix",
		"Content-Type: multipart/alternative; boundary=alt",
		"",
		"--alt",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: 8bit",
		"",
		text,
		"--alt",
		"Content-Type: text/html; charset=utf-8",
		"",
		html,
		"--alt--",
		"--mix",
		"Content-Type: application/pdf; name=\"offert.pdf\"",
		"Content-Disposition: attachment; filename=\"offert.pdf\"",
		"Content-Transfer-Encoding: base64",
		"",
		wrapped.String()+"--mix--",
		"",
	)
}

func BenchmarkParse(b *testing.B) {
	raw := benchMessage()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		m, err := Parse(raw, Options{})
		if err != nil || len(m.Attachments) != 1 {
			b.Fatalf("Parse: %v, %+v", err, m)
		}
	}
}

func TestBenchMessageShape(t *testing.T) {
	raw := benchMessage()
	if len(raw) < 4500 || len(raw) > 5500 {
		t.Errorf("bench message is %d bytes, want ~5 KB", len(raw))
	}
	m := mustParse(t, raw)
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "offert.pdf" || m.Text == "" || m.HTML == "" {
		t.Errorf("unexpected parse: %+v", m)
	}
}
