package httprule_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/internal/httprule"
)

// TestForMethod checks a parsed multi-segment template with an additional
// binding, read from a generated descriptor as the HTTP transport reads it.
func TestForMethod(t *testing.T) {
	md := usersv1.File_users_v1_users_proto.Services().ByName("UserService").Methods().ByName("GetOrgUser")
	got, err := httprule.ForMethod(md)
	if err != nil {
		t.Fatal(err)
	}
	want := []httprule.Rule{
		{
			Method:  "GET",
			Pattern: "/v1/{name=orgs/*/users/*}",
			Segments: []httprule.Segment{
				{Kind: httprule.Literal, Literal: "v1"},
				{Kind: httprule.Literal, Literal: "orgs"},
				{Kind: httprule.Wildcard},
				{Kind: httprule.Literal, Literal: "users"},
				{Kind: httprule.Wildcard},
			},
			Variables: []httprule.Variable{{FieldPath: []string{"name"}, Start: 1, End: 5}},
		},
		{
			Method:  "GET",
			Pattern: "/v1/legacy/{name=orgs/*/users/*}",
			Segments: []httprule.Segment{
				{Kind: httprule.Literal, Literal: "v1"},
				{Kind: httprule.Literal, Literal: "legacy"},
				{Kind: httprule.Literal, Literal: "orgs"},
				{Kind: httprule.Wildcard},
				{Kind: httprule.Literal, Literal: "users"},
				{Kind: httprule.Wildcard},
			},
			Variables: []httprule.Variable{{FieldPath: []string{"name"}, Start: 2, End: 6}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetOrgUser HTTP rules (-want +got):\n%s", diff)
	}
}
