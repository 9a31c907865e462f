package mime

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

const (
	// snippetScanBytes bounds how much kept text the snippet builder
	// collects before it stops (far more than SnippetMaxRunes needs).
	snippetScanBytes = 4096
	// snippetHTMLTextBytes bounds the text extracted from an HTML body.
	snippetHTMLTextBytes = 16384
	// snippetSourceBytes bounds how much of a text body is looked at.
	snippetSourceBytes = 256 << 10
)

// makeSnippet builds the preview: from text when it is not blank, else from
// the HTML body with tags, comments, <head>, <script>, <style>, <title>,
// <template> and quoted blocks (<blockquote>, Gmail/Thunderbird/Yahoo quote
// containers, everything after Outlook's reply header) removed and entities
// decoded. From the resulting lines it drops quoted lines ("> ..."), the
// attribution line that introduces them ("On ... wrote:" and its Swedish,
// Danish, Norwegian, Czech, German, French, Spanish, Italian, Dutch,
// Polish, Finnish and Portuguese forms) and everything from an Outlook
// "-----Original Message-----" separator on. If that leaves nothing (a
// message that only quotes), the unfiltered text is used. Then zero-width
// and control characters are removed, white space is collapsed, and the
// result is cut to SnippetMaxRunes runes, preferring a word boundary and
// ending with "…" only when something was cut.
func makeSnippet(text, htmlBody string) string {
	const n = SnippetMaxRunes
	var s string
	switch {
	case strings.TrimSpace(text) != "":
		s = collapseSnippet(filterQuoted(text, true), n)
		if s == "" {
			s = collapseSnippet(filterQuoted(text, false), n)
		}
	case strings.TrimSpace(htmlBody) != "":
		s = collapseSnippet(filterQuoted(htmlToText(htmlBody, snippetHTMLTextBytes, true), true), n)
		if s == "" {
			s = collapseSnippet(filterQuoted(htmlToText(htmlBody, snippetHTMLTextBytes, false), false), n)
		}
	}
	return cleanString(truncateRunes(s, n))
}

// filterQuoted returns up to snippetScanBytes of the lines of src, without
// quoted lines, attribution lines and what follows an Outlook separator
// when drop is true.
func filterQuoted(src string, drop bool) string {
	var b strings.Builder
	if len(src) > snippetSourceBytes {
		cut := snippetSourceBytes
		for cut > 0 && !utf8.RuneStart(src[cut]) {
			cut--
		}
		src = src[:cut]
	}
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines) && b.Len() < snippetScanBytes; i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if drop {
			if strings.HasPrefix(l, ">") {
				continue
			}
			if isOutlookSeparator(lines, i) {
				break
			}
			if isAttribution(l) && quotedFollows(lines, i+1) {
				continue
			}
			// Attribution wrapped over two lines: "On <date>, <name>" then
			// "<address> wrote:".
			if i+1 < len(lines) && hasAttributionOpener(l) {
				next := strings.TrimSpace(lines[i+1])
				if isAttribution(next) && !hasAttributionOpener(next) && len(l)+len(next) <= 400 &&
					quotedFollows(lines, i+2) {
					i++
					continue
				}
			}
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// quotedFollows reports whether the next non-blank line from i is quoted,
// or there is none.
func quotedFollows(lines []string, i int) bool {
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		return strings.HasPrefix(l, ">")
	}
	return true
}

// attributionVerbs are matched as substrings of the lower-cased line.
var attributionVerbs = []string{
	"wrote", "writes", // en
	"skrev",              // sv, da, no
	"napsal",             // cs (also napsala, napsal(a))
	"odesílatel",         // cs Gmail: "po 1. 1. 2024 v 10:00 odesílatel X <x> napsal:"
	"schrieb",            // de
	"a écrit", "a ecrit", // fr
	"escribió", "escribio", // es
	"ha scritto", "scrisse", // it
	"schreef",   // nl
	"napisał",   // pl
	"kirjoitti", // fi
	"escreveu",  // pt
}

// attributionOpeners start an attribution line: en, sv/da/no, cs, de, fr,
// es, it, nl, pl, pt.
var attributionOpeners = []string{"on ", "den ", "dne ", "am ", "le ", "el ", "il ", "op ", "w dniu ", "em "}

func hasAttributionOpener(l string) bool {
	if len(l) > 400 {
		return false
	}
	ll := strings.ToLower(l)
	for _, o := range attributionOpeners {
		if strings.HasPrefix(ll, o) {
			return true
		}
	}
	return false
}

// isAttribution: a line of at most 400 bytes ending in ':' that contains a
// "wrote" verb.
func isAttribution(l string) bool {
	if len(l) > 400 || !strings.HasSuffix(l, ":") {
		return false
	}
	ll := strings.ToLower(l)
	for _, v := range attributionVerbs {
		if strings.Contains(ll, v) {
			return true
		}
	}
	return false
}

// isOutlookSeparator: "-----Original Message-----" (any language: a short
// line framed by at least five dashes on both sides), or a line of at least
// ten underscores followed by a "Header: value" line (Outlook's "From:",
// "Från:", "Od:", "Von:", "De:" block).
func isOutlookSeparator(lines []string, i int) bool {
	l := strings.TrimSpace(lines[i])
	if len(l) <= 80 && len(l) > 10 && strings.HasPrefix(l, "-----") && strings.HasSuffix(l, "-----") &&
		strings.Trim(l, "-") != "" && !strings.Contains(strings.ToLower(l), "forward") {
		return true
	}
	if len(l) >= 10 && strings.Trim(l, "_") == "" {
		for j := i + 1; j < len(lines); j++ {
			n := strings.TrimSpace(lines[j])
			if n == "" {
				continue
			}
			c := strings.IndexByte(n, ':')
			return c > 0 && c <= 20
		}
	}
	return false
}

// invisible reports characters removed from snippets: zero-width and
// formatting characters used as padding in marketing mail, and controls.
func invisible(r rune) bool {
	switch r {
	case '\u00AD', '\u034F', '\u200B', '\u200C', '\u200D', '\u200E', '\u200F', '\u2060', '\uFEFF':
		return true
	}
	return unicode.IsControl(r) && !unicode.IsSpace(r)
}

// collapseSnippet removes invisible characters from s, trims it and
// replaces each run of white space by one space, stopping after max+1 runes
// of output: enough for truncateRunes(_, max) to decide as it would on the
// whole string, whose prefix this is. (One pass without the split and join
// of collapseSpace: that was a third of Parse's time on a 5 KB message.)
func collapseSnippet(s string, max int) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range s {
		switch {
		case invisible(r):
			continue
		case unicode.IsSpace(r):
			space = n > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
			if n++; n > max {
				break
			}
		}
		b.WriteRune(r)
		if n++; n > max {
			break
		}
	}
	return b.String()
}

// truncateRunes cuts s to at most max runes. When it cuts, the result ends
// with "…" (counted in max) and, if a space occurs in the last 30 runes
// kept, it cuts there so no word is split.
func truncateRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	keep := max - 1 // room for the ellipsis
	cut, n := 0, 0
	for i := range s {
		if n == keep {
			cut = i
			break
		}
		n++
	}
	head := s[:cut]
	if sp := strings.LastIndexByte(head, ' '); sp > 0 && utf8.RuneCountInString(head[sp:]) <= 30 {
		head = head[:sp]
	}
	head = strings.TrimRightFunc(head, unicode.IsSpace)
	return head + "…"
}

// htmlToText extracts readable text from an HTML body for the snippet,
// stopping after about limit bytes of text. Block-level elements and <br>
// become line breaks.
// With dropQuotes, quoted blocks are skipped (see makeSnippet).
func htmlToText(s string, limit int, dropQuotes bool) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skipTag := atom.Atom(0)
	skipName := ""
	skipDepth := 0
	for b.Len() < limit {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			if skipDepth == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			if skipDepth > 0 {
				if tt == html.StartTagToken && sameTag(a, name, skipTag, skipName) {
					skipDepth++
				}
				continue
			}
			if a == atom.Br || a == atom.Hr {
				b.WriteByte('\n')
				continue
			}
			if tt == html.SelfClosingTagToken {
				continue
			}
			skip, stop := skipElement(a, z, hasAttr, dropQuotes)
			if stop {
				return b.String()
			}
			if skip {
				skipTag, skipName, skipDepth = a, string(name), 1
				continue
			}
			if blockElement(a) {
				b.WriteByte('\n')
			} else if a == atom.Td || a == atom.Th {
				b.WriteByte(' ')
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipDepth > 0 {
				if sameTag(a, name, skipTag, skipName) {
					skipDepth--
				}
				continue
			}
			if blockElement(a) {
				b.WriteByte('\n')
			} else if a == atom.Td || a == atom.Th {
				b.WriteByte(' ')
			}
		}
	}
	return b.String()
}

func sameTag(a atom.Atom, name []byte, skipTag atom.Atom, skipName string) bool {
	if skipTag != 0 {
		return a == skipTag
	}
	return string(name) == skipName
}

// skipElement decides whether an element's content is left out of the
// snippet (skip) or ends the useful text altogether (stop: Outlook puts the
// quoted original after a div with id divRplyFwdMsg, not inside it).
func skipElement(a atom.Atom, z *html.Tokenizer, hasAttr, dropQuotes bool) (skip, stop bool) {
	switch a {
	case atom.Head, atom.Script, atom.Style, atom.Title, atom.Template, atom.Noscript:
		return true, false
	case atom.Blockquote:
		return dropQuotes, false
	}
	for dropQuotes && hasAttr {
		var key, val []byte
		key, val, hasAttr = z.TagAttr()
		switch string(key) {
		case "class":
			v := string(val)
			if strings.Contains(v, "gmail_quote") || strings.Contains(v, "moz-cite-prefix") ||
				strings.Contains(v, "yahoo_quoted") || strings.Contains(v, "gmail_attr") {
				return true, false
			}
		case "id":
			v := string(val)
			if v == "divRplyFwdMsg" || v == "appendonsend" {
				return false, true
			}
		}
	}
	return false, false
}

func blockElement(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Tr, atom.Li, atom.Ul, atom.Ol, atom.Table, atom.H1, atom.H2, atom.H3,
		atom.H4, atom.H5, atom.H6, atom.Pre, atom.Section, atom.Article, atom.Header, atom.Footer,
		atom.Dd, atom.Dt, atom.Dl, atom.Center, atom.Address, atom.Body, atom.Html:
		return true
	}
	return false
}
