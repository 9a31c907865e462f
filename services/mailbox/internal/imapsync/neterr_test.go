package imapsync

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// A connection lost during a two-way MOVE is retried with the pass, not
// counted as the provider refusing the move (five such counts would give
// the move up): go-imap ends the command with io.ErrUnexpectedEOF.
func TestLostConnectionIsNotARefusal(t *testing.T) {
	for _, tt := range []struct {
		err error
		net bool
	}{
		{fmt.Errorf("uid move: %w", io.ErrUnexpectedEOF), true},
		{io.EOF, true},
		{fmt.Errorf("write: %w", net.ErrClosed), true},
		{&net.OpError{Op: "read", Net: "tcp", Err: fmt.Errorf("connection reset by peer")}, true},
		{&imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNoPerm, Text: "read-only"}, false},
	} {
		if got := isNetErr(tt.err); got != tt.net {
			t.Errorf("%v: broken connection %v, want %v", tt.err, got, tt.net)
		}
	}
}

// S1 (IDLE where offered): the silence after which a session's connection
// is closed outlasts the quietest healthy connection - one waiting in IDLE
// until its restart, or between polls - with room for a slow answer, so
// that the watchdog never cuts a healthy IDLE.
func TestSilenceOutlastsIdleAndPolls(t *testing.T) {
	for _, c := range []Config{{}, {IdleTimeout: time.Second, PollInterval: 100 * time.Millisecond},
		{IdleTimeout: 29 * time.Minute, PollInterval: time.Minute}, {IdleTimeout: time.Minute, PollInterval: 10 * time.Minute}} {
		c.defaults()
		quiet := max(c.IdleTimeout, c.PollInterval)
		if s := c.silence(); s < quiet+time.Minute {
			t.Errorf("idle %v, poll %v: silence %v, want at least %v", c.IdleTimeout, c.PollInterval, s, quiet+time.Minute)
		}
	}
}
