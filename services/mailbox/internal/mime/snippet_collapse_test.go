package mime

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// collapseSnippetReference is the definition collapseSnippet must agree
// with: drop invisible characters, then trim and collapse white space.
func collapseSnippetReference(s string) string {
	return collapseSpace(strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s))
}

// The one-pass, bounded collapse gives the snippet the reference gives, on
// random strings of spaces of every kind, invisible and control characters,
// multi-byte runes and invalid bytes, at lengths around the bound.
func TestCollapseSnippetMatchesReference(t *testing.T) {
	parts := []string{"a", "b", "ž", "語", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u0085",
		"\u200b", "\u00ad", "\ufeff", "\x01", "\x7f", "\xff", "\xe2\x82", "\ufffd", "word", "…"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := rng.IntN(40); n > 0; n-- {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		s := b.String()
		for _, max := range []int{1, 2, 3, 5, 10, 31, SnippetMaxRunes} {
			want := truncateRunes(collapseSnippetReference(s), max)
			if got := truncateRunes(collapseSnippet(s, max), max); got != want {
				t.Fatalf("max %d, %q: got %q, want %q", max, s, got, want)
			}
		}
		if (collapseSnippet(s, 1) == "") != (collapseSnippetReference(s) == "") {
			t.Fatalf("%q: emptiness differs", s)
		}
	}
}
