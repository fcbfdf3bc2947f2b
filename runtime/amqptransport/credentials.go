package amqptransport

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime/transport"
)

// perRPCMetadata asks the call's grpc.PerRPCCredentials options for their
// request metadata, which travels as headers beside the context's outgoing
// metadata, as grpc-go sends it. Credentials that require transport
// security are refused on an amqp:// connection: only amqps:// is secure.
// The audience handed to GetRequestMetadata has grpc-go's shape with the
// broker's address: "amqps://host:port/helloworld.Greeter".
func (c *Conn) perRPCMetadata(ctx context.Context, method string, opts []grpc.CallOption) (metadata.MD, error) {
	var md metadata.MD
	for _, o := range opts {
		o, ok := o.(grpc.PerRPCCredsCallOption)
		if !ok || o.Creds == nil {
			continue
		}
		if o.Creds.RequireTransportSecurity() && !c.secure {
			return nil, transport.NotSent(status.Error(codes.Unauthenticated, "amqptransport: cannot send credentials that require transport security over amqp://: use amqps://"))
		}
		kv, err := o.Creds.GetRequestMetadata(ctx, c.audience+"/"+serviceName(method))
		if err != nil {
			if _, ok := status.FromError(err); !ok {
				err = status.Errorf(codes.Unauthenticated, "amqptransport: per-RPC credentials failed: %v", err)
			}
			return nil, transport.NotSent(err)
		}
		if md == nil {
			md = make(metadata.MD, len(kv))
		}
		for k, v := range kv {
			md.Append(strings.ToLower(k), v)
		}
	}
	return md, nil
}
