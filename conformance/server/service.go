package main

// The ConformanceService below follows the suite's own gRPC reference
// server (connectrpc.com/conformance, internal/app/grpcserver, Apache-2.0),
// which is written against grpc-go's server API: svcclient's runtime serves
// that same API, so the rules carry over unchanged.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/svcclient/svcclient/conformance/gen/conformancev1"
	"github.com/svcclient/svcclient/conformance/gen/conformancev1/conformancev1svc"
	"github.com/svcclient/svcclient/conformance/internal/compat"
)

// service implements connectrpc.conformance.v1.ConformanceService as the
// suite's docs/testing_servers.md describes it. Unimplemented is left to
// the embedded default, which answers Unimplemented as the suite expects.
type service struct {
	conformancev1svc.UnimplementedConformanceServiceServer
}

// getQueryKey is the context key under which withGetQuery keeps the query
// of a Connect GET request, which the suite wants echoed back.
type getQueryKey struct{}

// withGetQuery records the URL query of GET requests in the request's
// context: the runtime hands handlers metadata, not the URL.
func withGetQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			r = r.WithContext(context.WithValue(r.Context(), getQueryKey{}, map[string][]string(r.URL.Query())))
		}
		next.ServeHTTP(w, r)
	})
}

func (service) Unary(ctx context.Context, req *conformancev1.UnaryRequest) (*conformancev1.UnaryResponse, error) {
	payload, err := unary(ctx, req, req.GetResponseDefinition())
	if err != nil {
		return nil, err
	}
	return &conformancev1.UnaryResponse{Payload: payload}, nil
}

func (service) IdempotentUnary(ctx context.Context, req *conformancev1.IdempotentUnaryRequest) (*conformancev1.IdempotentUnaryResponse, error) {
	payload, err := unary(ctx, req, req.GetResponseDefinition())
	if err != nil {
		return nil, err
	}
	return &conformancev1.IdempotentUnaryResponse{Payload: payload}, nil
}

// unary answers a unary call as def says: headers and trailers first, then
// after the delay either the payload or the error, with the request echoed
// in one or the other.
func unary(ctx context.Context, req proto.Message, def *conformancev1.UnaryResponseDefinition) (*conformancev1.ConformancePayload, error) {
	reqAny, err := anypb.New(req)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if def != nil {
		if err := grpc.SetHeader(ctx, compat.HeadersToMetadata(def.GetResponseHeaders())); err != nil {
			return nil, err
		}
		if err := grpc.SetTrailer(ctx, compat.HeadersToMetadata(def.GetResponseTrailers())); err != nil {
			return nil, err
		}
		if err := sleepPastDeadline(ctx, def.GetResponseDelayMs()); err != nil {
			return nil, err
		}
	}
	return payloadOrError(ctx, def, []*anypb.Any{reqAny})
}

func payloadOrError(ctx context.Context, def *conformancev1.UnaryResponseDefinition, reqs []*anypb.Any) (*conformancev1.ConformancePayload, error) {
	info := requestInfo(ctx, reqs)
	if e := def.GetError(); e != nil {
		infoAny, err := anypb.New(info)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		e = proto.CloneOf(e)
		e.Details = append(e.Details, infoAny)
		return nil, compat.StatusError(e)
	}
	return &conformancev1.ConformancePayload{RequestInfo: info, Data: def.GetResponseData()}, nil
}

func (service) ServerStream(req *conformancev1.ServerStreamRequest, stream grpc.ServerStreamingServer[conformancev1.ServerStreamResponse]) error {
	ctx := stream.Context()
	reqAny, err := anypb.New(req)
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	def := req.GetResponseDefinition()
	if def == nil {
		return nil
	}
	// Headers go out at once so that the client can read them before the
	// first message, however long the delay.
	if err := stream.SendHeader(compat.HeadersToMetadata(def.GetResponseHeaders())); err != nil {
		return err
	}
	stream.SetTrailer(compat.HeadersToMetadata(def.GetResponseTrailers()))
	sent := 0
	for _, data := range def.GetResponseData() {
		resp := &conformancev1.ServerStreamResponse{Payload: &conformancev1.ConformancePayload{Data: data}}
		if sent == 0 {
			resp.Payload.RequestInfo = requestInfo(ctx, []*anypb.Any{reqAny})
		}
		if err := sleep(ctx, def.GetResponseDelayMs()); err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		sent++
	}
	if e := def.GetError(); e != nil {
		e = proto.CloneOf(e)
		if sent == 0 {
			infoAny, err := anypb.New(requestInfo(ctx, []*anypb.Any{reqAny}))
			if err != nil {
				return status.Error(codes.Internal, err.Error())
			}
			e.Details = append(e.Details, infoAny)
		}
		return compat.StatusError(e)
	}
	return nil
}

func (service) ClientStream(stream grpc.ClientStreamingServer[conformancev1.ClientStreamRequest, conformancev1.ClientStreamResponse]) error {
	ctx := stream.Context()
	var def *conformancev1.UnaryResponseDefinition
	var reqs []*anypb.Any
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if len(reqs) == 0 {
			def = msg.GetResponseDefinition()
		}
		a, err := anypb.New(msg)
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		reqs = append(reqs, a)
	}
	if def != nil {
		if err := stream.SendHeader(compat.HeadersToMetadata(def.GetResponseHeaders())); err != nil {
			return err
		}
		stream.SetTrailer(compat.HeadersToMetadata(def.GetResponseTrailers()))
		if err := sleep(ctx, def.GetResponseDelayMs()); err != nil {
			return err
		}
	}
	payload, err := payloadOrError(ctx, def, reqs)
	if err != nil {
		return err
	}
	return stream.SendAndClose(&conformancev1.ClientStreamResponse{Payload: payload})
}

func (service) BidiStream(stream grpc.BidiStreamingServer[conformancev1.BidiStreamRequest, conformancev1.BidiStreamResponse]) error {
	ctx := stream.Context()
	var def *conformancev1.StreamResponseDefinition
	fullDuplex := false
	sent := 0
	var reqs []*anypb.Any
	for received := 0; ; received++ {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		a, err := anypb.New(msg)
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		reqs = append(reqs, a)
		if received == 0 {
			def, fullDuplex = msg.GetResponseDefinition(), msg.GetFullDuplex()
			if def != nil {
				md := compat.HeadersToMetadata(def.GetResponseHeaders())
				// Half duplex must not write before the upload is over: an
				// HTTP/1.1 server may stop reading once a response starts.
				if fullDuplex {
					err = stream.SendHeader(md)
				} else {
					err = stream.SetHeader(md)
				}
				if err != nil {
					return err
				}
				stream.SetTrailer(compat.HeadersToMetadata(def.GetResponseTrailers()))
			}
		}
		if !fullDuplex {
			continue
		}
		if sent >= len(def.GetResponseData()) {
			break
		}
		info := &conformancev1.ConformancePayload_RequestInfo{Requests: reqs}
		if sent == 0 {
			info = requestInfo(ctx, reqs)
		}
		if err := sleep(ctx, def.GetResponseDelayMs()); err != nil {
			return err
		}
		resp := &conformancev1.BidiStreamResponse{Payload: &conformancev1.ConformancePayload{Data: def.GetResponseData()[sent], RequestInfo: info}}
		if err := stream.Send(resp); err != nil {
			return err
		}
		sent++
		reqs = nil
	}
	if def == nil {
		return nil
	}
	for ; sent < len(def.GetResponseData()); sent++ {
		resp := &conformancev1.BidiStreamResponse{Payload: &conformancev1.ConformancePayload{Data: def.GetResponseData()[sent]}}
		if sent == 0 {
			resp.Payload.RequestInfo = requestInfo(ctx, reqs)
		}
		if err := sleep(ctx, def.GetResponseDelayMs()); err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	if e := def.GetError(); e != nil {
		e = proto.CloneOf(e)
		if sent == 0 {
			infoAny, err := anypb.New(requestInfo(ctx, reqs))
			if err != nil {
				return status.Error(codes.Internal, err.Error())
			}
			e.Details = append(e.Details, infoAny)
		}
		return compat.StatusError(e)
	}
	return nil
}

// requestInfo is what the server saw of the request: headers, the time
// left before the deadline, the messages and, for GET, the query.
func requestInfo(ctx context.Context, reqs []*anypb.Any) *conformancev1.ConformancePayload_RequestInfo {
	md, _ := metadata.FromIncomingContext(ctx)
	info := &conformancev1.ConformancePayload_RequestInfo{
		RequestHeaders: compat.MetadataToHeaders(md),
		Requests:       reqs,
	}
	if deadline, ok := ctx.Deadline(); ok {
		info.TimeoutMs = proto.Int64(max(time.Until(deadline), 0).Milliseconds())
	}
	if q, ok := ctx.Value(getQueryKey{}).(map[string][]string); ok {
		get := &conformancev1.ConformancePayload_ConnectGetInfo{}
		for k, v := range q {
			get.QueryParams = append(get.QueryParams, &conformancev1.Header{Name: k, Value: v})
		}
		info.ConnectGetInfo = get
	}
	return info
}

// sleepPastDeadline waits the whole ms milliseconds, as the suite's
// reference server does (time.Sleep), and then returns the call's status
// error if it ended meanwhile. A unary answer must not race the client's
// own deadline: the client sends Connect-Timeout-Ms truncated to whole
// milliseconds, so a handler honouring it answers up to a millisecond
// before the client gives up; Go's HTTP/2 server flushes the response's
// HEADERS frame before its DATA frame, and a client whose deadline fires
// between the two has the status but no error body, which the reference
// client's wire check reports as "connect error JSON: unexpected end of
// JSON input". The handler's deadline itself is covered by the
// runtime/httptransport tests.
func sleepPastDeadline(ctx context.Context, ms uint32) error {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}

// sleep waits ms milliseconds, or less if the call ends first. It returns
// the call's status error when it ended (as grpc-go's server would report
// it), so that a handler never answers a call its client gave up on.
func sleep(ctx context.Context, ms uint32) error {
	if ms > 0 {
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}
