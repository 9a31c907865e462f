package threading

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestParticipantKeys(t *testing.T) {
	tests := []struct {
		name string
		in   [][]string
		want []string
	}{
		{"nil", nil, []string{}},
		{"one list", [][]string{{"b@x.se", "a@x.se"}}, []string{"a@x.se", "b@x.se"}},
		{"dedupe across lists and case", [][]string{{"Anna@Acme.example"}, {" anna@acme.example ", "erik@nordlast.se"}, {"ERIK@nordlast.se"}},
			[]string{"anna@acme.example", "erik@nordlast.se"}},
		{"drops non-addresses", [][]string{{"", "undisclosed-recipients", "x@y"}}, []string{"x@y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParticipantKeys(tt.in...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParticipantKeys = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCommonCount(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		want int
	}{
		{"empty", nil, nil, 0},
		{"one side empty", []string{"a@x"}, nil, 0},
		{"none", []string{"a@x", "c@x"}, []string{"b@x", "d@x"}, 0},
		{"one", []string{"a@x", "b@x"}, []string{"b@x", "c@x"}, 1},
		{"two", []string{"a@x", "b@x", "c@x"}, []string{"a@x", "c@x", "d@x"}, 2},
		{"all", []string{"a@x", "b@x"}, []string{"a@x", "b@x"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CommonCount(tt.a, tt.b); got != tt.want {
				t.Errorf("CommonCount = %d, want %d", got, tt.want)
			}
			if got := CommonCount(tt.b, tt.a); got != tt.want {
				t.Errorf("CommonCount (swapped) = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestReferenceKeys(t *testing.T) {
	tests := []struct {
		name       string
		id         string
		inReplyTo  []string
		references []string
		want       []string
	}{
		{"none", "m@x", nil, nil, []string{}},
		{"parent first then references newest first", "m4@x", []string{"m3@x"}, []string{"m1@x", "m2@x", "m3@x"},
			[]string{"m3@x", "m2@x", "m1@x"}},
		{"own id excluded", "m2@x", []string{"m1@x"}, []string{"m1@x", "m2@x"}, []string{"m1@x"}},
		{"brackets and blanks", "<m9@x>", []string{"<m8@x>", ""}, []string{" <m7@x> ", "<m9@x>"}, []string{"m8@x", "m7@x"}},
		{"references only", "", nil, []string{"a@x", "b@x", "a@x"}, []string{"a@x", "b@x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReferenceKeys(tt.id, tt.inReplyTo, tt.references)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReferenceKeys = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("capped at MaxReferenceKeys keeping the most recent", func(t *testing.T) {
		var refs []string
		for i := range 500 {
			refs = append(refs, fmt.Sprintf("r%d@x", i))
		}
		got := ReferenceKeys("own@x", []string{"parent@x"}, refs)
		if len(got) != MaxReferenceKeys {
			t.Fatalf("len = %d, want %d", len(got), MaxReferenceKeys)
		}
		if got[0] != "parent@x" || got[1] != "r499@x" || got[MaxReferenceKeys-1] != "r401@x" {
			t.Errorf("got %q ... %q", got[:2], got[MaxReferenceKeys-1])
		}
	})
}

func TestChooseBySubject(t *testing.T) {
	at := time.Date(2024, 5, 20, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	window := 60 * day
	anna, erik, bjorn, lisa := "anna@acme.example", "erik@nordlast.se", "bjorn@nordlast.se", "lisa@globex.example"
	subj := "Återkoppling på offerten"
	norm := NormalizeSubject(subj)
	cand := func(id int64, subject string, ago time.Duration, parts ...string) Candidate {
		return Candidate{ThreadID: id, NormalizedSubject: subject, Participants: ParticipantKeys(parts), LastMessageAt: at.Add(-ago)}
	}
	tests := []struct {
		name    string
		subject string
		parts   []string
		cands   []Candidate
		window  time.Duration
		wantID  int64
		wantOK  bool
	}{
		{"two common participants", "SV: " + subj, []string{anna, erik}, []Candidate{cand(7, norm, day, anna, erik, bjorn)}, window, 7, true},
		{"one common participant", "SV: " + subj, []string{anna, lisa}, []Candidate{cand(7, norm, day, anna, erik)}, window, 0, false},
		{"participants case and order do not matter", "Re: " + subj, []string{"ERIK@nordlast.se", "Anna@Acme.example"}, []Candidate{cand(7, norm, day, anna, erik)}, window, 7, true},
		{"empty subject never", "", []string{anna, erik}, []Candidate{cand(7, "", day, anna, erik)}, window, 0, false},
		{"prefix-only subject never", "Re: Fwd:", []string{anna, erik}, []Candidate{cand(7, "", day, anna, erik)}, window, 0, false},
		{"different subject", "Re: Another topic", []string{anna, erik}, []Candidate{cand(7, norm, day, anna, erik)}, window, 0, false},
		{"outside window", "Re: " + subj, []string{anna, erik}, []Candidate{cand(7, norm, 61*day, anna, erik)}, window, 0, false},
		{"at window edge", "Re: " + subj, []string{anna, erik}, []Candidate{cand(7, norm, 60*day, anna, erik)}, window, 7, true},
		{"candidate newer than message within window", "Re: " + subj, []string{anna, erik}, []Candidate{cand(7, norm, -10*day, anna, erik)}, window, 7, true},
		{"candidate newer than message outside window", "Re: " + subj, []string{anna, erik}, []Candidate{cand(7, norm, -90*day, anna, erik)}, window, 0, false},
		{"zero window uses default", "Re: " + subj, []string{anna, erik}, []Candidate{cand(7, norm, 59*day, anna, erik)}, 0, 7, true},
		{"most recent wins", "Re: " + subj, []string{anna, erik}, []Candidate{
			cand(3, norm, 5*day, anna, erik), cand(9, norm, 2*day, anna, erik), cand(4, norm, 30*day, anna, erik)}, window, 9, true},
		{"tie goes to lowest id", "Re: " + subj, []string{anna, erik}, []Candidate{
			cand(12, norm, day, anna, erik), cand(5, norm, day, anna, erik), cand(8, norm, day, anna, erik)}, window, 5, true},
		{"non-matching recent candidate ignored", "Re: " + subj, []string{anna, erik}, []Candidate{
			cand(1, norm, 10*day, anna, erik), cand(2, norm, day, anna, lisa)}, window, 1, true},
		{"raw candidate subject is normalized too", "Re: " + subj, []string{anna, erik}, []Candidate{cand(7, "SV: "+subj, day, anna, erik)}, window, 7, true},
		{"zero last message never", "Re: " + subj, []string{anna, erik}, []Candidate{{ThreadID: 7, NormalizedSubject: norm, Participants: []string{anna, erik}}}, window, 0, false},
		{"non-positive thread id ignored", "Re: " + subj, []string{anna, erik}, []Candidate{cand(0, norm, day, anna, erik)}, window, 0, false},
		{"no candidates", "Re: " + subj, []string{anna, erik}, nil, window, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := ChooseBySubject(tt.subject, tt.parts, tt.cands, tt.window, at)
			if id != tt.wantID || ok != tt.wantOK {
				t.Errorf("ChooseBySubject = (%d, %v), want (%d, %v)", id, ok, tt.wantID, tt.wantOK)
			}
		})
	}
}
