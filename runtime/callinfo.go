package runtime

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// CallInfo is what a transport other than gRPC reads from a call's
// grpc.CallOption values, so that the options users already know keep
// working: grpc.Header, grpc.Trailer, grpc.Peer, grpc.OnFinish,
// grpc.MaxCallRecvMsgSize, grpc.MaxCallSendMsgSize, and this package's
// [AnsweredBy]. Options a transport cannot honour are ignored, as grpc-go
// ignores options meant for other layers.
type CallInfo struct {
	Header         *metadata.MD
	Trailer        *metadata.MD
	Peer           *peer.Peer
	OnFinish       []func(error)
	MaxRecvMsgSize int // 0: the transport's default
	MaxSendMsgSize int // 0: the transport's default
	AnsweredBy     *string
}

// ReadCallOptions collects the options a transport honours.
func ReadCallOptions(opts []grpc.CallOption) CallInfo {
	var ci CallInfo
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			ci.Header = o.HeaderAddr
		case grpc.TrailerCallOption:
			ci.Trailer = o.TrailerAddr
		case grpc.PeerCallOption:
			ci.Peer = o.PeerAddr
		case grpc.OnFinishCallOption:
			ci.OnFinish = append(ci.OnFinish, o.OnFinish)
		case grpc.MaxRecvMsgSizeCallOption:
			ci.MaxRecvMsgSize = o.MaxRecvMsgSize
		case grpc.MaxSendMsgSizeCallOption:
			ci.MaxSendMsgSize = o.MaxSendMsgSize
		case answeredByOption:
			ci.AnsweredBy = o.name
		}
	}
	return ci
}

// Finish hands the call's header and trailer to the options that asked for
// them and runs the OnFinish callbacks. Transports call it once per call,
// whatever the outcome.
func (ci *CallInfo) Finish(transport string, header, trailer metadata.MD, err error) {
	if ci.Header != nil {
		*ci.Header = header
	}
	if ci.Trailer != nil {
		*ci.Trailer = trailer
	}
	if ci.AnsweredBy != nil {
		*ci.AnsweredBy = transport
	}
	for _, f := range ci.OnFinish {
		f(err)
	}
}

// AnsweredBy returns a call option that, once the call ends, sets *name to
// the transport that carried it: "grpc", "http", "amqp" or "inprocess". It
// shows which transport of a fallback connection answered.
func AnsweredBy(name *string) grpc.CallOption { return answeredByOption{name: name} }

type answeredByOption struct {
	grpc.EmptyCallOption
	name *string
}

// SetAnsweredBy records transport in the first AnsweredBy option of opts. The
// gRPC transport, which leaves the other options to grpc-go, calls it.
func SetAnsweredBy(opts []grpc.CallOption, transport string) {
	for _, o := range opts {
		if o, ok := o.(answeredByOption); ok && o.name != nil {
			*o.name = transport
		}
	}
}
