package imapsync

import (
	"fmt"
	"io"
	"net"
	"testing"

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
