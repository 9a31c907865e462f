package mailconn

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// A login refusal is a secret to renew only when the server says so, or
// says nothing; "in use" and "limit" answers (too many connections) are
// temporary and must not stop the sync until the user types the password
// again.
func TestIMAPLoginRefusalsThatAreNotAboutTheSecret(t *testing.T) {
	for _, tt := range []struct {
		code imap.ResponseCode
		typ  imap.StatusResponseType
		auth bool
	}{
		{"", imap.StatusResponseTypeNo, true},
		{imap.ResponseCodeAuthenticationFailed, imap.StatusResponseTypeNo, true},
		{imap.ResponseCodeAuthorizationFailed, imap.StatusResponseTypeNo, true},
		{imap.ResponseCodeExpired, imap.StatusResponseTypeNo, true},
		{imap.ResponseCodeContactAdmin, imap.StatusResponseTypeNo, true},
		{imap.ResponseCodePrivacyRequired, imap.StatusResponseTypeNo, true},
		{imap.ResponseCodeInUse, imap.StatusResponseTypeNo, false},
		{imap.ResponseCodeLimit, imap.StatusResponseTypeNo, false},
		{imap.ResponseCodeUnavailable, imap.StatusResponseTypeNo, false},
		{imap.ResponseCodeServerBug, imap.StatusResponseTypeNo, false},
		{"", imap.StatusResponseTypeBad, false},
	} {
		err := fmt.Errorf("login: %w", &imap.Error{Type: tt.typ, Code: tt.code, Text: "refused"})
		if got := isIMAPAuthFailure(err); got != tt.auth {
			t.Errorf("%s [%s]: auth failure %v, want %v", tt.typ, tt.code, got, tt.auth)
		}
	}
}
