package httptransport

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/internal/conformance"
)

// FuzzQueryDecoder decodes random query strings into ListUsersRequest,
// whose fields cover every kind a query carries, as the handler does: it
// must not panic, must fail only with InvalidArgument, and what it accepts
// must be a message that marshals (else the call would fail later with
// Internal).
func FuzzQueryDecoder(f *testing.F) {
	full := conformance.FullListUsersRequest()
	b, err := handlerWithRoutes(userMethods()).routeFor("ListUsers")
	if err != nil {
		f.Fatal(err)
	}
	seed, err := b.appendURL(nil, full.ProtoReflect())
	if err != nil {
		f.Fatal(err)
	}
	_, fullQuery, _ := strings.Cut(string(seed), "?")
	for _, q := range []string{
		fullQuery, "", "pageSize=10", "page_size=-1&pageToken=x", "roles=ROLE_ADMIN&roles=2",
		"createdAfter=2024-01-02T03:04:05Z", "maxAge=1.5s", "readMask=a,b.c", "minRoles=3",
		"namePrefix=%FF", "cursor=AQID", "team=", "filter.emailDomain=x", "filter[a]=b",
		"pageSize=1&pageSize=2", "%zz=1", "a=%", "minScore=NaN", "minScore=0x1p3", "userIds=%C3%28",
		"unknown.deep.field=1", "filter.emailDomain.x=1", ";&&==&",
	} {
		f.Add(q)
	}
	table := handlerWithRoutes(userMethods())
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/v1/users", RawQuery: rawQuery}, Header: http.Header{}, Body: http.NoBody}
		req := new(usersv1.ListUsersRequest)
		err := table.decodeREST(r, b, req, table.json, "v1/users", nil)
		if err != nil {
			if c := status.Code(err); c != codes.InvalidArgument {
				t.Fatalf("query %q: %v; want InvalidArgument", rawQuery, err)
			}
			return
		}
		if _, err := proto.Marshal(req); err != nil {
			t.Fatalf("query %q decoded to a request that does not marshal: %v", rawQuery, err)
		}
	})
}

// routeFor returns the binding of the first route of the method named name.
func (h *Handler) routeFor(name string) (*restBinding, error) {
	for _, rt := range h.table.Load().routes {
		if string(rt.method.handler.Method.Desc.Name()) == name {
			return rt.binding, nil
		}
	}
	return nil, errors.New("no route for " + name)
}

// FuzzTimeoutHeaders parses random Grpc-Timeout and Connect-Timeout-Ms
// values: never a panic, never a negative timeout, an error only as
// InvalidArgument; and what the client encodes decodes to at least as long.
func FuzzTimeoutHeaders(f *testing.F) {
	for _, s := range []string{"", "1", "1n", "99999999H", "99999999M", "9999999999", "99999999999",
		"-1S", "+5m", "0m", "1x", "12345678u", "1.5S", "9223372036854775807", " 1S", "1S "} {
		f.Add(s, int64(time.Second))
	}
	f.Add("1S", int64(math.MaxInt64))
	f.Add("1S", int64(-1))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		for name, decode := range map[string]func(string) (time.Duration, error){
			headerGRPCTimeout:    decodeGRPCTimeout,
			headerConnectTimeout: decodeConnectTimeout,
		} {
			d, err := decode(s)
			if err != nil {
				if status.Code(err) != codes.InvalidArgument {
					t.Fatalf("%s %q: %v; want InvalidArgument", name, s, err)
				}
				continue
			}
			if d < 0 {
				t.Fatalf("%s %q = %v, negative", name, s, d)
			}
		}
		d := time.Duration(n)
		if enc := encodeGRPCTimeout(d); enc != "" {
			got, err := decodeGRPCTimeout(enc)
			if err != nil || (d > 0 && got < d) || len(enc) > 9 {
				t.Fatalf("Grpc-Timeout %v → %q → %v, %v", d, enc, got, err)
			}
		}
		if enc := encodeConnectTimeout(d); enc != "" {
			got, err := decodeConnectTimeout(enc)
			if err != nil || got < d.Truncate(time.Millisecond) || got <= 0 {
				t.Fatalf("Connect-Timeout-Ms %v → %q → %v, %v", d, enc, got, err)
			}
		}
	})
}

// FuzzConnectEndStream parses random end-of-stream messages: never a
// panic, and an error, when there is one, is a status that is not OK.
func FuzzConnectEndStream(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"metadata":{"X-Trailer":["done"],"bin-bin":["AQID"]}}`))
	f.Add([]byte(`{"error":{"code":"not_found","message":"no","details":[{"type":"google.rpc.ErrorInfo","value":"CgNiYWQ"}]}}`))
	f.Add([]byte(`{"error":{"code":"ok"}}`))
	f.Add([]byte(`{"error":{"code":5}}`))
	f.Add([]byte(`{"error":null,"metadata":{"":[""]}}`))
	f.Add([]byte(`{"error":{"code":"what"}}`))
	f.Add([]byte(`{"error":"text"}`))
	f.Add([]byte(`[`))
	f.Add([]byte(`{"error":{"code":null,"message":"oops"}}`))
	f.Add([]byte(`{"error":{"message":"oops"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err, _ := parseEndStream(data)
		if err == nil {
			return
		}
		st, ok := status.FromError(err)
		if !ok || st.Code() == codes.OK {
			t.Fatalf("end of stream %q: error %v carries no failing status", data, err)
		}
	})
}

// FuzzErrorBody parses random error bodies under each content type a
// failed response may carry: never a panic, and always a failing status.
func FuzzErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"code":"unavailable","message":"later"}`,
		`{"code":14,"message":"later","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"x"}]}`,
		`{"code":0}`, `{"code":-1}`, `{"code":"ok"}`, `{"code":1e3}`, `{"code":"\u0000"}`,
		`{"code":"internal","details":[{"type":"x","value":"!!"},{"debug":{}}]}`, "\x08\x05\x12\x02no", "",
		`{"message":"oops"}`, `{"code":null,"message":"oops"}`, `{"code":"foobar","message":"oops"}`,
	} {
		f.Add([]byte(s), uint8(0), uint16(503))
		f.Add([]byte(s), uint8(1), uint16(400))
	}
	contentTypes := []string{"application/json", "application/proto", "application/connect+json", "text/html", "application/json; charset=utf-8", ""}
	f.Fuzz(func(t *testing.T, body []byte, ct uint8, httpStatus uint16) {
		if httpStatus == http.StatusOK {
			// The client reads an error body only from a response that
			// is not 200 OK.
			httpStatus = http.StatusInternalServerError
		}
		resp := &http.Response{StatusCode: int(httpStatus), Status: http.StatusText(int(httpStatus)), Header: http.Header{}}
		resp.Header.Set(headerContentType, contentTypes[int(ct)%len(contentTypes)])
		if st := statusFromResponse(resp, body); st == nil || st.Code() == codes.OK {
			t.Fatalf("error body %q under %s: status %v", body, resp.Header.Get(headerContentType), st)
		}
	})
}

// FuzzRequestEnvelope reads random enveloped bodies both ways: as a
// request body that must hold exactly one envelope, and as a stream. Never
// a panic; errors are statuses; both agree on a body of one envelope; and
// the reader never holds more than it was given.
func FuzzRequestEnvelope(f *testing.F) {
	one := appendEnvelopeHeader(nil, 0, 2)
	one = append(one, "{}"...)
	f.Add(one, int64(0))
	f.Add(append(append([]byte{}, one...), one...), int64(0))
	f.Add(append(append([]byte{}, one...), 0, 0), int64(0))
	f.Add([]byte{0, 0x40, 0, 0, 0, '{'}, int64(0))
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff}, int64(4<<20))
	f.Add([]byte{2, 0, 0, 0, 0}, int64(1))
	f.Add([]byte{1, 0, 0, 0, 3, 1, 2, 3}, int64(2))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, body []byte, limit int64) {
		flags, data, err := splitRequestEnvelope(body, limit)
		if err != nil && err != io.EOF {
			if _, ok := status.FromError(err); !ok {
				t.Fatalf("body %x: %v is not a status", body, err)
			}
		}
		r := bytes.NewReader(body)
		rflags, rdata, rerr := readEnvelope(r, nil, limit)
		if cap(rdata) > len(body)+envelopeReadChunk {
			t.Fatalf("body of %d bytes: the reader holds %d bytes", len(body), cap(rdata))
		}
		if err == nil {
			if rerr != nil || rflags != flags || !bytes.Equal(rdata, data) || r.Len() != 0 {
				t.Fatalf("body %x: one envelope (%d, %x) for the request reader, (%d, %x, %v, %d left) for the stream reader", body, flags, data, rflags, rdata, rerr, r.Len())
			}
		}
	})
}
