package httptransport

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Path variables and query parameters carry one field value as text. The
// forms below are the ones grpc-gateway's runtime parses (runtime/query.go
// and runtime/convert.go): enums by name or number, bytes as base64,
// Timestamp as RFC 3339, Duration as Go duration text, FieldMask as
// comma-separated paths, wrappers as their value.

// appendValue appends the text form of v, a value of field fd, to b.
// Messages other than the well-known types have no text form.
func appendValue(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return appendWellKnown(b, fd.Message(), v.Message())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return append(b, ev.Name()...), nil
		}
		return strconv.AppendInt(b, int64(v.Enum()), 10), nil
	}
	return appendScalar(b, fd.Kind(), v), nil
}

func appendScalar(b []byte, kind protoreflect.Kind, v protoreflect.Value) []byte {
	switch kind {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.AppendInt(b, v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(b, v.Uint(), 10)
	case protoreflect.FloatKind:
		return appendFloat(b, v.Float(), 32)
	case protoreflect.DoubleKind:
		return appendFloat(b, v.Float(), 64)
	case protoreflect.StringKind:
		return append(b, v.String()...)
	case protoreflect.BytesKind:
		return base64.RawURLEncoding.AppendEncode(b, v.Bytes())
	}
	return b
}

func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

// errNotText reports a message field that cannot travel as text.
var errNotText = errors.New("only scalar fields and well-known types can travel in a URL")

func appendWellKnown(b []byte, md protoreflect.MessageDescriptor, m protoreflect.Message) ([]byte, error) {
	fields := md.Fields()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		secs, nanos := m.Get(fields.ByNumber(1)).Int(), m.Get(fields.ByNumber(2)).Int()
		return time.Unix(secs, nanos).UTC().AppendFormat(b, time.RFC3339Nano), nil
	case "google.protobuf.Duration":
		secs, nanos := m.Get(fields.ByNumber(1)).Int(), m.Get(fields.ByNumber(2)).Int()
		return appendDuration(b, secs, nanos), nil
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		fd := fields.ByNumber(1)
		return appendScalar(b, fd.Kind(), m.Get(fd)), nil
	case "google.protobuf.FieldMask":
		paths := m.Get(fields.ByNumber(1)).List()
		for i := 0; i < paths.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, paths.Get(i).String()...)
		}
		return b, nil
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		return protojson.MarshalOptions{}.MarshalAppend(b, m.Interface())
	case "google.protobuf.Empty":
		return b, nil
	}
	return b, errNotText
}

// appendDuration writes seconds and nanoseconds as "1.5s", a form both Go's
// time.ParseDuration (which grpc-gateway uses) and protojson accept.
func appendDuration(b []byte, secs, nanos int64) []byte {
	if secs < 0 || nanos < 0 {
		b = append(b, '-')
		secs, nanos = -secs, -nanos
	}
	b = strconv.AppendInt(b, secs, 10)
	if nanos != 0 {
		frac := strconv.AppendInt(nil, nanos+1e9, 10)[1:] // nine digits
		b = append(b, '.')
		b = append(b, strings.TrimRight(string(frac), "0")...)
	}
	return append(b, 's')
}

// parseValue parses text into a value of field fd. newMessage makes an
// empty message of the field's type, for the well-known types.
func parseValue(fd protoreflect.FieldDescriptor, s string, newMessage func() protoreflect.Message) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m := newMessage()
		if err := parseWellKnown(m, s); err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfMessage(m), nil
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		if ev := values.ByName(protoreflect.Name(s)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || values.ByNumber(protoreflect.EnumNumber(n)) == nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not a value of %s", s, fd.Enum().FullName())
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
	}
	return parseScalar(fd.Kind(), s)
}

func parseScalar(kind protoreflect.Kind, s string) (protoreflect.Value, error) {
	switch kind {
	case protoreflect.BoolKind:
		v, err := strconv.ParseBool(s)
		return protoreflect.ValueOfBool(v), err
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		v, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfInt32(int32(v)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		v, err := strconv.ParseInt(s, 10, 64)
		return protoreflect.ValueOfInt64(v), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		v, err := strconv.ParseUint(s, 10, 32)
		return protoreflect.ValueOfUint32(uint32(v)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		v, err := strconv.ParseUint(s, 10, 64)
		return protoreflect.ValueOfUint64(v), err
	case protoreflect.FloatKind:
		v, err := parseFloat(s, 32)
		return protoreflect.ValueOfFloat32(float32(v)), err
	case protoreflect.DoubleKind:
		v, err := parseFloat(s, 64)
		return protoreflect.ValueOfFloat64(v), err
	case protoreflect.StringKind:
		// A proto3 string holding invalid UTF-8 cannot be marshalled: the
		// call would fail later with Internal, where the Connect and gRPC
		// routes reject the same bytes as InvalidArgument.
		if !utf8.ValidString(s) {
			return protoreflect.Value{}, fmt.Errorf("invalid UTF-8 in %q", s)
		}
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		v, err := decodeBase64(s)
		return protoreflect.ValueOfBytes(v), err
	}
	return protoreflect.Value{}, fmt.Errorf("unsupported field kind %v", kind)
}

func parseFloat(s string, bits int) (float64, error) {
	switch s {
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	if strings.ContainsAny(s, "xX_") {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	return strconv.ParseFloat(s, bits)
}

// Timestamps must lie in [0001-01-01, 9999-12-31], as protobuf defines them.
const minTimestamp, maxTimestamp = -62135596800, 253402300799

func parseWellKnown(m protoreflect.Message, s string) error {
	md := m.Descriptor()
	fields := md.Fields()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return err
		}
		if t.Unix() < minTimestamp || t.Unix() > maxTimestamp {
			return fmt.Errorf("timestamp %s out of range", s)
		}
		m.Set(fields.ByNumber(1), protoreflect.ValueOfInt64(t.Unix()))
		m.Set(fields.ByNumber(2), protoreflect.ValueOfInt32(int32(t.Nanosecond())))
	case "google.protobuf.Duration":
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		m.Set(fields.ByNumber(1), protoreflect.ValueOfInt64(int64(d/time.Second)))
		m.Set(fields.ByNumber(2), protoreflect.ValueOfInt32(int32(d%time.Second)))
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		fd := fields.ByNumber(1)
		v, err := parseScalar(fd.Kind(), s)
		if err != nil {
			return err
		}
		m.Set(fd, v)
	case "google.protobuf.FieldMask":
		if s == "" {
			return nil
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("invalid UTF-8 in %q", s)
		}
		paths := m.Mutable(fields.ByNumber(1)).List()
		for p := range strings.SplitSeq(s, ",") {
			paths.Append(protoreflect.ValueOfString(p))
		}
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		return protojson.Unmarshal([]byte(s), m.Interface())
	case "google.protobuf.Empty":
		if s != "" && s != "{}" {
			return fmt.Errorf("expected an empty value or {}, got %q", s)
		}
	default:
		return fmt.Errorf("%s: %w", md.FullName(), errNotText)
	}
	return nil
}
