package httptransport_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"testing"

	"google.golang.org/grpc/codes"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

func envelope(flags byte, msg string) []byte {
	b := []byte{flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// TestConnectStreamRequestCardinality sends a server-stream request body
// holding more than its one envelope. connect-go's handlers answer a second
// message with Unimplemented and bytes that are not a whole envelope with
// InvalidArgument; so must ours, instead of serving the first message.
func TestConnectStreamRequestCardinality(t *testing.T) {
	base := usersServer(t)
	one := envelope(0, `{"userIds":["a"],"maxEvents":1}`)
	for _, tc := range []struct {
		name string
		body []byte
		want string // Connect code name; "" for success
	}{
		{"one", one, ""},
		{"two envelopes", append(append([]byte{}, one...), one...), "unimplemented"},
		{"end-stream after", append(append([]byte{}, one...), envelope(2, "{}")...), "unimplemented"},
		{"3 trailing bytes", append(append([]byte{}, one...), 0, 0, 0), "invalid_argument"},
		{"truncated second", append(append([]byte{}, one...), 0, 0, 0, 0, 9, '{'), "invalid_argument"},
		{"truncated first", one[:len(one)-1], "invalid_argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(testContext(t), http.MethodPost, base+usersv1svc.UserService_WatchUsers_FullMethodName, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/connect+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %s: %q", resp.Status, body)
			}
			// The last envelope is the end of the stream.
			var end []byte
			for len(body) >= 5 {
				n := int(binary.BigEndian.Uint32(body[1:5]))
				if n > len(body)-5 {
					t.Fatalf("response is not a stream of envelopes: %q", body)
				}
				end, body = body[5:5+n], body[5+n:]
			}
			var parsed struct {
				Error *struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(end, &parsed); err != nil {
				t.Fatalf("end of stream %q: %v", end, err)
			}
			got := ""
			if parsed.Error != nil {
				got = parsed.Error.Code
			}
			if got != tc.want {
				t.Errorf("end of stream %s, want code %q", end, tc.want)
			}
		})
	}
}

// TestHugeEnvelopePrefix answers a stream with a prefix announcing 1 GiB,
// then closes. With the read limit off, the client must fail without
// allocating what was announced.
func TestHugeEnvelopePrefix(t *testing.T) {
	hostile := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/connect+json")
		_, _ = w.Write([]byte{0, 0x40, 0, 0, 0, '{'})
	}))
	client := usersClient(t, hostile, httptransport.WithConnectRoutes(), httptransport.WithReadMaxBytes(0))
	ctx := testContext(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	stream, err := client.WatchUsers(ctx, &usersv1.WatchUsersRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	runtime.ReadMemStats(&after)
	wantCode(t, err, codes.Internal)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes for a 1 GiB prefix; error: %v", allocated, err)
	if allocated > 4<<20 {
		t.Errorf("allocated %d bytes for a message whose prefix announced 1 GiB and which sent 1 byte", allocated)
	}
}
