package amqptransport

import (
	"encoding/base64"
	"math"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/runtime"
)

// These tests cover the wire encoding of docs/amqp-protocol.md without a
// broker: headers to and from metadata, status and deadline.

func TestCodecNameForContentType(t *testing.T) {
	for ct, want := range map[string]string{
		"application/proto":                      "proto",
		"application/json":                       "json",
		"application/protobuf":                   "proto",
		"application/x-protobuf":                 "proto",
		"application/vnd.google.protobuf":        "proto",
		"application/json; charset=utf-8":        "json",
		"Application/JSON":                       "json",
		"application/proto; proto=helloworld.Hi": "proto",
		"text/plain":                             "",
		"application/":                           "",
		"":                                       "",
		";;;":                                    "",
	} {
		if got := codecNameForContentType(ct); got != want {
			t.Errorf("codecNameForContentType(%q) = %q, want %q", ct, got, want)
		}
	}
}

func TestCodecSetForContentType(t *testing.T) {
	cs := defaultCodecs()
	fallback := &runtime.JSONCodec{}
	for _, tc := range []struct {
		ct, want string
		fails    bool
	}{
		{"", "json", false}, // the fallback
		{"application/proto", "proto", false},
		{"application/json", "json", false},
		{"text/plain", "", true},
	} {
		c, err := cs.forContentType(tc.ct, fallback)
		if tc.fails {
			if err == nil || !strings.Contains(err.Error(), "unsupported content_type") {
				t.Errorf("%q: error %v, want unsupported content_type", tc.ct, err)
			}
			continue
		}
		if err != nil || c.Name() != tc.want {
			t.Errorf("%q: codec %v, %v; want %s", tc.ct, c, err, tc.want)
		}
	}
	custom := &runtime.JSONCodec{}
	cs.set(custom)
	cs.set(runtime.ProtoCodec{})
	if c, _ := cs.forContentType("application/json", nil); c != custom {
		t.Error("set did not replace the json codec")
	}
	if got := contentType(runtime.ProtoCodec{}); got != "application/proto" {
		t.Errorf("contentType(proto) = %q", got)
	}
}

func TestEncodeDeadline(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		name       string
		remaining  time.Duration
		expiration string
		ok         bool
	}{
		{"passed", -time.Second, "", false},
		{"now", 0, "", false},
		{"under a millisecond rounds up", 300 * time.Microsecond, "1", true},
		{"one millisecond", time.Millisecond, "1", true},
		{"a bit over rounds up", time.Millisecond + 1, "2", true},
		{"five seconds", 5 * time.Second, "5000", true},
		{"just under the cap", (maxExpiration - 1) * time.Millisecond, "4294967294", true},
		{"at the cap", maxExpiration * time.Millisecond, "4294967295", true},
		{"a year", 365 * 24 * time.Hour, "4294967295", true},
		{"the largest Duration", math.MaxInt64, "4294967295", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deadline := now.Add(tc.remaining)
			exp, ms, ok := encodeDeadline(deadline, now)
			if exp != tc.expiration || ok != tc.ok {
				t.Errorf("encodeDeadline = %q, %v; want %q, %v", exp, ok, tc.expiration, tc.ok)
			}
			if ok && ms != deadline.UnixMilli() {
				t.Errorf("rpc-deadline = %d, want %d", ms, deadline.UnixMilli())
			}
		})
	}
}

func TestHeaderInt(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want int64
		ok   bool
	}{
		{int8(-8), -8, true},
		{uint8(8), 8, true},
		{int16(-16), -16, true},
		{uint16(16), 16, true},
		{int32(-32), -32, true},
		{uint32(math.MaxUint32), math.MaxUint32, true},
		{int64(math.MinInt64), math.MinInt64, true},
		{int(7), 7, true},
		{float64(12), 12, true},
		{float64(1.5), 0, false},
		{float64(1 << 60), 0, false}, // beyond a double's exact integers
		{math.NaN(), 0, false},
		{math.Inf(1), 0, false},
		{float32(3), 3, true},
		{float32(0.5), 0, false},
		{" 42 ", 42, true},
		{"-1", -1, true},
		{"soon", 0, false},
		{"99999999999999999999", 0, false},
		{[]byte("17"), 17, true},
		{[]byte("x"), 0, false},
		{true, 0, false},
		{nil, 0, false},
		{amqp.Table{}, 0, false},
	} {
		got, ok := headerInt(tc.v)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("headerInt(%#v) = %d, %v; want %d, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHeaderString(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
		ok   bool
	}{
		{"text", "text", true},
		{[]byte("bytes"), "bytes", true},
		{int32(1), "", false},
		{nil, "", false},
	} {
		if got, ok := headerString(tc.v); got != tc.want || ok != tc.ok {
			t.Errorf("headerString(%#v) = %q, %v; want %q, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHeaderDeadline(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h     amqp.Table
		want  time.Time
		has   bool
		fails bool
	}{
		{"absent", amqp.Table{"other": "x"}, time.Time{}, false, false},
		{"nil table", nil, time.Time{}, false, false},
		{"int64", amqp.Table{hdrDeadline: int64(1700000000123)}, time.UnixMilli(1700000000123), true, false},
		{"int32", amqp.Table{hdrDeadline: int32(5)}, time.UnixMilli(5), true, false},
		{"decimal string", amqp.Table{hdrDeadline: "1700000000123"}, time.UnixMilli(1700000000123), true, false},
		{"double", amqp.Table{hdrDeadline: float64(1700000000123)}, time.UnixMilli(1700000000123), true, false},
		{"largest", amqp.Table{hdrDeadline: int64(math.MaxInt64)}, time.UnixMilli(math.MaxInt64), true, false},
		{"text", amqp.Table{hdrDeadline: "soon"}, time.Time{}, false, true},
		{"table", amqp.Table{hdrDeadline: amqp.Table{}}, time.Time{}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, has, err := headerDeadline(tc.h)
			if (err != nil) != tc.fails {
				t.Fatalf("error %v, want failure %v", err, tc.fails)
			}
			if err != nil {
				if !strings.Contains(err.Error(), hdrDeadline) {
					t.Errorf("error %q does not name the header", err)
				}
				return
			}
			if !got.Equal(tc.want) || has != tc.has {
				t.Errorf("headerDeadline = %v, %v; want %v, %v", got, has, tc.want, tc.has)
			}
		})
	}
}

func TestRequestMetadata(t *testing.T) {
	bin := []byte{0, 1, 0xff}
	h := amqp.Table{
		"X-User":        "ann",                                     // lower-cased
		"multi":         []any{"a", "b"},                           // several values
		"nested":        []any{"a", []any{"b", int32(3)}},          // arrays of arrays flatten
		"trace-bin":     base64.RawStdEncoding.EncodeToString(bin), // unpadded base64
		"padded-bin":    base64.StdEncoding.EncodeToString(bin),    // padded base64
		"raw-bin":       bin,                                       // a byte array is the value
		"bad-bin":       "!!not base64!!",                          // dropped, as grpc-go drops it
		"count":         int32(3),                                  // integers as decimal
		"big":           uint32(math.MaxUint32),                    //
		"ratio":         float64(0.5),                              // floats in shortest form
		"ratio32":       float32(0.25),                             //
		"flag":          true,                                      // booleans
		"x-death":       []any{amqp.Table{"count": int64(1)}},      // tables are not metadata
		"when":          time.Unix(0, 0),                           // nor timestamps
		"none":          nil,                                       // nor void
		"price":         amqp.Decimal{Scale: 2, Value: 150},        // nor decimals
		hdrDeadline:     int64(1),                                  // reserved: not metadata
		"RPC-Status":    int32(3),                                  // reserved whatever the case
		"rpc-trailer-x": "x",                                       // reserved
	}
	want := metadata.MD{
		"x-user":     {"ann"},
		"multi":      {"a", "b"},
		"nested":     {"a", "b", "3"},
		"trace-bin":  {string(bin)},
		"padded-bin": {string(bin)},
		"raw-bin":    {string(bin)},
		"count":      {"3"},
		"big":        {"4294967295"},
		"ratio":      {"0.5"},
		"ratio32":    {"0.25"},
		"flag":       {"true"},
	}
	if got := requestMetadata(h); !equalMD(got, want) {
		t.Errorf("requestMetadata = %v, want %v", got, want)
	}
	if got := requestMetadata(nil); got != nil {
		t.Errorf("requestMetadata(nil) = %v, want nil", got)
	}
}

func TestPutMetadata(t *testing.T) {
	md := metadata.Pairs("one", "1", "two", "a", "two", "b", "data-bin", "\x00\xff", "rpc-internal", "x")
	md["empty"] = nil
	h, err := putMetadata(nil, trailerPrefix, md)
	if err != nil {
		t.Fatal(err)
	}
	want := amqp.Table{
		"rpc-trailer-one":      "1",
		"rpc-trailer-two":      []any{"a", "b"},
		"rpc-trailer-data-bin": base64.RawStdEncoding.EncodeToString([]byte("\x00\xff")),
	}
	if len(h) != len(want) {
		t.Fatalf("headers %v, want %v", h, want)
	}
	for k, v := range want {
		if !equalValue(h[k], v) {
			t.Errorf("header %s = %#v, want %#v", k, h[k], v)
		}
	}
	if h, err := putMetadata(nil, "", metadata.MD{"rpc-only": {"x"}}); err != nil || h != nil {
		t.Errorf("reserved keys only: %v, %v; want no table", h, err)
	}
	long := strings.Repeat("k", maxHeaderName-len(trailerPrefix)+1)
	_, err = putMetadata(nil, trailerPrefix, metadata.MD{long: {"v"}})
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "longer than an AMQP header name") {
		t.Errorf("a key too long for a header: %v, want Internal", err)
	}
	if _, err := putMetadata(nil, "", metadata.MD{long: {"v"}}); err != nil {
		t.Errorf("the same key without the prefix fits: %v", err)
	}
}

func TestReplyHeadersRoundTrip(t *testing.T) {
	withDetails, err := status.New(codes.InvalidArgument, "bad name").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "empty"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	header := metadata.Pairs("h", "1", "h", "2", "h-bin", "\x00")
	trailer := metadata.Pairs("t", "x", "t-bin", "\xff\xfe")
	for _, tc := range []struct {
		name string
		st   *status.Status
	}{
		{"success", nil},
		{"OK status", status.New(codes.OK, "")},
		{"code only", status.New(codes.NotFound, "")},
		{"code and message", status.New(codes.Unavailable, "try later")},
		{"details", withDetails},
		{"code above the known ones", status.New(codes.Code(99), "new")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := replyHeaders(header, trailer, tc.st)
			if err != nil {
				t.Fatal(err)
			}
			gotHeader, gotTrailer, err := readReply(h)
			if !equalMD(gotHeader, header) || !equalMD(gotTrailer, trailer) {
				t.Errorf("metadata = %v, %v; want %v, %v", gotHeader, gotTrailer, header, trailer)
			}
			if tc.st == nil || tc.st.Code() == codes.OK {
				if err != nil {
					t.Errorf("error %v, want none", err)
				}
				if _, ok := h[hdrStatus]; ok {
					t.Error("a success carries rpc-status")
				}
				return
			}
			if !proto.Equal(status.Convert(err).Proto(), tc.st.Proto()) {
				t.Errorf("status = %v, want %v", status.Convert(err).Proto(), tc.st.Proto())
			}
		})
	}
	if h, err := replyHeaders(nil, nil, nil); err != nil || h != nil {
		t.Errorf("no metadata, no status: %v, %v; want no table", h, err)
	}
	long := metadata.MD{strings.Repeat("k", 300): {"v"}}
	if _, err := replyHeaders(long, nil, nil); status.Code(err) != codes.Internal {
		t.Errorf("header key too long: %v, want Internal", err)
	}
	if _, err := replyHeaders(nil, long, nil); status.Code(err) != codes.Internal {
		t.Errorf("trailer key too long: %v, want Internal", err)
	}
}

func TestReadReply(t *testing.T) {
	details := func(code codes.Code) []byte {
		b, err := proto.Marshal(&spb.Status{Code: int32(code), Message: "m", Details: []*anypb.Any{{TypeUrl: "type.googleapis.com/x.Y"}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		h       amqp.Table
		code    codes.Code
		message string // a part of the error's message
	}{
		{"no headers", nil, codes.OK, ""},
		{"status 0", amqp.Table{hdrStatus: int32(0), hdrMessage: "ignored"}, codes.OK, ""},
		{"status as int32", amqp.Table{hdrStatus: int32(5), hdrMessage: "gone"}, codes.NotFound, "gone"},
		{"status as a string", amqp.Table{hdrStatus: "14"}, codes.Unavailable, ""},
		{"status as a double", amqp.Table{hdrStatus: float64(7)}, codes.PermissionDenied, ""},
		{"status upper case", amqp.Table{"RPC-Status": int8(3), "Rpc-Message": []byte("bytes")}, codes.InvalidArgument, "bytes"},
		{"message not text", amqp.Table{hdrStatus: int32(2), hdrMessage: int32(1)}, codes.Unknown, ""},
		{"status not a number", amqp.Table{hdrStatus: "bad"}, codes.Internal, "want a gRPC status code"},
		{"status negative", amqp.Table{hdrStatus: int32(-1)}, codes.Internal, "want a gRPC status code"},
		{"status too large", amqp.Table{hdrStatus: int64(math.MaxUint32 + 1)}, codes.Internal, "want a gRPC status code"},
		{"status a table", amqp.Table{hdrStatus: amqp.Table{}}, codes.Internal, "want a gRPC status code"},
		{"details padded base64", amqp.Table{hdrStatus: int32(9), hdrDetails: base64.StdEncoding.EncodeToString(details(9))}, codes.FailedPrecondition, "m"},
		{"details unpadded base64", amqp.Table{hdrStatus: int32(9), hdrDetails: base64.RawStdEncoding.EncodeToString(details(9))}, codes.FailedPrecondition, "m"},
		{"details as bytes", amqp.Table{hdrStatus: int32(9), hdrDetails: details(9)}, codes.FailedPrecondition, "m"},
		{"details not base64", amqp.Table{hdrStatus: int32(9), hdrDetails: "!!!!"}, codes.Internal, hdrDetails},
		{"details not text", amqp.Table{hdrStatus: int32(9), hdrDetails: int32(1)}, codes.Internal, "want base64 text or a byte array"},
		{"details not a Status", amqp.Table{hdrStatus: int32(9), hdrDetails: []byte{0xff}}, codes.Internal, hdrDetails},
		{"details with another code", amqp.Table{hdrStatus: int32(9), hdrDetails: details(5)}, codes.Internal, "has code NotFound"},
		{"details on a success are ignored", amqp.Table{hdrDetails: "!!!!"}, codes.OK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readReply(tc.h)
			st, ok := status.FromError(err)
			if !ok {
				t.Fatalf("error %v carries no status", err)
			}
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.message) {
				t.Errorf("status %v %q, want %v with %q", st.Code(), st.Message(), tc.code, tc.message)
			}
		})
	}
}

func TestConnReadReply(t *testing.T) {
	c := &Conn{cfg: clientConfig{codec: runtime.ProtoCodec{}}, codecs: defaultCodecs()}
	good, _ := proto.Marshal(&helloworld.HelloReply{Message: "hi"})
	for _, tc := range []struct {
		name string
		d    amqp.Delivery
		code codes.Code
	}{
		{"proto", amqp.Delivery{Body: good}, codes.OK},
		{"json", amqp.Delivery{ContentType: "application/json", Body: []byte(`{"message":"hi"}`)}, codes.OK},
		{"error status wins over the body", amqp.Delivery{Headers: amqp.Table{hdrStatus: int32(5)}, Body: []byte{0xff}}, codes.NotFound},
		{"over the limit", amqp.Delivery{Body: make([]byte, 65)}, codes.ResourceExhausted},
		{"unknown content type", amqp.Delivery{ContentType: "text/plain", Body: good}, codes.Internal},
		{"malformed proto", amqp.Delivery{Body: []byte{0xff, 0xff}}, codes.Internal},
		{"malformed json", amqp.Delivery{ContentType: "application/json", Body: []byte(`{`)}, codes.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reply helloworld.HelloReply
			_, _, err := c.readReply(tc.d, &reply, 64)
			if got := status.Code(err); got != tc.code {
				t.Fatalf("code %v (%v), want %v", got, err, tc.code)
			}
			if tc.code == codes.OK && reply.GetMessage() != "hi" {
				t.Errorf("reply %q, want hi", reply.GetMessage())
			}
		})
	}
}

func TestServiceName(t *testing.T) {
	for in, want := range map[string]string{
		"/helloworld.Greeter/SayHello": "helloworld.Greeter",
		"helloworld.Greeter/SayHello":  "helloworld.Greeter",
		"/a/b/c":                       "a/b",
		"noslash":                      "noslash",
		"":                             "",
	} {
		if got := serviceName(in); got != want {
			t.Errorf("serviceName(%q) = %q, want %q", in, got, want)
		}
	}
}

// equalMD compares metadata, an empty MD being equal to nil.
func equalMD(a, b metadata.MD) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if av[i] != bv[i] {
				return false
			}
		}
	}
	return true
}

func equalValue(a, b any) bool {
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok != bok {
		return false
	}
	if !aok {
		return a == b
	}
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		if as[i] != bs[i] {
			return false
		}
	}
	return true
}
