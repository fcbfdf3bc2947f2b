package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"connectrpc.com/connect"
	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	benchv1 "github.com/svcclient/svcclient/bench/gen/bench/v1"
	"github.com/svcclient/svcclient/bench/gen/bench/v1/benchv1connect"
	"github.com/svcclient/svcclient/bench/gen/bench/v1/benchv1svc"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// httpClient returns a client of its own for one side of a comparison, so
// neither side shares the other's connection pool.
func httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
}

func startHTTP(b *testing.B, h http.Handler) string {
	b.Helper()
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL
}

// svcHandler is our HTTP server for Impl.
func svcHandler() http.Handler {
	return httptransport.NewHandler(benchv1svc.NewBenchServiceService(Impl{}))
}

// connectHandler is connect-go's handler for Impl.
func connectHandler() http.Handler {
	mux := http.NewServeMux()
	path, h := benchv1connect.NewBenchServiceHandler(ConnectHandler{})
	mux.Handle(path, h)
	return mux
}

// gatewayHandler is grpc-gateway's in-process mux for Impl (no gRPC hop).
func gatewayHandler(b *testing.B) http.Handler {
	mux := gwruntime.NewServeMux()
	if err := benchv1.RegisterBenchServiceHandlerServer(context.Background(), mux, Impl{}); err != nil {
		b.Fatal(err)
	}
	return mux
}

func svcHTTPConn(b *testing.B, base string, codec runtime.Codec) grpc.ClientConnInterface {
	b.Helper()
	conn, err := httptransport.NewConn(base, httptransport.WithHTTPClient(httpClient()), httptransport.WithCodec(codec))
	if err != nil {
		b.Fatal(err)
	}
	return conn
}

// BenchmarkHTTPDefaultRoute: our client on a method's Connect route against
// connect-go's client, both calling the same connect-go server.
func BenchmarkHTTPDefaultRoute(b *testing.B) {
	base := startHTTP(b, connectHandler())
	codecs := []struct {
		name    string
		ours    runtime.Codec
		connect []connect.ClientOption
	}{
		{"json", &runtime.JSONCodec{}, []connect.ClientOption{connect.WithProtoJSON()}},
		{"proto", runtime.ProtoCodec{}, nil},
	}
	for _, size := range Sizes {
		req := Message(size.Bytes)
		for _, codec := range codecs {
			clients := []struct {
				name string
				echo func(context.Context, *benchv1.Payload) (*benchv1.Payload, error)
			}{
				{"svcclient", svcEcho(benchv1svc.NewBenchServiceClient(svcHTTPConn(b, base, codec.ours)))},
				{"connect-go", connectEcho(benchv1connect.NewBenchServiceClient(httpClient(), base, codec.connect...))},
			}
			// Warm both clients and the server (connections, pools) first,
			// so that neither pays for going first.
			for _, c := range clients {
				warmUp(b, func(ctx context.Context) error { _, err := c.echo(ctx, req); return err })
			}
			for _, c := range clients {
				b.Run(fmt.Sprintf("size=%s/codec=%s/client=%s", size.Name, codec.name, c.name), func(b *testing.B) {
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						if _, err := c.echo(ctx, req); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

func svcEcho(c benchv1svc.BenchServiceClient) func(context.Context, *benchv1.Payload) (*benchv1.Payload, error) {
	return func(ctx context.Context, in *benchv1.Payload) (*benchv1.Payload, error) { return c.Echo(ctx, in) }
}

func connectEcho(c benchv1connect.BenchServiceClient) func(context.Context, *benchv1.Payload) (*benchv1.Payload, error) {
	return func(ctx context.Context, in *benchv1.Payload) (*benchv1.Payload, error) {
		resp, err := c.Echo(ctx, connect.NewRequest(in))
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}
}

// handWritten is the REST peer: net/http and protojson, written the way a
// careful user writes a client for one route, against the same server.
type handWritten struct {
	client *http.Client
	base   string
}

func (h handWritten) do(req *http.Request, out *benchv1.Payload) error {
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return protojson.Unmarshal(body, out)
}

func (h handWritten) GetItem(ctx context.Context, in *benchv1.GetItemRequest) (*benchv1.Payload, error) {
	q := url.Values{}
	q.Set("filter", in.GetFilter())
	q.Set("limit", fmt.Sprint(in.GetLimit()))
	q.Set("size", fmt.Sprint(in.GetSize()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/v1/items/"+url.PathEscape(in.GetId())+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	out := new(benchv1.Payload)
	return out, h.do(req, out)
}

func (h handWritten) PutItem(ctx context.Context, in *benchv1.PutItemRequest) (*benchv1.Payload, error) {
	body, err := protojson.Marshal(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/v1/items/"+url.PathEscape(in.GetId()), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	out := new(benchv1.Payload)
	return out, h.do(req, out)
}

// BenchmarkHTTPREST: our client on REST routes against the hand-written
// client, both calling our HTTP server.
func BenchmarkHTTPREST(b *testing.B) {
	base := startHTTP(b, svcHandler())
	ours := benchv1svc.NewBenchServiceClient(svcHTTPConn(b, base, &runtime.JSONCodec{}))
	peer := handWritten{client: httpClient(), base: base}
	for _, size := range Sizes {
		get := &benchv1.GetItemRequest{Id: "item 42", Filter: "colour=blue", Limit: 10, Size: int32(size.Bytes)}
		put := &benchv1.PutItemRequest{Id: "item 42", Payload: Message(size.Bytes)}
		for _, c := range []struct {
			name string
			get  func(context.Context, *benchv1.GetItemRequest) (*benchv1.Payload, error)
			put  func(context.Context, *benchv1.PutItemRequest) (*benchv1.Payload, error)
		}{
			{"svcclient", func(ctx context.Context, in *benchv1.GetItemRequest) (*benchv1.Payload, error) {
				return ours.GetItem(ctx, in)
			},
				func(ctx context.Context, in *benchv1.PutItemRequest) (*benchv1.Payload, error) {
					return ours.PutItem(ctx, in)
				}},
			{"net-http", peer.GetItem, peer.PutItem},
		} {
			warmUp(b, func(ctx context.Context) error { _, err := c.get(ctx, get); return err })
			warmUp(b, func(ctx context.Context) error { _, err := c.put(ctx, put); return err })
			b.Run(fmt.Sprintf("route=GET/size=%s/client=%s", size.Name, c.name), func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.get(ctx, get); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("route=POST/size=%s/client=%s", size.Name, c.name), func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.put(ctx, put); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkHTTPServer: our handler against connect-go's handler (Connect
// route) and grpc-gateway's in-process mux (REST route), serving the same
// implementation. Requests go straight to ServeHTTP from all cores, so the
// figure is the server's own cost; req/s is the throughput it gives.
func BenchmarkHTTPServer(b *testing.B) {
	for _, size := range Sizes {
		body, err := protojson.Marshal(Message(size.Bytes))
		if err != nil {
			b.Fatal(err)
		}
		getURL := fmt.Sprintf("/v1/items/item%%2042?filter=colour%%3Dblue&limit=10&size=%d", size.Bytes)
		for _, tc := range []struct {
			route, server string
			handler       http.Handler
			method, url   string
			body          []byte
		}{
			{"connect", "svcclient", svcHandler(), http.MethodPost, "/bench.v1.BenchService/Echo", body},
			{"connect", "connect-go", connectHandler(), http.MethodPost, "/bench.v1.BenchService/Echo", body},
			{"rest-get", "svcclient", svcHandler(), http.MethodGet, getURL, nil},
			{"rest-get", "grpc-gateway", gatewayHandler(b), http.MethodGet, getURL, nil},
			{"rest-post", "svcclient", svcHandler(), http.MethodPost, "/v1/items/item42", []byte(`{"payload":` + string(body) + `}`)},
			{"rest-post", "grpc-gateway", gatewayHandler(b), http.MethodPost, "/v1/items/item42", []byte(`{"payload":` + string(body) + `}`)},
		} {
			b.Run(fmt.Sprintf("route=%s/size=%s/server=%s", tc.route, size.Name, tc.server), func(b *testing.B) {
				check := serveOnce(tc.handler, tc.method, tc.url, tc.body)
				if check.Code != http.StatusOK {
					b.Fatalf("%s %s: %d %s", tc.method, tc.url, check.Code, check.Body)
				}
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if rec := serveOnce(tc.handler, tc.method, tc.url, tc.body); rec.Code != http.StatusOK {
							b.Errorf("status %d", rec.Code)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
		}
	}
}

func serveOnce(h http.Handler, method, target string, body []byte) *httptest.ResponseRecorder {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
