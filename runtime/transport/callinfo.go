package transport

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// CallInfo is what a transport other than gRPC reads from a call's
// grpc.CallOption values, so that the options users already know behave as
// on grpc-go: every grpc.Header, grpc.Trailer, grpc.Peer and grpc.OnFinish
// given is honoured, with grpc.MaxCallRecvMsgSize, grpc.MaxCallSendMsgSize
// and runtime.AnsweredBy. Options a transport cannot honour are ignored, as
// grpc-go ignores options meant for other layers; each transport's package
// documentation lists them.
type CallInfo struct {
	Headers        []*metadata.MD
	Trailers       []*metadata.MD
	Peers          []*peer.Peer
	OnFinish       []func(error)
	AnsweredBy     []*string
	MaxRecvMsgSize int // 0: the transport's default
	MaxSendMsgSize int // 0: the transport's default
}

// ReadCallOptions collects the options a transport honours.
func ReadCallOptions(opts []grpc.CallOption) CallInfo {
	var ci CallInfo
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			ci.Headers = append(ci.Headers, o.HeaderAddr)
		case grpc.TrailerCallOption:
			ci.Trailers = append(ci.Trailers, o.TrailerAddr)
		case grpc.PeerCallOption:
			ci.Peers = append(ci.Peers, o.PeerAddr)
		case grpc.OnFinishCallOption:
			ci.OnFinish = append(ci.OnFinish, o.OnFinish)
		case grpc.MaxRecvMsgSizeCallOption:
			ci.MaxRecvMsgSize = o.MaxRecvMsgSize
		case grpc.MaxSendMsgSizeCallOption:
			ci.MaxSendMsgSize = o.MaxSendMsgSize
		case AnsweredByOption:
			ci.AnsweredBy = append(ci.AnsweredBy, o.Name)
		}
	}
	return ci
}

// SetPeer fills every grpc.Peer option with p. Transports call it as soon
// as they know whom they talk to, so that the peer is known even when the
// call fails later.
func (ci *CallInfo) SetPeer(p *peer.Peer) {
	for _, dst := range ci.Peers {
		if dst != nil && p != nil {
			*dst = *p
		}
	}
}

// Finish hands the call's header and trailer to the options that asked for
// them, records the transport for runtime.AnsweredBy and runs the OnFinish
// callbacks. Transports call it once per call, whatever the outcome.
func (ci *CallInfo) Finish(transport string, header, trailer metadata.MD, err error) {
	for _, h := range ci.Headers {
		if h != nil {
			*h = header
		}
	}
	for _, t := range ci.Trailers {
		if t != nil {
			*t = trailer
		}
	}
	for _, name := range ci.AnsweredBy {
		if name != nil {
			*name = transport
		}
	}
	for _, f := range ci.OnFinish {
		f(err)
	}
}

// AnsweredByOption is the call option runtime.AnsweredBy returns: once the
// call ends, the transport that carried it writes its name to *Name.
type AnsweredByOption struct {
	grpc.EmptyCallOption
	Name *string
}

// SetAnsweredBy records transport in every AnsweredByOption of opts. The gRPC
// transport, which leaves the other options to grpc-go, calls it.
func SetAnsweredBy(opts []grpc.CallOption, transport string) {
	for _, o := range opts {
		if o, ok := o.(AnsweredByOption); ok && o.Name != nil {
			*o.Name = transport
		}
	}
}
