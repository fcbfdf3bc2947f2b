package golden_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/svcclient/svcclient/golden/gen/clashes"
	"github.com/svcclient/svcclient/golden/gen/clashes/clashessvc"
	"github.com/svcclient/svcclient/golden/gen/editions"
	"github.com/svcclient/svcclient/golden/gen/editions/editionssvc"
	"github.com/svcclient/svcclient/golden/gen/streaming"
	"github.com/svcclient/svcclient/golden/gen/streaming/streamingsvc"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/grpctransport"
	"github.com/svcclient/svcclient/runtime/transport"
)

// The generated client has the method set of protoc-gen-go-grpc's client
// interface, so code written against grpc-go's generated API takes it.
var _ clashes.ClientClient = clashessvc.NewClientClient(nil)

// clientImpl is written the protoc-gen-go-grpc way, embedding grpc-go's
// generated Unimplemented type; svcclient serves it unchanged.
type clientImpl struct {
	clashes.UnimplementedClientServer
}

func (clientImpl) Close(_ context.Context, in *clashes.Request) (*clashes.Response, error) {
	return &clashes.Response{Text: "closed " + in.GetText()}, nil
}

func (clientImpl) String(_ context.Context, in *clashes.Request) (*clashes.Response, error) {
	return &clashes.Response{Text: "string " + in.GetText()}, nil
}

func (clientImpl) Invoke(_ context.Context, in *clashes.Request) (*clashes.Response, error) {
	return &clashes.Response{Text: "invoked " + in.GetText()}, nil
}

type selectImpl struct {
	clashessvc.UnimplementedSelectServer
}

func (selectImpl) Func(_ context.Context, in *clashes.Request) (*clashes.Response, error) {
	return &clashes.Response{Text: "func " + in.GetText()}, nil
}

func (selectImpl) Type(stream grpc.BidiStreamingServer[clashes.Request, clashes.Response]) error {
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&clashes.Response{Text: "type " + in.GetText()}); err != nil {
			return err
		}
	}
}

type ledger struct {
	editionssvc.UnimplementedLedgerServer
	balance int64
}

func (l *ledger) Record(_ context.Context, in *editions.Entry) (*editions.Balance, error) {
	l.balance += in.GetAmount()
	return &editions.Balance{Amount: l.balance}, nil
}

type streamer struct {
	streamingsvc.UnimplementedStreamerServer
}

func (streamer) Download(in *streaming.Item, stream grpc.ServerStreamingServer[streaming.Item]) error {
	for i := int64(0); i < in.GetValue(); i++ {
		if err := stream.Send(&streaming.Item{Value: i}); err != nil {
			return err
		}
	}
	return nil
}

func (streamer) Upload(stream grpc.ClientStreamingServer[streaming.Item, streaming.Total]) error {
	var sum int64
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&streaming.Total{Sum: sum})
		}
		if err != nil {
			return err
		}
		sum += in.GetValue()
	}
}

// transports returns a Conn over each transport that carries every kind of
// call, serving services.
func transports(t *testing.T, services ...*runtime.Service) map[string]grpc.ClientConnInterface {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	for _, s := range services {
		grpctransport.Register(srv, s)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return map[string]grpc.ClientConnInterface{
		"grpc":      grpctransport.NewConn(cc),
		"inprocess": runtime.NewInProcessConn(services...),
	}
}

// TestGeneratedCodeCalls makes real calls through the golden packages.
func TestGeneratedCodeCalls(t *testing.T) {
	services := []*runtime.Service{
		clashessvc.NewClientService(clientImpl{}),
		clashessvc.NewSelectService(selectImpl{}),
		editionssvc.NewLedgerService(&ledger{}),
		streamingsvc.NewStreamerService(streamer{}),
	}
	for name, conn := range transports(t, services...) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			client := clashessvc.NewClientClient(conn)
			for _, call := range []struct {
				method func(context.Context, *clashes.Request, ...grpc.CallOption) (*clashes.Response, error)
				want   string
			}{
				{client.Close, "closed x"},
				{client.String, "string x"},
				{client.Invoke, "invoked x"},
			} {
				resp, err := call.method(ctx, &clashes.Request{Text: "x"})
				if err != nil || resp.GetText() != call.want {
					t.Errorf("got %v, %v; want %q", resp, err, call.want)
				}
			}
			// Conn is left to grpc-go's Unimplemented type.
			_, err := client.Conn(ctx, &clashes.Request{})
			if status.Code(err) != codes.Unimplemented {
				t.Errorf("Conn: err = %v, want Unimplemented", err)
			}

			sel := clashessvc.NewSelectClient(conn)
			if resp, err := sel.Func(ctx, &clashes.Request{Text: "y"}); err != nil || resp.GetText() != "func y" {
				t.Errorf("Func = %v, %v", resp, err)
			}
			if _, err := sel.Go(ctx, &clashes.Request{}); status.Code(err) != codes.Unimplemented {
				t.Errorf("Go: err = %v, want Unimplemented from the generated Unimplemented type", err)
			}
			typ, err := sel.Type(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := typ.Send(&clashes.Request{Text: "z"}); err != nil {
				t.Fatal(err)
			}
			if resp, err := typ.Recv(); err != nil || resp.GetText() != "type z" {
				t.Errorf("Type = %v, %v", resp, err)
			}
			_ = typ.CloseSend()

			amount := int64(5)
			if bal, err := editionssvc.NewLedgerClient(conn).Record(ctx, &editions.Entry{Account: "a", Amount: &amount}); err != nil || bal.GetAmount() < 5 {
				t.Errorf("Record = %v, %v", bal, err)
			}

			st := streamingsvc.NewStreamerClient(conn)
			down, err := st.Download(ctx, &streaming.Item{Value: 3})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				_, err := down.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != 3 {
				t.Errorf("Download sent %d items, want 3", n)
			}
			up, err := st.Upload(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []int64{1, 2, 3} {
				if err := up.Send(&streaming.Item{Value: v}); err != nil {
					t.Fatal(err)
				}
			}
			if total, err := up.CloseAndRecv(); err != nil || total.GetSum() != 6 {
				t.Errorf("Upload = %v, %v; want sum 6", total, err)
			}
			if _, err := st.Reset(ctx, &emptypb.Empty{}); status.Code(err) != codes.Unimplemented {
				t.Errorf("Reset: err = %v, want Unimplemented", err)
			}
		})
	}
}

// TestDescriptors checks what the runtime reads from the descriptors of
// the generated service: names, kinds, idempotency and message types.
func TestDescriptors(t *testing.T) {
	svc := streamingsvc.NewStreamerService(streamingsvc.UnimplementedStreamerServer{})
	if svc.Name() != "golden.streaming.Streamer" || svc.File() != "streaming/streaming.proto" {
		t.Errorf("service %q in %q", svc.Name(), svc.File())
	}
	want := []struct {
		name string
		kind transport.StreamKind
		idem descriptorpb.MethodOptions_IdempotencyLevel
	}{
		{"Unary", transport.Unary, descriptorpb.MethodOptions_NO_SIDE_EFFECTS},
		{"Download", transport.ServerStream, descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN},
		{"Upload", transport.ClientStream, descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN},
		{"Exchange", transport.BidiStream, descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN},
		{"Reset", transport.Unary, descriptorpb.MethodOptions_IDEMPOTENT},
	}
	handlers := svc.Handlers()
	if len(handlers) != len(want) {
		t.Fatalf("%d methods, want %d", len(handlers), len(want))
	}
	for i, w := range want {
		m := handlers[i].Method
		if string(m.Desc.Name()) != w.name || m.Kind != w.kind || m.Idempotency != w.idem || m.FullMethod != "/golden.streaming.Streamer/"+w.name {
			t.Errorf("method %d = %s %v %v, want %s %v %v", i, m.FullMethod, m.Kind, m.Idempotency, w.name, w.kind, w.idem)
		}
		if m.NewRequest() == nil || m.NewResponse() == nil {
			t.Errorf("method %s: no message constructors", m.FullMethod)
		}
		if found, err := transport.Lookup(m.FullMethod); err != nil || found != m {
			t.Errorf("Lookup(%s) = %p, %v; want the service's own %p", m.FullMethod, found, err, m)
		}
	}
}
