package main

// The calls below follow the suite's own grpc-go reference client
// (connectrpc.com/conformance, internal/app/grpcclient, Apache-2.0): the
// generated svcclient client has grpc-go's client API, so the same steps
// apply.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/conformance/gen/conformancev1"
	"github.com/svcclient/svcclient/conformance/gen/conformancev1/conformancev1svc"
	"github.com/svcclient/svcclient/conformance/internal/compat"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// invoke performs one test case. Its error is a failure of the client
// program (a case it cannot run), not of the call.
func invoke(ctx context.Context, req *conformancev1.ClientCompatRequest) (*conformancev1.ClientResponseResult, error) {
	if req.GetService() != "connectrpc.conformance.v1.ConformanceService" {
		return nil, fmt.Errorf("service %q is not the conformance service", req.GetService())
	}
	conn, closeConn, err := dial(req)
	if err != nil {
		return nil, err
	}
	defer closeConn()
	client := conformancev1svc.NewConformanceServiceClient(conn)

	if req.TimeoutMs != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.GetTimeoutMs())*time.Millisecond)
		defer cancel()
	}
	ctx = metadata.NewOutgoingContext(ctx, compat.HeadersToMetadata(req.GetRequestHeaders()))

	switch req.GetMethod() {
	case "Unary":
		return unary(ctx, req, client.Unary, (*conformancev1.UnaryResponse).GetPayload)
	case "IdempotentUnary":
		return unary(ctx, req, client.IdempotentUnary, (*conformancev1.IdempotentUnaryResponse).GetPayload)
	case "Unimplemented":
		return unary(ctx, req, client.Unimplemented, func(*conformancev1.UnimplementedResponse) *conformancev1.ConformancePayload { return nil })
	case "ServerStream":
		return serverStream(ctx, req, client)
	case "ClientStream":
		return clientStream(ctx, req, client)
	case "BidiStream":
		return bidiStream(ctx, req, client)
	default:
		return nil, fmt.Errorf("method %q is not supported", req.GetMethod())
	}
}

// dial makes a connection for the case's server, protocol, HTTP version,
// TLS, codec, compression and read limit.
func dial(req *conformancev1.ClientCompatRequest) (grpc.ClientConnInterface, func(), error) {
	opts := []httptransport.ClientOption{httptransport.WithConnectRoutes()}
	switch req.GetProtocol() {
	case conformancev1.Protocol_PROTOCOL_CONNECT:
	case conformancev1.Protocol_PROTOCOL_GRPC_WEB:
		opts = append(opts, httptransport.WithGRPCWeb())
	default:
		// gRPC itself is grpc-go's to speak (runtime/grpctransport).
		return nil, nil, fmt.Errorf("protocol %s is not supported", req.GetProtocol())
	}
	switch req.GetCompression() {
	case conformancev1.Compression_COMPRESSION_IDENTITY, conformancev1.Compression_COMPRESSION_UNSPECIFIED:
	case conformancev1.Compression_COMPRESSION_GZIP:
		// Every message, however small: the suite checks that requests
		// are compressed (connect-go's default is the same).
		opts = append(opts, httptransport.WithCompression("gzip"), httptransport.WithCompressMinBytes(0))
	default:
		return nil, nil, fmt.Errorf("compression %s is not supported", req.GetCompression())
	}
	switch req.GetCodec() {
	case conformancev1.Codec_CODEC_PROTO:
		opts = append(opts, httptransport.WithCodec(runtime.ProtoCodec{}))
	case conformancev1.Codec_CODEC_JSON:
		// The default.
	default:
		return nil, nil, fmt.Errorf("codec %s is not supported", req.GetCodec())
	}
	if n := req.GetMessageReceiveLimit(); n > 0 {
		opts = append(opts, httptransport.WithReadMaxBytes(int(n)))
	}
	if req.GetClientTlsCreds() != nil {
		return nil, nil, errors.New("TLS client certificates are not supported")
	}
	t := &http.Transport{Protocols: new(http.Protocols), ForceAttemptHTTP2: true}
	scheme := "http"
	if len(req.GetServerTlsCert()) > 0 {
		scheme = "https"
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(req.GetServerTlsCert()) {
			return nil, nil, errors.New("server_tls_cert holds no PEM certificate")
		}
		t.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	switch v := req.GetHttpVersion(); {
	case v == conformancev1.HTTPVersion_HTTP_VERSION_1:
		t.Protocols.SetHTTP1(true)
	case v == conformancev1.HTTPVersion_HTTP_VERSION_2 && scheme == "https":
		t.Protocols.SetHTTP2(true)
	case v == conformancev1.HTTPVersion_HTTP_VERSION_2:
		t.Protocols.SetUnencryptedHTTP2(true)
		// Tells the Conn that its client speaks HTTP/2 to http:// URLs,
		// which bidi calls need.
		opts = append(opts, httptransport.WithH2C())
	default:
		return nil, nil, fmt.Errorf("HTTP version %s is not supported", v)
	}
	opts = append(opts, httptransport.WithHTTPClient(&http.Client{Transport: t}))
	base := scheme + "://" + net.JoinHostPort(req.GetHost(), strconv.Itoa(int(req.GetPort())))
	conn, err := httptransport.NewConn(base, opts...)
	if err != nil {
		return nil, nil, err
	}
	return conn, t.CloseIdleConnections, nil
}

// cancelTiming says when the case cancels its call; -1 is never.
type cancelTiming struct {
	beforeCloseSend   bool
	afterCloseSendMs  int
	afterNumResponses int
}

func cancelTimingOf(req *conformancev1.ClientCompatRequest) cancelTiming {
	t := cancelTiming{afterCloseSendMs: -1, afterNumResponses: -1}
	switch c := req.GetCancel().GetCancelTiming().(type) {
	case *conformancev1.ClientCompatRequest_Cancel_BeforeCloseSend:
		t.beforeCloseSend = true
	case *conformancev1.ClientCompatRequest_Cancel_AfterCloseSendMs:
		t.afterCloseSendMs = int(c.AfterCloseSendMs)
	case *conformancev1.ClientCompatRequest_Cancel_AfterNumResponses:
		t.afterNumResponses = int(c.AfterNumResponses)
	}
	return t
}

// unary performs a unary call with the case's one request message.
func unary[Req, Res any](ctx context.Context, req *conformancev1.ClientCompatRequest,
	call func(context.Context, *Req, ...grpc.CallOption) (*Res, error), payload func(*Res) *conformancev1.ConformancePayload,
) (*conformancev1.ClientResponseResult, error) {
	if len(req.GetRequestMessages()) != 1 {
		return nil, errors.New("a unary call takes exactly one request message")
	}
	in := new(Req)
	if err := req.GetRequestMessages()[0].UnmarshalTo(any(in).(proto.Message)); err != nil {
		return nil, err
	}
	timing := cancelTimingOf(req)
	if timing.beforeCloseSend {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		cancel()
	} else if timing.afterCloseSendMs >= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		time.AfterFunc(time.Duration(timing.afterCloseSendMs)*time.Millisecond, cancel)
	}
	var header, trailer metadata.MD
	out, err := call(ctx, in, grpc.Header(&header), grpc.Trailer(&trailer))
	result := &conformancev1.ClientResponseResult{
		ResponseHeaders:  compat.MetadataToHeaders(header),
		ResponseTrailers: compat.MetadataToHeaders(trailer),
		Error:            compat.ProtoError(err),
	}
	if err == nil {
		result.Payloads = append(result.Payloads, payload(out))
	}
	return result, nil
}

// serverStream performs a server-streaming call, reading every response
// unless the case cancels it first.
func serverStream(ctx context.Context, req *conformancev1.ClientCompatRequest, client conformancev1svc.ConformanceServiceClient) (*conformancev1.ClientResponseResult, error) {
	if len(req.GetRequestMessages()) != 1 {
		return nil, errors.New("a server-streaming call takes exactly one request message")
	}
	in := new(conformancev1.ServerStreamRequest)
	if err := req.GetRequestMessages()[0].UnmarshalTo(in); err != nil {
		return nil, err
	}
	timing := cancelTimingOf(req)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if timing.beforeCloseSend {
		cancel()
	}
	result := &conformancev1.ClientResponseResult{}
	stream, err := client.ServerStream(ctx, in)
	if err != nil {
		result.Error = compat.ProtoError(err)
		return result, nil
	}
	if timing.afterCloseSendMs >= 0 {
		time.AfterFunc(time.Duration(timing.afterCloseSendMs)*time.Millisecond, cancel)
	}
	header, err := stream.Header()
	if err != nil {
		result.Error = compat.ProtoError(err)
	}
	result.ResponseHeaders = compat.MetadataToHeaders(header)
	for received := 0; err == nil; {
		var msg *conformancev1.ServerStreamResponse
		msg, err = stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				result.Error = compat.ProtoError(err)
			}
			break
		}
		result.Payloads = append(result.Payloads, msg.GetPayload())
		received++
		if received == timing.afterNumResponses {
			cancel()
		}
	}
	result.ResponseTrailers = compat.MetadataToHeaders(stream.Trailer())
	return result, nil
}

// clientStream performs a client-streaming call: every request message,
// each after the case's delay, then the one response.
func clientStream(ctx context.Context, req *conformancev1.ClientCompatRequest, client conformancev1svc.ConformanceServiceClient) (*conformancev1.ClientResponseResult, error) {
	ins := make([]*conformancev1.ClientStreamRequest, len(req.GetRequestMessages()))
	for i, m := range req.GetRequestMessages() {
		ins[i] = new(conformancev1.ClientStreamRequest)
		if err := m.UnmarshalTo(ins[i]); err != nil {
			return nil, err
		}
	}
	timing := cancelTimingOf(req)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	result := &conformancev1.ClientResponseResult{}
	stream, err := client.ClientStream(ctx)
	if err != nil {
		result.Error = compat.ProtoError(err)
		return result, nil
	}
	for _, in := range ins {
		if err := sleep(ctx, req.GetRequestDelayMs()); err != nil {
			break
		}
		// An error here (io.EOF: the server ended the call) comes back
		// from CloseAndRecv.
		if stream.Send(in) != nil {
			break
		}
	}
	if timing.beforeCloseSend {
		cancel()
	} else if timing.afterCloseSendMs >= 0 {
		time.AfterFunc(time.Duration(timing.afterCloseSendMs)*time.Millisecond, cancel)
	}
	out, err := stream.CloseAndRecv()
	if err != nil {
		result.Error = compat.ProtoError(err)
	} else {
		result.Payloads = append(result.Payloads, out.GetPayload())
	}
	header, _ := stream.Header()
	result.ResponseHeaders = compat.MetadataToHeaders(header)
	result.ResponseTrailers = compat.MetadataToHeaders(stream.Trailer())
	return result, nil
}

// bidiStream performs a bidi call: full duplex reads a response after
// each request; half duplex sends every request, then reads.
func bidiStream(ctx context.Context, req *conformancev1.ClientCompatRequest, client conformancev1svc.ConformanceServiceClient) (*conformancev1.ClientResponseResult, error) {
	ins := make([]*conformancev1.BidiStreamRequest, len(req.GetRequestMessages()))
	for i, m := range req.GetRequestMessages() {
		ins[i] = new(conformancev1.BidiStreamRequest)
		if err := m.UnmarshalTo(ins[i]); err != nil {
			return nil, err
		}
	}
	fullDuplex := req.GetStreamType() == conformancev1.StreamType_STREAM_TYPE_FULL_DUPLEX_BIDI_STREAM
	timing := cancelTimingOf(req)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	result := &conformancev1.ClientResponseResult{}
	stream, err := client.BidiStream(ctx)
	if err != nil {
		result.Error = compat.ProtoError(err)
		return result, nil
	}
	defer func() { result.ResponseTrailers = compat.MetadataToHeaders(stream.Trailer()) }()
	received := 0
	recv := func() error {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		result.Payloads = append(result.Payloads, msg.GetPayload())
		received++
		if received == timing.afterNumResponses {
			cancel()
		}
		return nil
	}
	var callErr error
	for _, in := range ins {
		if err := sleep(ctx, req.GetRequestDelayMs()); err != nil {
			break
		}
		if err := stream.Send(in); err != nil {
			// The server ended the call: its status comes from Recv.
			callErr = recv()
			if callErr == nil {
				callErr = err
			}
			break
		}
		if fullDuplex {
			if callErr = recv(); callErr != nil {
				break
			}
		}
	}
	if timing.beforeCloseSend {
		cancel()
	}
	if err := stream.CloseSend(); err != nil && callErr == nil {
		callErr = err
	}
	if timing.afterCloseSendMs >= 0 {
		time.AfterFunc(time.Duration(timing.afterCloseSendMs)*time.Millisecond, cancel)
	}
	header, err := stream.Header()
	if err != nil && callErr == nil {
		callErr = err
	}
	result.ResponseHeaders = compat.MetadataToHeaders(header)
	for callErr == nil {
		callErr = recv()
	}
	if !errors.Is(callErr, io.EOF) {
		result.Error = compat.ProtoError(callErr)
	}
	return result, nil
}

// sleep waits ms milliseconds, or less if ctx ends first; it returns
// ctx's error then.
func sleep(ctx context.Context, ms uint32) error {
	if ms == 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
