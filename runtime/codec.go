package runtime

import (
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Codec turns messages into bytes and back. The HTTP and AMQP transports
// share these, and name them on the wire by [Codec.Name] (as the Connect
// protocol does: "proto" → application/proto, "json" → application/json).
type Codec interface {
	// Name is the codec's short name: "proto" or "json".
	Name() string
	// MarshalAppend appends m's encoding to b.
	MarshalAppend(b []byte, m proto.Message) ([]byte, error)
	// Unmarshal replaces m's contents with the message encoded in b.
	Unmarshal(b []byte, m proto.Message) error
}

// ProtoCodec is the binary protobuf codec.
type ProtoCodec struct{}

// Name returns "proto".
func (ProtoCodec) Name() string { return "proto" }

// MarshalAppend appends m's binary encoding to b.
func (ProtoCodec) MarshalAppend(b []byte, m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{}.MarshalAppend(b, m)
}

// Unmarshal decodes the binary encoding in b into m.
func (ProtoCodec) Unmarshal(b []byte, m proto.Message) error {
	return proto.Unmarshal(b, m)
}

// JSONCodec is the protojson codec. Its zero value writes proto field names
// in lowerCamelCase and reads both spellings, as grpc-gateway and connect-go
// do; unknown fields in input are an error unless
// UnmarshalOptions.DiscardUnknown is set.
type JSONCodec struct {
	MarshalOptions   protojson.MarshalOptions
	UnmarshalOptions protojson.UnmarshalOptions
}

// Name returns "json".
func (*JSONCodec) Name() string { return "json" }

// MarshalAppend appends m's JSON encoding to b: what protojson writes
// with c.MarshalOptions, without its random whitespace. Plain messages
// take a faster path (see jsonencode.go); the rest go to protojson.
func (c *JSONCodec) MarshalAppend(b []byte, m proto.Message) ([]byte, error) {
	if out, err := marshalJSONFast(&c.MarshalOptions, b, m); err == nil {
		return out, nil
	}
	return c.MarshalOptions.MarshalAppend(b, m)
}

// Unmarshal decodes the JSON in b into m as protojson does with
// c.UnmarshalOptions. Empty input is the empty message, as the Connect
// protocol and grpc-gateway accept it. Plain messages in the common forms
// take a faster path (see jsondecode.go); the rest go to protojson.
func (c *JSONCodec) Unmarshal(b []byte, m proto.Message) error {
	if len(b) == 0 {
		proto.Reset(m)
		return nil
	}
	if unmarshalJSONFast(&c.UnmarshalOptions, b, m) == nil {
		return nil
	}
	return c.UnmarshalOptions.Unmarshal(b, m)
}
