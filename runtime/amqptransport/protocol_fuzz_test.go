package amqptransport

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// headerValue makes a header value of one of the types an AMQP table
// carries, picked by kind, from n and s.
func headerValue(kind uint8, n int64, s string) any {
	switch kind % 10 {
	case 0:
		return int32(n)
	case 1:
		return n
	case 2:
		return uint8(n)
	case 3:
		return float64(n) / 2
	case 4:
		return s
	case 5:
		return []byte(s)
	case 6:
		return n%2 == 0
	case 7:
		return []any{s, int16(n), []byte(s)}
	case 8:
		return amqp.Table{s: n}
	}
	return nil
}

// FuzzReadReply reads a reply built from arbitrary headers and body: it
// never panics, every outcome is a status, and a reply that is not a
// success or cannot be decoded never passes for one.
func FuzzReadReply(f *testing.F) {
	good, _ := proto.Marshal(&helloworld.HelloReply{Message: "hi"})
	f.Add(uint8(0), int64(0), "", "", "", "", uint8(4), "", good)
	f.Add(uint8(0), int64(5), "gone", "", "x-user", "application/proto", uint8(4), "ann", good)
	f.Add(uint8(4), int64(0), "14", "", "t-bin", "application/json", uint8(5), "AAE", []byte(`{"message":"hi"}`))
	f.Add(uint8(0), int64(3), "m", "CAMSAW0", "rpc-trailer-x", "", uint8(7), "v", []byte{0xff})
	f.Add(uint8(1), int64(-1), "", "!!!!", "h", "text/plain", uint8(8), "k", []byte(nil))
	f.Add(uint8(3), int64(18), "", "", "", "", uint8(9), "", good)
	c := &Conn{cfg: clientConfig{codec: runtime.ProtoCodec{}}, codecs: defaultCodecs()}
	f.Fuzz(func(t *testing.T, statusKind uint8, code int64, message, details, key, contentType string, valueKind uint8, value string, body []byte) {
		h := amqp.Table{hdrStatus: headerValue(statusKind, code, message)}
		if message != "" {
			h[hdrMessage] = message
		}
		if details != "" {
			h[hdrDetails] = details
		}
		h[key] = headerValue(valueKind, code, value)
		var reply helloworld.HelloReply
		header, trailer, err := c.readReply(amqp.Delivery{Headers: h, ContentType: contentType, Body: body}, &reply, 1<<20)
		if err == nil {
			n, ok := headerInt(h[hdrStatus])
			if !ok || n != 0 {
				t.Fatalf("success from rpc-status %#v", h[hdrStatus])
			}
			return
		}
		if _, ok := status.FromError(err); !ok {
			t.Fatalf("error %v (%T) carries no status", err, err)
		}
		for k := range header {
			if strings.HasPrefix(k, reservedPrefix) {
				t.Errorf("reserved header %q passed as metadata", k)
			}
		}
		for k := range trailer {
			if k != strings.ToLower(k) {
				t.Errorf("trailer key %q is not lower case", k)
			}
		}
	})
}

// FuzzRequestMetadata turns arbitrary request headers into incoming
// metadata: no panic, keys lower case and outside the reserved namespace,
// and a text value under a text key arrives as sent.
func FuzzRequestMetadata(f *testing.F) {
	f.Add("x-user", uint8(4), int64(0), "ann", "Other", uint8(0), int64(7), "")
	f.Add("trace-bin", uint8(4), int64(0), "AAE", "RPC-Deadline", uint8(1), int64(1), "")
	f.Add("data-bin", uint8(5), int64(0), "\x00\xff", "x-death", uint8(8), int64(1), "count")
	f.Add("list", uint8(7), int64(2), "a", "flag", uint8(6), int64(1), "")
	f.Add("bad-bin", uint8(4), int64(0), "!!", "ratio", uint8(3), int64(1), "")
	f.Fuzz(func(t *testing.T, k1 string, kind1 uint8, n1 int64, s1, k2 string, kind2 uint8, n2 int64, s2 string) {
		h := amqp.Table{k1: headerValue(kind1, n1, s1), k2: headerValue(kind2, n2, s2)}
		md := requestMetadata(h)
		for k := range md {
			if k != strings.ToLower(k) || strings.HasPrefix(k, reservedPrefix) {
				t.Errorf("metadata key %q", k)
			}
		}
		key := strings.ToLower(k1)
		if kind1%10 == 4 && !transport.IsBinaryKey(key) && !strings.HasPrefix(key, reservedPrefix) && strings.ToLower(k2) != key {
			if got := md[key]; len(got) != 1 || got[0] != s1 {
				t.Errorf("header %q = %q arrived as %q", k1, s1, got)
			}
		}
	})
}

// FuzzReplyRoundTrip encodes a status with details and metadata as reply
// headers and reads them back: what comes back equals what was sent.
func FuzzReplyRoundTrip(f *testing.F) {
	f.Add(uint32(3), "bad name", "type.googleapis.com/x.Y", []byte{1, 2}, "h", "v", "t-bin", "\x00\xff")
	f.Add(uint32(0), "", "", []byte(nil), "", "", "", "")
	f.Add(uint32(14), "try later", "", []byte(nil), "Upper", "x", "rpc-skip", "y")
	f.Add(uint32(99), "\xff", "u", []byte{0}, "a-bin", "\x00", "t", "")
	f.Add(uint32(3000000000), "huge", "", []byte(nil), "", "", "", "")
	f.Fuzz(func(t *testing.T, code uint32, message, typeURL string, value []byte, hk, hv, tk, tv string) {
		// google.rpc.Status carries the code as an int32: larger codes
		// cannot exist in a status with details, on any transport.
		st := status.New(codes.Code(code%(1<<31)), message)
		if typeURL != "" {
			p := st.Proto()
			p.Details = []*anypb.Any{{TypeUrl: typeURL, Value: value}}
			st = status.FromProto(p)
		}
		header, trailer := metadata.Pairs(hk, hv), metadata.Pairs(tk, tv)
		h, err := replyHeaders(header, trailer, st)
		if err != nil {
			if status.Code(err) != codes.Internal {
				t.Fatalf("replyHeaders: %v, want Internal", err)
			}
			return // a key too long for a header name
		}
		gotHeader, gotTrailer, err := readReply(h)
		strip := func(md metadata.MD) metadata.MD {
			for k := range md {
				if strings.HasPrefix(k, reservedPrefix) {
					delete(md, k)
				}
			}
			return md
		}
		if want := strip(header); !equalMD(gotHeader, want) {
			t.Errorf("header %q, want %q", gotHeader, want)
		}
		if want := strip(trailer); !equalMD(gotTrailer, want) {
			t.Errorf("trailer %q, want %q", gotTrailer, want)
		}
		if st.Code() == codes.OK {
			if err != nil {
				t.Errorf("error %v, want success", err)
			}
			return
		}
		if got := status.Convert(err); !proto.Equal(got.Proto(), st.Proto()) {
			t.Errorf("status %v, want %v", got.Proto(), st.Proto())
		}
	})
}

// FuzzDeadline parses an rpc-deadline header and encodes the deadline
// back: no panic, no overflow, and an expiration RabbitMQ accepts.
func FuzzDeadline(f *testing.F) {
	f.Add(uint8(1), int64(1700000000123), "", int64(0))
	f.Add(uint8(1), int64(math.MaxInt64), "", int64(0))
	f.Add(uint8(1), int64(math.MinInt64), "", int64(0))
	f.Add(uint8(4), int64(0), "9223372036854775807", int64(-1))
	f.Add(uint8(4), int64(0), " 12 ", int64(5))
	f.Add(uint8(3), int64(3), "", int64(math.MaxInt64))
	f.Add(uint8(8), int64(0), "x", int64(0))
	f.Fuzz(func(t *testing.T, kind uint8, n int64, s string, nowMilli int64) {
		deadline, has, err := headerDeadline(amqp.Table{hdrDeadline: headerValue(kind, n, s)})
		if err != nil {
			if has || !strings.Contains(err.Error(), hdrDeadline) {
				t.Fatalf("has %v, error %v", has, err)
			}
			return
		}
		if !has {
			t.Fatal("a header present reads as absent")
		}
		now := time.UnixMilli(nowMilli)
		exp, ms, ok := encodeDeadline(deadline, now)
		if !ok {
			if deadline.After(now) {
				t.Fatalf("deadline %v after now %v refused", deadline, now)
			}
			return
		}
		if ms != deadline.UnixMilli() {
			t.Errorf("rpc-deadline %d, want %d", ms, deadline.UnixMilli())
		}
		e, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || e < 1 || e > maxExpiration {
			t.Errorf("expiration %q for a deadline %v after now", exp, deadline.Sub(now))
		}
	})
}
