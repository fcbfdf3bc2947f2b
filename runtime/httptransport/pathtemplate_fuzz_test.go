package httptransport

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/internal/httprule"
	"github.com/svcclient/svcclient/runtime/transport"
)

// routedMethod is a method with the REST rules a test routes it by.
type routedMethod struct {
	method *transport.MethodDesc
	rules  []httprule.Rule
}

// routeTable is a Handler with the REST routes of methods, in that order,
// and nothing behind them: enough to route and decode requests.
func handlerWithRoutes(methods []routedMethod) *Handler {
	h := &Handler{json: defaultJSONCodec(), readMax: defaultReadMaxBytes}
	t := &routeTable{connect: map[string]*handlerMethod{}}
	for _, m := range methods {
		t.addRoutes(&handlerMethod{handler: &transport.Handler{Method: m.method}}, m.rules)
	}
	h.table.Store(t)
	return h
}

// userMethods are the example UserService's methods with the rules their
// descriptors carry.
func userMethods() []routedMethod {
	sd := usersv1.File_users_v1_users_proto.Services().ByName("UserService")
	var methods []routedMethod
	for i := range sd.Methods().Len() {
		md := sd.Methods().Get(i)
		rules, err := httprule.ForMethod(md)
		if err != nil {
			panic(err)
		}
		methods = append(methods, routedMethod{transport.Describe(md), rules})
	}
	return methods
}

// verbMethods have templates the example lacks: a verb after a "**" and
// after a multi-segment variable. Each gets a table of its own, so that
// GetFile's own /v1/files/{path=**} does not take their paths.
func verbMethods() []routedMethod {
	sd := usersv1.File_users_v1_users_proto.Services().ByName("UserService")
	return []routedMethod{{
		method: transport.Describe(sd.Methods().ByName("GetFile")),
		rules: []httprule.Rule{{
			Method: http.MethodGet, Pattern: "/v1/files/{path=**}:download",
			Segments:  []httprule.Segment{{Literal: "v1"}, {Literal: "files"}, {Kind: httprule.DeepWildcard}},
			Variables: []httprule.Variable{{FieldPath: []string{"path"}, Start: 2, End: 3}},
			Verb:      "download",
		}},
	}, {
		method: transport.Describe(sd.Methods().ByName("GetOrgUser")),
		rules: []httprule.Rule{{
			Method: http.MethodPost, Pattern: "/v1/{name=orgs/*/users/*}:touch",
			Segments: []httprule.Segment{{Literal: "v1"}, {Literal: "orgs"}, {Kind: httprule.Wildcard},
				{Literal: "users"}, {Kind: httprule.Wildcard}},
			Variables: []httprule.Variable{{FieldPath: []string{"name"}, Start: 1, End: 5}},
			Verb:      "touch",
			Body:      "*",
		}},
	}}
}

type roundTripCase struct {
	table  *Handler
	method *transport.MethodDesc
	rule   *httprule.Rule
}

// roundTripCases lists every REST binding of the example service (additional
// bindings included, each as a client would send it) and of verbMethods.
func roundTripCases() []roundTripCase {
	var cases []roundTripCase
	users := userMethods()
	table := handlerWithRoutes(users)
	for _, m := range users {
		for j := range m.rules {
			cases = append(cases, roundTripCase{table, m.method, &m.rules[j]})
		}
	}
	for _, m := range verbMethods() {
		cases = append(cases, roundTripCase{handlerWithRoutes([]routedMethod{m}), m.method, &m.rules[0]})
	}
	return cases
}

// FuzzPathTemplateRoundTrip builds a REST request for a binding from random
// path variable values, as the client does, then routes and decodes it as
// the handler does. Either the client refuses the values (InvalidArgument,
// before sending), or the request reaches the same binding and decodes to
// the same values.
func FuzzPathTemplateRoundTrip(f *testing.F) {
	cases := roundTripCases()
	for i := range cases {
		f.Add(uint8(i), "42", "b")
		f.Add(uint8(i), "", "")
		f.Add(uint8(i), "orgs/acme/users/ada", "x")
		f.Add(uint8(i), "orgs/acme/users/", "x")
		f.Add(uint8(i), "a/b/", "")
		f.Add(uint8(i), "a b/c%2Fd:e?f#g", "ü/..")
		f.Add(uint8(i), "/", "//")
		f.Add(uint8(i), "x:undelete", ":watch")
	}
	f.Fuzz(func(t *testing.T, which uint8, a, b string) {
		tc := cases[int(which)%len(cases)]
		binding, err := compileBinding(tc.method, tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		req := tc.method.NewRequest()
		values := []string{a, b}
		for i, v := range binding.path.vars {
			if v.fields.last().Kind() != protoreflect.StringKind {
				continue
			}
			v.fields.parent(req.ProtoReflect()).Set(v.fields.last(), protoreflect.ValueOfString(values[i%2]))
		}
		_, err = roundTrip(tc, binding, req)
		if err != nil {
			t.Fatal(err)
		}
	})
}

// roundTrip sends req through the client's REST encoding and the handler's
// routing and decoding. It returns whether the client refused to build it.
func roundTrip(tc roundTripCase, binding *restBinding, req proto.Message) (refused bool, err error) {
	target, err := binding.appendURL(nil, req.ProtoReflect())
	if err != nil {
		// The client refuses values its template cannot carry; it must say
		// which variable.
		if !bytes.Contains([]byte(err.Error()), []byte("path variable")) {
			return true, status.Errorf(codes.Internal, "client refused %v without naming the variable: %v", req, err)
		}
		return true, nil
	}
	u, err := restURL("http", "example.com", string(target))
	if err != nil {
		return false, status.Errorf(codes.Internal, "client built %q: %v", target, err)
	}
	// What goes on the wire, and what the server reads from it.
	wire, err := url.ParseRequestURI(u.RequestURI())
	if err != nil {
		return false, status.Errorf(codes.Internal, "client built request URI %q, which does not parse: %v", u.RequestURI(), err)
	}
	var body []byte
	if binding.hasBody() {
		if body, err = binding.appendBody(nil, tc.table.json, req); err != nil {
			return false, err
		}
	}
	r := &http.Request{Method: tc.rule.Method, URL: wire, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
	path := wire.EscapedPath()[1:]
	routes := tc.table.table.Load()
	spans := make([][2]int, max(routes.maxVars, 1))
	rt, _ := routes.route(r.Method, path, spans)
	if rt == nil {
		return false, status.Errorf(codes.Internal, "%s %s (built from %v) reaches no route", r.Method, u.RequestURI(), req)
	}
	if rt.method.handler.Method != tc.method || rt.binding.rule.Pattern != tc.rule.Pattern {
		return false, status.Errorf(codes.Internal, "%s %s (built from %v for %s %s) reaches %s %s", r.Method, u.RequestURI(), req,
			tc.method.FullMethod, tc.rule.Pattern, rt.method.handler.Method.FullMethod, rt.binding.rule.Pattern)
	}
	got := tc.method.NewRequest()
	if err := tc.table.decodeREST(r, rt.binding, got, tc.table.json, path, spans); err != nil {
		return false, status.Errorf(codes.Internal, "%s %s (built from %v): handler refuses it: %v", r.Method, u.RequestURI(), req, err)
	}
	for _, v := range binding.path.vars {
		wfd, want := v.fields.get(req.ProtoReflect())
		_, have := v.fields.get(got.ProtoReflect())
		wantText, _ := appendValue(nil, wfd, want)
		haveText, _ := appendValue(nil, wfd, have)
		if !bytes.Equal(wantText, haveText) {
			return false, status.Errorf(codes.Internal, "%s %s: variable %s = %q, sent %q", r.Method, u.RequestURI(), v.name, haveText, wantText)
		}
	}
	return false, nil
}

// TestClientRefusesPathsTheServerRefuses covers what fuzzing found: an
// empty value, or a "**" value ending in "/", before a ":verb" made a path
// that the server routes elsewhere. The client must refuse it, naming the
// field, with InvalidArgument, before sending.
func TestClientRefusesPathsTheServerRefuses(t *testing.T) {
	cases := roundTripCases()
	find := func(pattern string) roundTripCase {
		for _, tc := range cases {
			if tc.rule.Pattern == pattern {
				return tc
			}
		}
		t.Fatalf("no binding %s", pattern)
		return roundTripCase{}
	}
	for _, tc := range []struct {
		pattern string
		req     proto.Message
	}{
		{"/v1/users/{user_id}:undelete", &usersv1.UndeleteUserRequest{}},
		{"/v1/files/{path=**}:download", &usersv1.GetFileRequest{Path: "a/b/"}},
		{"/v1/files/{path=**}:download", &usersv1.GetFileRequest{}},
		{"/v1/{name=orgs/*/users/*}:touch", &usersv1.GetOrgUserRequest{Name: "orgs/acme/users/"}},
	} {
		rc := find(tc.pattern)
		binding, err := compileBinding(rc.method, rc.rule)
		if err != nil {
			t.Fatal(err)
		}
		refused, err := roundTrip(rc, binding, tc.req)
		if err != nil {
			t.Errorf("%s with %v: %v", tc.pattern, tc.req, err)
		} else if !refused {
			t.Errorf("%s with %v: the client built a request; want it refused", tc.pattern, tc.req)
		}
	}
	// Through the Conn: InvalidArgument, not sent.
	conn, err := NewConn("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Invoke(t.Context(), usersv1svc.UserService_UndeleteUser_FullMethodName, &usersv1.UndeleteUserRequest{}, new(usersv1.User))
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !errors.Is(err, transport.ErrNotSent) {
		t.Errorf("UndeleteUser with an empty user_id: %v (not sent: %v); want InvalidArgument, not sent", err, errors.Is(err, transport.ErrNotSent))
	}
}
