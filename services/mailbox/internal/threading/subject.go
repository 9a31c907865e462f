package threading

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// subjectPrefixes are the reply and forward prefixes NormalizeSubject
// strips, case-folded. The list follows the "email subject abbreviations"
// used by the mail clients of each language (Outlook's localized
// RE/FW equivalents, Thunderbird's mail.reply_header_* defaults and
// Wikipedia's "List of email subject abbreviations"). Single-letter
// prefixes (Italian "R:" and "I:") are left out on purpose: they collide
// with ordinary subjects too easily.
var subjectPrefixes = map[string]bool{
	// English and international
	"re": true, "fw": true, "fwd": true,
	// German: Antwort, Weitergeleitet
	"aw": true, "wg": true,
	// Swedish: Svar, Vidarebefordrat; Danish/Norwegian: Svar, Videresendt;
	// Icelandic: Svar
	"sv": true, "vb": true, "vs": true,
	// Finnish: Vastaus (VS, as Danish forward), Välitetty
	"vl": true,
	// Dutch: Antwoord, Doorgestuurd
	"antw": true, "doorst": true,
	// French, Romanian: Transféré / Trimis
	"tr": true,
	// Spanish: Reenviado
	"rv": true,
	// Portuguese: Resposta, Encaminhado
	"res": true, "enc": true,
	// Polish: Odpowiedź, Przekaż dalej; Czech: Odpověď, Přeposlat
	"odp": true, "pd": true, "př": true,
	// Italian: Riferimento
	"rif": true,
	// Hungarian: Válasz
	"vá": true,
	// Turkish: Yanıt
	"ynt": true,
	// Welsh: Ateb
	"atb": true,
	// Greek: Απάντηση, Σχετικά, Προώθηση
	"απ": true, "σχετ": true, "πρθ": true,
	// Chinese (simplified, traditional): reply, forward
	"回复": true, "答复": true, "回覆": true, "转发": true, "轉寄": true,
}

// maxTagBytes bounds a leading "[list]" / "[EXT]" tag that is stripped.
const maxTagBytes = 64

// NormalizeSubject returns the subject key used to match threads by
// subject. It makes s valid UTF-8, turns control characters (NUL included:
// the key is stored in PostgreSQL) into spaces, applies Unicode NFC, full
// case folding and lower-casing (so "STRASSE" and "Straße", "ΣΟΦΟΣ" and
// "σοφος" match), collapses white space, then strips, any number of times
// and in any order:
//
//   - a reply/forward prefix from subjectPrefixes followed by an optional
//     counter "[n]" or "(n)", optional white space and ':' (or the
//     full-width '：'), e.g. "Re:", "RE :", "Re[3]:", "Fwd(2):", "AW:",
//     "SV:", "Odp:", "PŘ:", "回复：";
//   - a bracketed tag of at most 64 bytes, e.g. "[EXT]", "[sales-list]",
//     "[2]".
//
// Only leading prefixes are stripped. Empty or prefix-only subjects
// normalize to "". NormalizeSubject is idempotent.
func NormalizeSubject(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = norm.NFC.String(s)
	// cases.Fold alone is not idempotent: x/text folds Cherokee capitals
	// (U+13A0..) to the small letters (U+AB70..) and back again. Lower-casing
	// after folding settles every rune on one form (checked over all of
	// Unicode), so NormalizeSubject stays idempotent.
	s = strings.ToLower(cases.Fold().String(s))
	s = norm.NFC.String(s)
	s = strings.Join(strings.Fields(s), " ")
	for {
		t := stripOnePrefix(s)
		if t == s {
			return s
		}
		s = t
	}
}

// stripOnePrefix removes one leading prefix or tag from the collapsed,
// folded s, returning s unchanged when there is none.
func stripOnePrefix(s string) string {
	if s == "" {
		return s
	}
	if s[0] == '[' {
		if end := strings.IndexByte(s, ']'); end > 0 && end <= maxTagBytes {
			return strings.TrimSpace(s[end+1:])
		}
		return s
	}
	// Leading word of letters.
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsLetter(r) {
			break
		}
		i += size
	}
	if i == 0 || !subjectPrefixes[s[:i]] {
		return s
	}
	rest := s[i:]
	// Optional counter: [n] or (n).
	if len(rest) > 0 && (rest[0] == '[' || rest[0] == '(') {
		closer := byte(']')
		if rest[0] == '(' {
			closer = ')'
		}
		j := 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j > 1 && j < len(rest) && rest[j] == closer {
			rest = rest[j+1:]
		}
	}
	rest = strings.TrimLeft(rest, " ")
	switch {
	case strings.HasPrefix(rest, ":"):
		rest = rest[1:]
	case strings.HasPrefix(rest, "："):
		rest = rest[len("："):]
	default:
		return s
	}
	return strings.TrimSpace(rest)
}
