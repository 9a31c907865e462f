package mailbox_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
)

// M2: a thread linked to no deal or lead is not in any deal's or lead's
// detail view, for its owner too, and reads as NOT_FOUND like an unknown id
// (it used to fail with INTERNAL, which told other users the id exists).
func TestM2_UnlinkedThreadIsNotOnAnyItem(t *testing.T) {
	e := start(t)
	r := e.ingest(t, owner, inbound("unlinked@x", "Not linked"))
	for _, user := range []int64{owner, bob} {
		for _, item := range []*mailboxv1.ItemRef{dealRef(10), leadRef(20)} {
			_, err := e.mb.GetItemThread(e.u(t, user), &mailboxv1.GetItemThreadRequest{Item: item, ThreadId: r.GetThreadId()})
			wantCode(t, err, codes.NotFound, mr(mailboxv1.ErrorReason_ERROR_REASON_THREAD_NOT_FOUND))
		}
	}
}
