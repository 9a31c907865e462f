// Package authz is the vocabulary of the services' authorization
// matrices: the kinds of caller every RPC is called by (the columns), the
// answer expected of a cell (a code and, for errors, the ErrorInfo
// reason), and access classes that give one expectation per column. Each
// service's matrix (its authz_test.go) holds the rows: which class each
// RPC belongs to and how to build its request.
package authz

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sightline/sightline/pkg/apierr"
	"github.com/sightline/sightline/pkg/auth"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	"github.com/sightline/sightline/pkg/servicetest"
)

// Col is a kind of caller: a column of the matrix.
type Col int

const (
	NoToken      Col = iota
	Expired          // a token of the app admin, expired an hour ago
	BadKey           // a token of the app admin, signed by a key the service does not know
	User             // a user of the company without account settings access or admin rights
	Settings         // a user with account settings access (and no admin rights)
	AppAdmin         // app (account) admin
	DealAdmin        // deal admin
	GlobalAdmin      // global admin
	OtherUser        // an app admin with account settings access of ANOTHER company
	Service          // a service principal of the company
	OtherService     // a service principal of another company
	NCols
)

var colNames = [NCols]string{"no token", "expired token", "unknown key", "user", "settings user", "app admin",
	"deal admin", "global admin", "other company's admin", "service", "other company's service"}

func (c Col) String() string { return colNames[c] }

// OtherCompany reports whether the caller belongs to another company.
func (c Col) OtherCompany() bool { return c == OtherUser || c == OtherService }

// Want is the expected answer of a cell: a code and, for errors, the
// ErrorInfo reason.
type Want struct {
	Code   codes.Code
	Reason string
}

func (w Want) String() string {
	if w.Code == codes.OK {
		return "OK"
	}
	return w.Code.String() + " " + w.Reason
}

// Got is the answer a call gave, to compare with a Want.
func Got(err error) Want {
	w := Want{Code: status.Code(err)}
	if err != nil {
		w.Reason = apierr.Reason(err)
	}
	return w
}

// RowNF stands for NOT_FOUND with the row's own reason (USER_NOT_FOUND,
// THREAD_NOT_FOUND, ...): which object is missing depends on the row.
const RowNF = "<row>"

var (
	OK    = Want{Code: codes.OK}
	NFRow = Want{Code: codes.NotFound, Reason: RowNF}
)

func Denied(reason string) Want   { return Want{Code: codes.PermissionDenied, Reason: reason} }
func NotFound(reason string) Want { return Want{Code: codes.NotFound, Reason: reason} }

// authColumns are the same for every RPC of both services.
var authColumns = map[Col]Want{
	NoToken: {codes.Unauthenticated, commonv1.ErrorReason_ERROR_REASON_TOKEN_MISSING.String()},
	Expired: {codes.Unauthenticated, commonv1.ErrorReason_ERROR_REASON_TOKEN_EXPIRED.String()},
	BadKey:  {codes.Unauthenticated, commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID.String()},
}

// Class is an access class: one expectation per caller.
type Class struct {
	Name string
	Want [NCols]Want
}

// NewClass is a class with the given expectations for the authenticated
// callers; the unauthenticated ones are refused alike everywhere.
func NewClass(name string, user, settings, app, deal, global, otherUser, svc, otherSvc Want) *Class {
	c := &Class{Name: name}
	c.Want[User], c.Want[Settings], c.Want[AppAdmin], c.Want[DealAdmin] = user, settings, app, deal
	c.Want[GlobalAdmin], c.Want[OtherUser], c.Want[Service], c.Want[OtherService] = global, otherUser, svc, otherSvc
	for k, w := range authColumns {
		c.Want[k] = w
	}
	return c
}

// For is the expectation of column c in a row of this class whose
// NOT_FOUND reason is nf, with the row's exceptions.
func (cl *Class) For(c Col, nf string, except map[Col]Want) Want {
	w, found := except[c]
	if !found {
		w = cl.Want[c]
	}
	if w.Reason == RowNF {
		w.Reason = nf
	}
	return w
}

// Contexts returns a context per column for calls to the instance in:
// users maps the user columns to users of company a, otherUser is a user
// of company b, admin (a's app admin, the most privileged user) is the
// one the expired and forged tokens name, so that a bad token gets nobody
// anywhere.
func Contexts(t testing.TB, in *servicetest.Instance, a, b, admin int64, users map[Col]int64, otherUser int64) [NCols]context.Context {
	t.Helper()
	var out [NCols]context.Context
	bearer := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	}
	adminP := auth.Principal{Kind: auth.KindUser, CompanyID: a, UserID: admin}
	out[NoToken] = context.Background()
	expired, err := auth.Mint(in.Key, adminP, -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	out[Expired] = bearer(expired)
	// The same key id as the service's key, another secret.
	unknown, err := auth.ParseKeys(servicetest.NewKeySpec(t), true)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := auth.Mint(unknown[0], adminP, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	out[BadKey] = bearer(forged)
	for c, u := range users {
		out[c] = in.User(t, a, u)
	}
	out[OtherUser] = in.User(t, b, otherUser)
	out[Service] = in.Service(t, a)
	out[OtherService] = in.Service(t, b)
	return out
}

// Row is a row of a matrix as Run needs it: the method (and the variant,
// when a method has several rows), how to build its request for a column,
// and the answer each column expects.
type Row struct {
	Method, What string
	Request      func(t testing.TB, c Col) proto.Message
	Want         func(c Col) Want
}

// Run checks that the rows cover every method of sd, then calls each row's
// method as every column (ctx) over conn and compares each answer with the
// row's: a successful answer must not carry the other company's marker
// (theirs for company A's callers, ours for the other company's), and no
// row may change the fixture (fingerprint before and after it).
func Run(t *testing.T, sd protoreflect.ServiceDescriptor, conn *grpc.ClientConn, ctx [NCols]context.Context,
	rows []Row, ours, theirs string, fingerprint func(testing.TB) string) {
	t.Helper()
	var methods []string
	for _, r := range rows {
		methods = append(methods, r.Method)
	}
	servicetest.CheckCoverage(t, sd, methods)

	before := fingerprint(t)
	for _, r := range rows {
		md := sd.Methods().ByName(protoreflect.Name(r.Method))
		if md == nil {
			continue
		}
		name := r.Method
		if r.What != "" {
			name += "/" + r.What
		}
		t.Run(name, func(t *testing.T) {
			for c := range NCols {
				req := r.Request(t, c)
				if req.ProtoReflect().Descriptor() != md.Input() {
					t.Fatalf("the row builds a %s, the method takes a %s", req.ProtoReflect().Descriptor().FullName(), md.Input().FullName())
				}
				resp, err := servicetest.Invoke(ctx[c], conn, md, req)
				foreign := theirs // company A's callers must never see B's data...
				if c.OtherCompany() {
					foreign = ours // ...nor B's callers A's
				}
				t.Run(c.String(), func(t *testing.T) { checkCell(t, r.Want(c), resp, err, foreign) })
			}
			if after := fingerprint(t); after != before {
				t.Errorf("the row changed the fixture:\nbefore:\n%s\nafter:\n%s", before, after)
				before = after // report each change once
			}
		})
	}
}

// checkCell compares a call's outcome with the cell's expectation and scans
// a successful response for the other company's marker.
func checkCell(t *testing.T, w Want, resp proto.Message, err error, foreign string) {
	t.Helper()
	if got := Got(err); got != w {
		t.Errorf("got %v (%v), want %v", got, err, w)
		return
	}
	if err == nil {
		if s := strings.ToLower(protojson.Format(resp)); strings.Contains(s, foreign) {
			t.Errorf("the response carries the other company's data (%q): %s", foreign, s)
		}
	}
}
