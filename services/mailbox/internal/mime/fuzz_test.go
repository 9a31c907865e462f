package mime

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse checks Parse's contract on arbitrary input: no panic, bounded
// time, only sentinel errors, and on success valid UTF-8 without NUL in
// every string and a snippet of at most SnippetMaxRunes runes.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, s := range []string{
		"",
		"\r\n",
		"Subject: only a header",
		"garbage without structure",
		"From: a@b\r\n\r\nbody",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n--y\r\n\r\ninner\r\n--y--\r\n--x--\r\n",
		"Content-Type: multipart/alternative; boundary=\"\"\r\n\r\n--\r\n\r\n",
		"Content-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n//5IAGkA\r\n",
		"Content-Type: text/html\r\n\r\n<blockquote><div class=gmail_quote><script>x</script>",
		"Content-Disposition: attachment; filename*0*=x''%FF; filename*1*=%00\r\nContent-Type: application/x\r\n\r\n",
		"Subject: =?x?Q?=00?= =?utf-8?B?AA==?=\r\nTo: <<>>, \"unterminated\r\n\r\n",
		"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody",
		"References: <a@b> <a@b> <c@d\r\nMessage-ID: <x@y>\r\nMessage-ID: <z@w>\r\n\r\n> quoted\r\nOn x wrote:\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		start := time.Now()
		m, err := Parse(raw, Options{})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Parse took %v on %d bytes", d, len(raw))
		}
		if err != nil {
			if errors.Is(err, errPanic) {
				t.Fatalf("Parse panicked: %v", err)
			}
			if !isSentinel(err) {
				t.Fatalf("non-sentinel error: %v", err)
			}
			if m != nil {
				t.Fatalf("message returned with error %v", err)
			}
			return
		}
		if m == nil {
			t.Fatal("nil message without error")
		}
		checkInvariants(t, m)
		if m.Size != int64(len(raw)) {
			t.Fatalf("Size = %d, want %d", m.Size, len(raw))
		}
	})
}
