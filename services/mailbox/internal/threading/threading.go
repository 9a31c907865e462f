package threading

import (
	"sort"
	"strings"
	"time"
)

// MinCommonParticipants is how many participants a message must share with
// a thread to join it by subject (DESIGN S3: "two or more").
const MinCommonParticipants = 2

// DefaultSubjectWindow is used by ChooseBySubject when window <= 0.
const DefaultSubjectWindow = 60 * 24 * time.Hour

// MaxReferenceKeys bounds ReferenceKeys, so a hostile References header
// with thousands of ids cannot turn into a huge database lookup. The ids
// kept are the most recent ones.
const MaxReferenceKeys = 100

// ParticipantKeys returns the set of participant keys of the given address
// lists (e.g. from, to, cc): trimmed, lower-cased emails, de-duplicated and
// sorted. Entries without '@' (empty strings, group names, "undisclosed
// recipients") are left out.
func ParticipantKeys(addrs ...[]string) []string {
	n := 0
	for _, l := range addrs {
		n += len(l)
	}
	out := make([]string, 0, n)
	for _, l := range addrs {
		for _, a := range l {
			a = strings.ToLower(strings.TrimSpace(a))
			if strings.IndexByte(a, '@') < 0 {
				continue
			}
			out = append(out, a)
		}
	}
	sort.Strings(out)
	// De-duplicate in place.
	w := 0
	for i, a := range out {
		if i > 0 && a == out[w-1] {
			continue
		}
		out[w] = a
		w++
	}
	return out[:w]
}

// CommonCount returns how many elements two sorted slices have in common
// (a merge; for sets, the size of the intersection).
func CommonCount(a, b []string) int {
	i, j, n := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			n++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return n
}

// ReferenceKeys returns the message ids to look existing threads up by:
// the In-Reply-To ids (the direct parent) first, then the References ids
// from the last (closest ancestor) to the first; angle brackets and white
// space trimmed, empty ids and the message's own id left out,
// de-duplicated, at most MaxReferenceKeys.
func ReferenceKeys(messageID string, inReplyTo, references []string) []string {
	own := trimID(messageID)
	out := make([]string, 0, min(len(inReplyTo)+len(references), MaxReferenceKeys))
	seen := make(map[string]bool, cap(out))
	add := func(id string) bool {
		id = trimID(id)
		if id == "" || id == own || seen[id] {
			return len(out) < MaxReferenceKeys
		}
		seen[id] = true
		out = append(out, id)
		return len(out) < MaxReferenceKeys
	}
	for _, id := range inReplyTo {
		if !add(id) {
			return out
		}
	}
	for i := len(references) - 1; i >= 0; i-- {
		if !add(references[i]) {
			return out
		}
	}
	return out
}

func trimID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "<")
	id = strings.TrimSuffix(id, ">")
	return strings.TrimSpace(id)
}

// Candidate is an existing thread the ingest path found by normalized
// subject.
type Candidate struct {
	ThreadID          int64
	NormalizedSubject string
	Participants      []string // sorted participant keys (see ParticipantKeys)
	LastMessageAt     time.Time
}

// ChooseBySubject picks the thread a message joins by subject (DESIGN S3,
// second rule). A candidate matches when
//
//   - NormalizeSubject(subject) is not empty and equals the candidate's
//     normalized subject (normalized again, so a raw subject also works);
//   - the message and the candidate share at least MinCommonParticipants
//     participants (both sides are passed through ParticipantKeys, so
//     unsorted or mixed-case input is fine);
//   - the candidate's LastMessageAt is within window of at, in either
//     direction (initial sync ingests older mail after newer); window <= 0
//     means DefaultSubjectWindow; a zero LastMessageAt never matches;
//   - its ThreadID is positive.
//
// Among matches the most recent LastMessageAt wins, ties going to the
// lowest ThreadID. ok is false when nothing matches.
func ChooseBySubject(subject string, participants []string, cands []Candidate, window time.Duration, at time.Time) (threadID int64, ok bool) {
	key := NormalizeSubject(subject)
	if key == "" || len(cands) == 0 {
		return 0, false
	}
	if window <= 0 {
		window = DefaultSubjectWindow
	}
	mine := ParticipantKeys(participants)
	if len(mine) < MinCommonParticipants {
		return 0, false
	}
	var best *Candidate
	for i := range cands {
		c := &cands[i]
		if c.ThreadID <= 0 || c.LastMessageAt.IsZero() {
			continue
		}
		if d := at.Sub(c.LastMessageAt); d > window || d < -window {
			continue
		}
		if NormalizeSubject(c.NormalizedSubject) != key {
			continue
		}
		if CommonCount(mine, ParticipantKeys(c.Participants)) < MinCommonParticipants {
			continue
		}
		if best == nil || c.LastMessageAt.After(best.LastMessageAt) ||
			(c.LastMessageAt.Equal(best.LastMessageAt) && c.ThreadID < best.ThreadID) {
			best = c
		}
	}
	if best == nil {
		return 0, false
	}
	return best.ThreadID, true
}
