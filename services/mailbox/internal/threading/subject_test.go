package threading

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeSubject(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Hello", "hello"},
		{"empty", "", ""},
		{"only spaces", "   \t ", ""},
		{"re", "Re: Hello", "hello"},
		{"RE upper", "RE: Hello", "hello"},
		{"re no space", "Re:Hello", "hello"},
		{"re re", "Re: Re: Hello", "hello"},
		{"nested mixed", "RE: Fwd: SV: Hello", "hello"},
		{"fw fwd", "FW: Fwd: fw: Hello", "hello"},
		{"counter brackets", "Re[3]: x", "x"},
		{"counter parens", "Re(2): x", "x"},
		{"counter fwd", "Fwd[12]: x", "x"},
		{"space before colon (fr)", "RE : Offre", "offre"},
		{"tr fr", "TR: Offre de prix", "offre de prix"},
		{"ext tag", "[EXT] Re: x", "x"},
		{"list tag inside", "Re: [sales-list] Re: Q3 numbers", "q3 numbers"},
		{"tag only", "[EXT]", ""},
		{"prefix only", "Re:", ""},
		{"prefixes only", "Re: Fwd: AW:", ""},
		{"de", "AW: WG: Angebot", "angebot"},
		{"sv", "SV: VB: Återkoppling på offerten", "återkoppling på offerten"},
		{"da no", "SV: VS: Tilbud", "tilbud"},
		{"fi", "VS: VL: Tarjous", "tarjous"},
		{"nl", "Antw: Doorst: Offerte", "offerte"},
		{"es", "RE: RV: Presupuesto", "presupuesto"},
		{"pt", "RES: ENC: Proposta", "proposta"},
		{"pl", "Odp: PD: Oferta", "oferta"},
		{"cs", "Odp: PŘ: Žádost o nabídku", "žádost o nabídku"},
		{"cs outlook", "RE: FW: Žádost o nabídku", "žádost o nabídku"},
		{"it", "RIF: Offerta", "offerta"},
		{"hu", "VÁ: Ajánlat", "ajánlat"},
		{"tr", "YNT: Teklif", "teklif"},
		{"el", "ΑΠ: Προσφορά", "προσφορά"},
		{"zh fullwidth colon", "回复：报价", "报价"},
		{"zh", "转发: 报价", "报价"},
		{"unicode fold sharp s", "Re: STRASSE", "strasse"},
		{"unicode fold eszett", "Straße", "strasse"},
		{"unicode upper accents", "ŽÁDOST", "žádost"},
		{"decomposed equals composed", "Z\u030cádost", "žádost"},
		{"whitespace collapsed", "  Re:   Quarterly \t  report  ", "quarterly report"},
		{"not a prefix word", "Reply needed: budget", "reply needed: budget"},
		{"prefix needs colon", "Re Hello", "re hello"},
		{"prefix inside kept", "Hello Re: there", "hello re: there"},
		{"single letter italian kept", "R: Offerta", "r: offerta"},
		{"invalid utf8", "Re: caf\xe9", "caf\ufffd"},
		{"unclosed bracket", "[EXT Re: x", "[ext re: x"},
		{"counter without colon", "Re[2] x", "re[2] x"},
		{"cherokee folds stably (fuzz regression)", "Re: Ꮇ ꮇ", "ꮇ ꮇ"},
		{"nul and controls", "Re:\x00 Hel\x01lo", "hel lo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NormalizeSubject(tt.in)
			if got != tt.want {
				t.Errorf("NormalizeSubject(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := NormalizeSubject(got); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestNormalizeSubjectEquivalences(t *testing.T) {
	pairs := [][2]string{
		{"STRASSE", "Straße"},
		{"ΣΟΦΟΣ", "σοφος"},
		{"Re: ŽÁDOST O NABÍDKU", "Odp: žádost o nabídku"},
		{"[EXT] RE: Fwd: Offer", "offer"},
		{"Z\u030cádost", "Žádost"},
	}
	for _, p := range pairs {
		if a, b := NormalizeSubject(p[0]), NormalizeSubject(p[1]); a != b {
			t.Errorf("NormalizeSubject(%q) = %q, NormalizeSubject(%q) = %q; want equal", p[0], a, p[1], b)
		}
	}
}

func FuzzNormalizeSubject(f *testing.F) {
	for _, s := range []string{
		"", "Re: Hello", "RE: Fwd: SV: Hello", "Re[3]: x", "[EXT] Re: x", "AW: WG: Angebot",
		"Odp: PŘ: Žádost", "回复：报价", "ΑΠ: ΣΟΦΟΣ", "Straße", "İstanbul", "Z\u030cádost",
		"Re: \u0301x", "[" + "a]", "re(1):re[2]:", "caf\xe9", "\x00Re:\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := NormalizeSubject(s)
		if !utf8.ValidString(got) || strings.ContainsRune(got, 0) {
			t.Fatalf("invalid UTF-8 out of %q: %q", s, got)
		}
		if again := NormalizeSubject(got); again != got {
			t.Fatalf("not idempotent for %q: %q -> %q", s, got, again)
		}
	})
}
