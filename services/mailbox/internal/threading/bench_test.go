package threading

import (
	"fmt"
	"testing"
	"time"
)

// The threading rules run once per ingested message: NormalizeSubject and
// ParticipantKeys on the message, ReferenceKeys on its headers, and
// ChooseBySubject over the candidate threads the store found by subject.

func BenchmarkNormalizeSubject(b *testing.B) {
	subjects := []string{
		"Re: Proposal for the 2027 renewal",
		"RE: [EXT] Fwd: SV: Angående offerten för kvartal 3",
		"AW: Re[3]: Nabídka na rok 2027 — PŘ: podklady",
		"回复：关于合同续签的问题",
		"Quarterly business review",
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if NormalizeSubject(subjects[i%len(subjects)]) == "" {
			b.Fatal("empty")
		}
		i++
	}
}

func BenchmarkParticipantKeys(b *testing.B) {
	from := []string{"Erik.Lindqvist@Nordlast.se"}
	to := []string{"anna@acme.example", "bjorn@nordlast.se", "undisclosed-recipients"}
	cc := []string{"sales@acme.example", "ANNA@acme.example", "legal@nordlast.se"}
	b.ReportAllocs()
	for b.Loop() {
		if len(ParticipantKeys(from, to, cc)) != 5 {
			b.Fatal("want 5 keys")
		}
	}
}

func BenchmarkReferenceKeys(b *testing.B) {
	// A long conversation: 20 References ids and an In-Reply-To.
	var refs []string
	for i := range 20 {
		refs = append(refs, fmt.Sprintf("<msg-%d.1716000000@mail.nordlast.se>", i))
	}
	irt := []string{"<msg-19.1716000000@mail.nordlast.se>"}
	b.ReportAllocs()
	for b.Loop() {
		if len(ReferenceKeys("<msg-20.1716000000@mail.nordlast.se>", irt, refs)) != 20 {
			b.Fatal("want 20 keys")
		}
	}
}

// BenchmarkChooseBySubject decides among 20 candidate threads of the same
// normalized subject (a recurring subject such as a weekly report), one of
// which shares two participants.
func BenchmarkChooseBySubject(b *testing.B) {
	at := time.Date(2026, 5, 15, 10, 0, 0, 0, time.UTC)
	cands := make([]Candidate, 20)
	for i := range cands {
		cands[i] = Candidate{ThreadID: int64(100 + i), NormalizedSubject: "weekly pipeline report",
			Participants:  []string{fmt.Sprintf("rep%d@acme.example", i), "manager@acme.example"},
			LastMessageAt: at.Add(-time.Duration(i) * 24 * time.Hour)}
	}
	cands[7].Participants = []string{"erik@nordlast.se", "anna@acme.example", "manager@acme.example"}
	participants := []string{"Anna@acme.example", "erik@nordlast.se", "bjorn@nordlast.se"}
	b.ReportAllocs()
	for b.Loop() {
		id, ok := ChooseBySubject("Re: Weekly pipeline report", participants, cands, 0, at)
		if !ok || id != 107 {
			b.Fatalf("ChooseBySubject = %d, %v; want 107", id, ok)
		}
	}
}
