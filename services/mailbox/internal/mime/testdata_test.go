package mime

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestParseTestdata checks the realistic samples in testdata/ against
// hand-written expectations.
func TestParseTestdata(t *testing.T) {
	type want struct {
		messageID    string
		inReplyTo    []string
		references   []string
		subject      string
		from         []Address
		to           []Address
		cc           []Address
		date         time.Time
		textHas      []string
		textNot      []string
		htmlHas      []string
		atts         []Attachment
		hasAtts      bool
		snippet      string
		snippetNotIn []string
	}
	cest := time.FixedZone("", 2*3600)
	tests := []struct {
		file string
		want want
	}{
		{"plain_sv_latin1.eml", want{
			messageID: "20240514071201.3F2A@mail.nordlast.se",
			subject:   "Återkoppling på offerten",
			from:      []Address{{Name: "Björn Åkesson", Email: "bjorn.akesson@nordlast.se"}},
			to:        []Address{{Name: "Anna Berg", Email: "anna@acme.example"}},
			cc:        []Address{{Name: "Lindqvist, Erik", Email: "erik.lindqvist@nordlast.se"}},
			date:      time.Date(2024, 5, 14, 9, 12, 1, 0, cest),
			textHas:   []string{"Tack för offerten.", "Björn Åkesson\nInköpschef"},
			snippet:   "Hej Anna, Tack för offerten. Vi återkommer med synpunkter på prissättningen före fredag. Kan ni även skicka en uppdaterad tidplan? Med vänliga hälsningar Björn Åkesson Inköpschef, Nordlast AB",
		}},
		{"alternative_cz_cp1250.eml", want{
			messageID: "CAF3x9=kQ1b@mail.zlutykun.cz",
			subject:   "Žádost o cenovou nabídku",
			from:      []Address{{Name: "Petra Nováková", Email: "petra.novakova@zlutykun.cz"}},
			to:        []Address{{Email: "sales@acme.example"}},
			date:      time.Date(2024, 6, 3, 14, 5, 9, 0, cest),
			textHas:   []string{"prosíme o zaslání cenové nabídky", "Žlutý kůň s.r.o."},
			htmlHas:   []string{"<b>40 licencí</b>"},
			snippet:   "Dobrý den, prosíme o zaslání cenové nabídky na 40 licencí. Děkujeme. Petra Nováková Žlutý kůň s.r.o.",
		}},
		{"mixed_attachments.eml", want{
			messageID:  "att-001@mail.nordlast.se",
			inReplyTo:  []string{"20240514071201.3F2A@mail.nordlast.se"},
			references: []string{"20240514071201.3F2A@mail.nordlast.se"},
			subject:    "SV: Återkoppling på offerten",
			from:       []Address{{Name: "Erik Lindqvist", Email: "erik.lindqvist@nordlast.se"}},
			to:         []Address{{Name: "Anna Berg", Email: "anna@acme.example"}, {Name: "Bjorn Akesson", Email: "bjorn.akesson@nordlast.se"}},
			date:       time.Date(2024, 5, 15, 9, 59, 58, 0, cest),
			textHas:    []string{"Bifogat finns avtalsutkastet och prislistan."},
			htmlHas:    []string{"<p>/Erik</p>"},
			atts: []Attachment{
				{Filename: "Avtalsutkast för granskning.pdf", ContentType: "application/pdf", Size: 552},
				{Filename: "prislista.csv", ContentType: "text/csv", Size: 34},
				{Filename: "Offert_Åkesson.docx", ContentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", Size: 21},
			},
			hasAtts: true,
			snippet: "Hej Anna, Bifogat finns avtalsutkastet och prislistan. /Erik",
		}},
		{"related_inline.eml", want{
			messageID: "inline-7@icloud.example",
			subject:   "Logo proposal",
			textHas:   []string{"Here is the new logo, inline."},
			htmlHas:   []string{`<img src="cid:logo-1@globex.example"`},
			atts:      []Attachment{{Filename: "logo.png", ContentType: "image/png", ContentID: "logo-1@globex.example", Size: 53, Inline: true}},
			hasAtts:   false, // the only attachment is an image embedded in the HTML
			snippet:   "Here is the new logo, inline. Lisa",
		}},
		{"forward_rfc822.eml", want{
			messageID: "fwd-42@acme.example",
			subject:   "Fwd: Logo proposal",
			textHas:   []string{"Jonas, see the forwarded mail below."},
			textNot:   []string{"inner HTML"},
			atts:      []Attachment{{Filename: "Logo proposal.eml", ContentType: "message/rfc822", Size: 263, Inline: true}},
			hasAtts:   true,
			snippet:   "Jonas, see the forwarded mail below.",
		}},
		{"reply_quoted.eml", want{
			messageID:  "CAJ+reply-3@mail.gmail.com", // first of two Message-ID headers
			inReplyTo:  []string{"fwd-42@acme.example"},
			references: []string{"inline-7@icloud.example", "fwd-42@acme.example"}, // duplicate dropped
			subject:    "Re: Fwd: Logo proposal",
			cc:         []Address{{Email: "lisa@globex.example"}},
			textHas:    []string{"> Jonas, see the forwarded mail below."},
			snippet:    "Looks great, let's go with it. I'll tell the printer on Monday.",
		}},
		{"html_only_newsletter.eml", want{
			subject:      "Your May update – résumé & more",
			from:         []Address{{Name: "Globex News", Email: "news@globex.example"}},
			htmlHas:      []string{"<h1>Caf&eacute;"},
			snippet:      "Café résumé & more Our May update: new pricing – 20% off.",
			snippetNotIn: []string{"tracking", "display:none", "Newsletter", "hidden comment", "\u200c"},
		}},
		{"outlook_reply.eml", want{
			subject: "RE: Återkoppling på offerten",
			textHas: []string{"-----Original Message-----", "Hej Anna, tack för offerten."},
			snippet: "Hi Björn, the new timeline is attached.",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			m := mustParse(t, raw)
			w := tt.want
			if w.messageID != "" && m.MessageID != w.messageID {
				t.Errorf("MessageID = %q, want %q", m.MessageID, w.messageID)
			}
			if w.inReplyTo != nil && !reflect.DeepEqual(m.InReplyTo, w.inReplyTo) {
				t.Errorf("InReplyTo = %q, want %q", m.InReplyTo, w.inReplyTo)
			}
			if w.references != nil && !reflect.DeepEqual(m.References, w.references) {
				t.Errorf("References = %q, want %q", m.References, w.references)
			}
			if m.Subject != w.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, w.subject)
			}
			if w.from != nil && !reflect.DeepEqual(m.From, w.from) {
				t.Errorf("From = %+v, want %+v", m.From, w.from)
			}
			if w.to != nil && !reflect.DeepEqual(m.To, w.to) {
				t.Errorf("To = %+v, want %+v", m.To, w.to)
			}
			if w.cc != nil && !reflect.DeepEqual(m.Cc, w.cc) {
				t.Errorf("Cc = %+v, want %+v", m.Cc, w.cc)
			}
			if !w.date.IsZero() && !m.Date.Equal(w.date) {
				t.Errorf("Date = %v, want %v", m.Date, w.date)
			}
			for _, s := range w.textHas {
				if !strings.Contains(m.Text, s) {
					t.Errorf("Text lacks %q:\n%s", s, m.Text)
				}
			}
			for _, s := range w.textNot {
				if strings.Contains(m.Text, s) || strings.Contains(m.HTML, s) {
					t.Errorf("body has %q", s)
				}
			}
			for _, s := range w.htmlHas {
				if !strings.Contains(m.HTML, s) {
					t.Errorf("HTML lacks %q:\n%s", s, m.HTML)
				}
			}
			if strings.Contains(m.Text, "\r\n") || strings.Contains(m.HTML, "\r\n") {
				t.Errorf("bodies keep CRLF")
			}
			if !reflect.DeepEqual(m.Attachments, w.atts) {
				t.Errorf("Attachments = %+v\nwant %+v", m.Attachments, w.atts)
			}
			if m.HasAttachments != w.hasAtts {
				t.Errorf("HasAttachments = %v, want %v", m.HasAttachments, w.hasAtts)
			}
			if m.Snippet != w.snippet {
				t.Errorf("Snippet = %q\nwant       %q", m.Snippet, w.snippet)
			}
			for _, s := range w.snippetNotIn {
				if strings.Contains(m.Snippet, s) {
					t.Errorf("Snippet contains %q", s)
				}
			}
			if m.Size != int64(len(raw)) {
				t.Errorf("Size = %d, want %d", m.Size, len(raw))
			}
		})
	}
}
