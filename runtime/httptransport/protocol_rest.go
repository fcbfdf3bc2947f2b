package httptransport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/svcclient/svcclient/internal/httprule"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// REST routes transcode a call to the HTTP request its google.api.http
// rule describes, as grpc-gateway does: path variables from the path
// template, the body from the rule's body field ("*": the whole request),
// every other set field as a query parameter, and the response (or its
// response_body field) as the body of the reply.

// restBinding is one HTTPRule compiled against its method's messages. It
// is built once per method and shared by every call.
type restBinding struct {
	rule   *httprule.Rule
	method *transport.MethodDesc
	path   *pathTemplate
	// bodyAll: the whole request is the body (body: "*").
	bodyAll bool
	// body is the request field that is the body (body: "user"), or nil.
	body protoreflect.FieldDescriptor
	// responseBody is the response field that is the body, or nil.
	responseBody protoreflect.FieldDescriptor
	// skip lists the fields the query must not carry: the path variables'
	// and the body field.
	skip []fieldPath
	// updateMask is the request's FieldMask field that grpc-gateway fills
	// from the body's fields on a PATCH that leaves it empty.
	updateMask protoreflect.FieldDescriptor
}

func compileBinding(m *transport.MethodDesc, rule *httprule.Rule) (*restBinding, error) {
	reqDesc := m.NewRequest().ProtoReflect().Descriptor()
	tmpl, err := compilePathTemplate(rule, reqDesc)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", rule.Method, rule.Pattern, err)
	}
	b := &restBinding{rule: rule, method: m, path: tmpl, bodyAll: rule.Body == "*"}
	for _, v := range tmpl.vars {
		b.skip = append(b.skip, v.fields)
	}
	if rule.Body != "" && rule.Body != "*" {
		fd := reqDesc.Fields().ByName(protoreflect.Name(rule.Body))
		if fd == nil {
			return nil, fmt.Errorf("%s %s: body field %q is not a field of %s", rule.Method, rule.Pattern, rule.Body, reqDesc.FullName())
		}
		b.body = fd
		b.skip = append(b.skip, fieldPath{fd})
		if rule.Method == "PATCH" {
			b.updateMask = soleFieldMask(reqDesc)
		}
	}
	if rule.ResponseBody != "" {
		respDesc := m.NewResponse().ProtoReflect().Descriptor()
		fd := respDesc.Fields().ByName(protoreflect.Name(rule.ResponseBody))
		if fd == nil {
			return nil, fmt.Errorf("%s %s: response_body field %q is not a field of %s", rule.Method, rule.Pattern, rule.ResponseBody, respDesc.FullName())
		}
		b.responseBody = fd
	}
	return b, nil
}

// soleFieldMask returns the request's FieldMask field if it has exactly
// one, which is grpc-gateway's condition for filling it from a PATCH body.
func soleFieldMask(md protoreflect.MessageDescriptor) protoreflect.FieldDescriptor {
	var found protoreflect.FieldDescriptor
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Message() != nil && fd.Message().FullName() == "google.protobuf.FieldMask" && !fd.IsList() {
			if found != nil {
				return nil
			}
			found = fd
		}
	}
	return found
}

// hasBody reports whether requests on this route carry a body.
func (b *restBinding) hasBody() bool { return b.bodyAll || b.body != nil }

// appendURL appends the path and query for req to dst.
func (b *restBinding) appendURL(dst []byte, req protoreflect.Message) ([]byte, error) {
	dst, err := b.path.appendPath(dst, req)
	if err != nil || b.bodyAll {
		return dst, err
	}
	enc := queryEncoder{b: dst, skip: b.skip}
	if err := enc.message(req); err != nil {
		return dst, err
	}
	return enc.b, nil
}

// appendBody appends the request body to dst.
func (b *restBinding) appendBody(dst []byte, codec runtime.Codec, req proto.Message) ([]byte, error) {
	if b.bodyAll {
		return codec.MarshalAppend(dst, req)
	}
	return appendFieldBody(dst, codec, req.ProtoReflect(), b.body)
}

// appendFieldBody appends field fd of m as a body: a message field is
// encoded as that message; other fields (repeated, maps, scalars) as their
// JSON value, which only the JSON codec can carry.
func appendFieldBody(dst []byte, codec runtime.Codec, m protoreflect.Message, fd protoreflect.FieldDescriptor) ([]byte, error) {
	if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
		return codec.MarshalAppend(dst, m.Get(fd).Message().Interface())
	}
	jc, ok := codec.(*runtime.JSONCodec)
	if !ok {
		return dst, fmt.Errorf("field %s is not a message: only JSON can carry it as a body", fd.Name())
	}
	if !m.Has(fd) {
		return appendDefaultJSON(dst, fd), nil
	}
	one := m.New()
	one.Set(fd, m.Get(fd))
	opts := jc.MarshalOptions
	opts.Multiline = false
	whole, err := opts.Marshal(one.Interface())
	if err != nil {
		return dst, err
	}
	value, ok := soleMemberValue(whole)
	if !ok {
		return dst, fmt.Errorf("field %s: unexpected JSON %q", fd.Name(), whole)
	}
	return append(dst, value...), nil
}

// appendDefaultJSON writes the JSON of an unset field.
func appendDefaultJSON(dst []byte, fd protoreflect.FieldDescriptor) []byte {
	switch {
	case fd.IsList():
		return append(dst, "[]"...)
	case fd.IsMap():
		return append(dst, "{}"...)
	}
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return append(dst, `""`...)
	case protoreflect.BoolKind:
		return append(dst, "false"...)
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(0); ev != nil {
			return append(append(append(dst, '"'), ev.Name()...), '"')
		}
		return append(dst, '0')
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return append(dst, `"0"`...)
	}
	return append(dst, '0')
}

// soleMemberValue returns the value of a JSON object's only member.
func soleMemberValue(obj []byte) ([]byte, bool) {
	obj = trimSpace(obj)
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return nil, false
	}
	rest := trimSpace(obj[1 : len(obj)-1])
	if len(rest) == 0 || rest[0] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(rest[1:], '"') // field names never hold quotes
	if end < 0 {
		return nil, false
	}
	rest = trimSpace(rest[end+2:])
	if len(rest) == 0 || rest[0] != ':' {
		return nil, false
	}
	return trimSpace(rest[1:]), true
}

// decodeFieldBody is appendFieldBody's reverse: it decodes data into field
// fd of m, which must not have been decoded into yet (the codec resets it).
func decodeFieldBody(data []byte, codec runtime.Codec, m protoreflect.Message, fd protoreflect.FieldDescriptor) error {
	if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
		return codec.Unmarshal(data, m.Mutable(fd).Message().Interface())
	}
	if _, ok := codec.(*runtime.JSONCodec); !ok {
		return fmt.Errorf("field %s is not a message: only JSON can carry it as a body", fd.Name())
	}
	wrapped := make([]byte, 0, len(fd.Name())+len(data)+5)
	wrapped = append(wrapped, `{"`...)
	wrapped = append(wrapped, fd.Name()...)
	wrapped = append(wrapped, `":`...)
	wrapped = append(wrapped, data...)
	wrapped = append(wrapped, '}')
	// Decode into a fresh message and move the field over, so that fields
	// set before (there are none today: the body is decoded first) survive.
	tmp := m.New()
	if err := codec.Unmarshal(wrapped, tmp.Interface()); err != nil {
		return err
	}
	if tmp.Has(fd) {
		m.Set(fd, tmp.Get(fd))
	}
	return nil
}

// fieldMaskFromBody lists the fields a JSON body sets, as grpc-gateway's
// FieldMaskFromRequestBody does: the paths of every leaf, not descending
// into repeated fields, maps, Struct or Any, sorted.
func fieldMaskFromBody(data []byte, md protoreflect.MessageDescriptor) ([]string, error) {
	var root any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, err
	}
	var paths []string
	var walk func(node any, md protoreflect.MessageDescriptor, prefix string) error
	walk = func(node any, md protoreflect.MessageDescriptor, prefix string) error {
		obj, ok := node.(map[string]any)
		if !ok || len(obj) == 0 {
			if prefix != "" {
				paths = append(paths, prefix)
			}
			return nil
		}
		if md == nil {
			return fmt.Errorf("JSON structure does not match the request type at %q", prefix)
		}
		for k, v := range obj {
			fd := md.Fields().ByName(protoreflect.Name(k))
			if fd == nil {
				fd = md.Fields().ByJSONName(k)
			}
			if fd == nil {
				return fmt.Errorf("could not find field %q in %q", k, md.FullName())
			}
			path := string(fd.Name())
			if prefix != "" {
				path = prefix + "." + path
			}
			switch {
			case fd.IsList() || fd.IsMap():
				paths = append(paths, path)
			case fd.Message() != nil && (fd.Message().FullName() == "google.protobuf.Struct" || fd.Message().FullName() == "google.protobuf.Value"):
				blindPaths(v, path, &paths)
			case fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Any":
				paths = append(paths, path)
			case fd.Message() != nil:
				if err := walk(v, fd.Message(), path); err != nil {
					return err
				}
			default:
				paths = append(paths, path)
			}
		}
		return nil
	}
	if err := walk(root, md, ""); err != nil {
		return nil, err
	}
	slices.Sort(paths)
	return paths, nil
}

// blindPaths lists the leaf paths of free-form JSON (a Struct's contents).
func blindPaths(node any, prefix string, paths *[]string) {
	obj, ok := node.(map[string]any)
	if !ok || len(obj) == 0 {
		*paths = append(*paths, prefix)
		return
	}
	for k, v := range obj {
		blindPaths(v, prefix+"."+k, paths)
	}
}

// setUpdateMask fills the request's update mask from a PATCH body when the
// request left it empty.
func (b *restBinding) setUpdateMask(req protoreflect.Message, body []byte, codec runtime.Codec) error {
	if b.updateMask == nil || len(body) == 0 {
		return nil
	}
	if _, ok := codec.(*runtime.JSONCodec); !ok {
		return nil
	}
	mask := req.Get(b.updateMask).Message()
	paths := mask.Get(mask.Descriptor().Fields().ByNumber(1)).List()
	if req.Has(b.updateMask) && paths.Len() > 0 {
		return nil
	}
	var md protoreflect.MessageDescriptor
	if b.body != nil {
		md = b.body.Message()
	}
	names, err := fieldMaskFromBody(body, md)
	if err != nil {
		return err
	}
	m := req.Mutable(b.updateMask).Message()
	list := m.Mutable(m.Descriptor().Fields().ByNumber(1)).List()
	for _, n := range names {
		list.Append(protoreflect.ValueOfString(n))
	}
	return nil
}

// appendResponseBody appends the reply body: the response, or its
// response_body field.
func (b *restBinding) appendResponseBody(dst []byte, codec runtime.Codec, resp proto.Message) ([]byte, error) {
	if b.responseBody == nil {
		return codec.MarshalAppend(dst, resp)
	}
	return appendFieldBody(dst, codec, resp.ProtoReflect(), b.responseBody)
}

// decodeResponseBody decodes a reply body into resp.
func (b *restBinding) decodeResponseBody(data []byte, codec runtime.Codec, resp proto.Message) error {
	if b.responseBody == nil {
		return codec.Unmarshal(data, resp)
	}
	proto.Reset(resp)
	return decodeFieldBody(data, codec, resp.ProtoReflect(), b.responseBody)
}
