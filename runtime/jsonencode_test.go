package runtime

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// jsonTestFile declares test.Plain (every kind the fast path writes:
// scalars, repeated, proto3 optional, a oneof, an enum, a nested and a
// recursive message) and test.Mixed (a map and a Timestamp, which go to
// protojson).
func jsonTestFile(t testing.TB) protoreflect.FileDescriptor {
	t.Helper()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	field := func(name string, n int32, typ descriptorpb.FieldDescriptorProto_Type, label *descriptorpb.FieldDescriptorProto_Label, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Type: typ.Enum(), Label: label, JsonName: proto.String(jsonCamel(name))}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	var plain []*descriptorpb.FieldDescriptorProto
	for i, k := range []struct {
		name string
		typ  descriptorpb.FieldDescriptorProto_Type
		ref  string
	}{
		{"f_double", descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""},
		{"f_float", descriptorpb.FieldDescriptorProto_TYPE_FLOAT, ""},
		{"f_int64", descriptorpb.FieldDescriptorProto_TYPE_INT64, ""},
		{"f_uint64", descriptorpb.FieldDescriptorProto_TYPE_UINT64, ""},
		{"f_int32", descriptorpb.FieldDescriptorProto_TYPE_INT32, ""},
		{"f_fixed64", descriptorpb.FieldDescriptorProto_TYPE_FIXED64, ""},
		{"f_fixed32", descriptorpb.FieldDescriptorProto_TYPE_FIXED32, ""},
		{"f_bool", descriptorpb.FieldDescriptorProto_TYPE_BOOL, ""},
		{"f_string", descriptorpb.FieldDescriptorProto_TYPE_STRING, ""},
		{"f_bytes", descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""},
		{"f_uint32", descriptorpb.FieldDescriptorProto_TYPE_UINT32, ""},
		{"f_sfixed32", descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, ""},
		{"f_sfixed64", descriptorpb.FieldDescriptorProto_TYPE_SFIXED64, ""},
		{"f_sint32", descriptorpb.FieldDescriptorProto_TYPE_SINT32, ""},
		{"f_sint64", descriptorpb.FieldDescriptorProto_TYPE_SINT64, ""},
		{"f_enum", descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".test.Colour"},
		{"f_child", descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".test.Child"},
		{"f_self", descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".test.Plain"},
	} {
		n := int32(i + 1)
		plain = append(plain, field(k.name, n, k.typ, opt, k.ref), field("r_"+k.name[2:], n+100, k.typ, rep, k.ref))
	}
	oneofIndex := func(f *descriptorpb.FieldDescriptorProto, i int32) *descriptorpb.FieldDescriptorProto {
		f.OneofIndex = proto.Int32(i)
		return f
	}
	optional := field("o_int32", 200, descriptorpb.FieldDescriptorProto_TYPE_INT32, opt, "")
	optional.Proto3Optional = proto.Bool(true)
	plain = append(plain,
		oneofIndex(field("choice_text", 300, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""), 0),
		oneofIndex(field("choice_child", 301, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt, ".test.Child"), 0),
		oneofIndex(optional, 1),
	)
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("jsonencode_test.proto"),
		Package:    proto.String("test"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Colour"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("COLOUR_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("COLOUR_BLUE"), Number: proto.Int32(1)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name:      proto.String("Plain"),
				Field:     plain,
				OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("choice")}, {Name: proto.String("_o_int32")}},
			},
			{
				Name:  proto.String("Child"),
				Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""), field("data", 2, descriptorpb.FieldDescriptorProto_TYPE_BYTES, opt, "")},
			},
			{
				Name: proto.String("Mixed"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("plain", 1, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt, ".test.Plain"),
					field("labels", 2, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, rep, ".test.Mixed.LabelsEntry"),
					field("at", 3, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt, ".google.protobuf.Timestamp"),
				},
				NestedType: []*descriptorpb.DescriptorProto{{
					Name: proto.String("LabelsEntry"),
					Field: []*descriptorpb.FieldDescriptorProto{
						field("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
						field("value", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
					},
					Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				}},
			},
		},
	}
	fd, err := protodesc.NewFile(fdp, protoregistryFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func protoregistryFiles(t testing.TB) protodesc.Resolver {
	t.Helper()
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// jsonCamel is protoc's json_name for a snake_case field name.
func jsonCamel(name string) string {
	var b strings.Builder
	upper := false
	for _, c := range name {
		if c == '_' {
			upper = true
			continue
		}
		if upper && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		upper = false
		b.WriteRune(c)
	}
	return b.String()
}

// jsonTestOptions are the marshal options the fast path honours.
var jsonTestOptions = []protojson.MarshalOptions{
	{},
	{EmitUnpopulated: true},
	{EmitDefaultValues: true},
	{UseProtoNames: true, UseEnumNumbers: true},
	{EmitUnpopulated: true, UseProtoNames: true},
	{Multiline: true}, // protojson's path
}

// checkJSONLikeProtojson fails if JSONCodec writes m differently from
// protojson with the same options: the same error or the same JSON once
// protojson's random whitespace is removed.
func checkJSONLikeProtojson(t *testing.T, m proto.Message) {
	t.Helper()
	for _, o := range jsonTestOptions {
		want, wantErr := o.Marshal(m)
		got, gotErr := (&JSONCodec{MarshalOptions: o}).MarshalAppend([]byte("prefix"), m)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("%+v: error %v, protojson's %v", o, gotErr, wantErr)
		}
		if wantErr != nil {
			continue
		}
		got, ok := bytes.CutPrefix(got, []byte("prefix"))
		if !ok {
			t.Fatalf("%+v: prefix lost: %s", o, got)
		}
		var wantC, gotC bytes.Buffer
		if err := json.Compact(&wantC, want); err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&gotC, got); err != nil {
			t.Fatalf("%+v: invalid JSON %s: %v", o, got, err)
		}
		if !bytes.Equal(wantC.Bytes(), gotC.Bytes()) {
			t.Fatalf("%+v:\n got %s\nwant %s", o, gotC.Bytes(), wantC.Bytes())
		}
	}
}

func TestJSONCodecMarshalLikeProtojson(t *testing.T) {
	fd := jsonTestFile(t)
	plainMD := fd.Messages().ByName("Plain")
	mixedMD := fd.Messages().ByName("Mixed")
	set := func(m *dynamicpb.Message, name string, v protoreflect.Value) *dynamicpb.Message {
		m.Set(m.Descriptor().Fields().ByName(protoreflect.Name(name)), v)
		return m
	}
	child := func(name string, data []byte) protoreflect.Value {
		c := dynamicpb.NewMessage(fd.Messages().ByName("Child"))
		set(c, "name", protoreflect.ValueOfString(name))
		set(c, "data", protoreflect.ValueOfBytes(data))
		return protoreflect.ValueOfMessage(c)
	}
	full := dynamicpb.NewMessage(plainMD)
	set(full, "f_double", protoreflect.ValueOfFloat64(1e-7))
	set(full, "f_float", protoreflect.ValueOfFloat32(float32(math.Inf(-1))))
	set(full, "f_int64", protoreflect.ValueOfInt64(math.MinInt64))
	set(full, "f_uint64", protoreflect.ValueOfUint64(math.MaxUint64))
	set(full, "f_int32", protoreflect.ValueOfInt32(-7))
	set(full, "f_bool", protoreflect.ValueOfBool(true))
	set(full, "f_string", protoreflect.ValueOfString("tab\t quote\" back\\ nul\x00 \u2028 é \ufffd <&>"))
	set(full, "f_bytes", protoreflect.ValueOfBytes([]byte{0, 0xff, 0xfe, 'a'}))
	set(full, "f_enum", protoreflect.ValueOfEnum(7)) // not declared: written as a number
	set(full, "f_child", child("c", []byte("x")))
	set(full, "choice_child", child("", nil))
	set(full, "o_int32", protoreflect.ValueOfInt32(0))
	doubles := full.Mutable(plainMD.Fields().ByName("r_double")).List()
	for _, f := range []float64{0, -0.0, 1e21, 123456789.125, math.NaN(), math.SmallestNonzeroFloat64} {
		doubles.Append(protoreflect.ValueOfFloat64(f))
	}
	floats := full.Mutable(plainMD.Fields().ByName("r_float")).List()
	for _, f := range []float32{1e-7, 3.4e38, 0.1} {
		floats.Append(protoreflect.ValueOfFloat32(f))
	}
	children := full.Mutable(plainMD.Fields().ByName("r_child")).List()
	children.Append(child("a", nil))
	children.Append(child("b", make([]byte, 100)))
	full.Mutable(plainMD.Fields().ByName("r_enum")).List().Append(protoreflect.ValueOfEnum(1))
	self := dynamicpb.NewMessage(plainMD)
	set(self, "choice_text", protoreflect.ValueOfString("inner"))
	set(full, "f_self", protoreflect.ValueOfMessage(self))

	invalidUTF8 := dynamicpb.NewMessage(plainMD)
	set(invalidUTF8, "f_string", protoreflect.ValueOfString("bad \xff"))
	nestedInvalid := dynamicpb.NewMessage(plainMD)
	set(nestedInvalid, "f_child", child("\xc3", nil))

	mixed := dynamicpb.NewMessage(mixedMD)
	set(mixed, "plain", protoreflect.ValueOfMessage(full))
	mixed.Mutable(mixedMD.Fields().ByName("labels")).Map().Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfString("v"))
	mixedWithTime := dynamicpb.NewMessage(mixedMD)
	set(mixedWithTime, "at", protoreflect.ValueOfMessage(timestamppb.New(timestamppb.Now().AsTime()).ProtoReflect()))

	// The comparison below would pass if everything fell back to protojson.
	for _, o := range jsonTestOptions[:len(jsonTestOptions)-1] {
		if _, err := marshalJSONFast(&o, nil, full); err != nil {
			t.Fatalf("%+v: the fast path refused test.Plain: %v", o, err)
		}
	}
	for _, m := range []proto.Message{mixed, invalidUTF8, nestedInvalid, timestamppb.Now()} {
		if _, err := marshalJSONFast(&protojson.MarshalOptions{}, nil, m); err != errJSONFallback {
			t.Fatalf("the fast path took %v, which needs protojson", m)
		}
	}
	for name, m := range map[string]proto.Message{
		"empty":                 dynamicpb.NewMessage(plainMD),
		"every kind":            full,
		"invalid UTF-8":         invalidUTF8,
		"nested invalid UTF-8":  nestedInvalid,
		"map":                   mixed,
		"timestamp":             mixedWithTime,
		"well-known type":       timestamppb.Now(),
		"nil":                   nil,
		"nil generated message": (*descriptorpb.FileOptions)(nil),
		"nil plain message":     (*descriptorpb.SourceCodeInfo_Location)(nil),
		"generated message":     &descriptorpb.SourceCodeInfo_Location{Path: []int32{1, 2}, LeadingComments: proto.String("x")},
	} {
		t.Run(name, func(t *testing.T) { checkJSONLikeProtojson(t, m) })
	}
}

// FuzzJSONCodecMarshal decodes its input as a binary test.Plain and checks
// that JSONCodec writes it as protojson does.
func FuzzJSONCodecMarshal(f *testing.F) {
	fd := jsonTestFile(f)
	md := fd.Messages().ByName("Plain")
	f.Add([]byte{})
	f.Add([]byte{0x40, 0x01})                             // f_bool (field 8, varint)
	f.Add([]byte{0x4a, 0x03, 'a', '"', 0x01})             // f_string with a quote and a control char
	f.Add([]byte{0x52, 0x02, 0x00, 0xff})                 // f_bytes
	f.Add([]byte{0x80, 0x01, 0x05})                       // f_enum (16) = 5
	f.Add([]byte{0x8a, 0x01, 0x04, 0x0a, 0x02, 'h', 'i'}) // f_child{name: "hi"}
	f.Add([]byte{0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f})     // f_double NaN
	f.Fuzz(func(t *testing.T, wire []byte) {
		m := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(wire, m); err != nil {
			return
		}
		checkJSONLikeProtojson(t, m)
	})
}
