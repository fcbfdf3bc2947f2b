package runtime

import (
	"encoding/base64"
	"errors"
	"math"
	"math/bits"
	"strconv"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file is a faster path for protojson.MarshalOptions.MarshalAppend on
// plain messages: scalar, string, bytes and enum fields, repeated or not,
// and nested plain messages. It writes what protojson writes (same names,
// same field order, same number and string forms), without protojson's
// random whitespace. protojson turns a bytes field into a base64 string
// and then copies and scans that string for escapes; here the base64 goes
// straight into the output, which for a 16 KiB bytes field is most of the
// cost of encoding (two 22 KB allocations and three passes fewer).
//
// Anything else (maps, well-known types with their own JSON form, groups,
// extensions, required fields, invalid UTF-8, indented output) makes the
// caller fall back to protojson, which then decides and words any error.

// errJSONFallback says the message needs protojson.
var errJSONFallback = errors.New("message needs protojson")

// jsonPlans caches a *jsonPlan per message descriptor.
var jsonPlans sync.Map

// jsonPlan is how to write one message type, decided once per descriptor.
type jsonPlan struct {
	plain  bool // false: use protojson
	fields []jsonField
	// byName finds a field by a name protojson reads it by: its JSON name
	// first, else its proto name (see protojson's unmarshalMessage).
	byName map[string]int
}

// jsonField is one field of a plain message, in declaration order (the
// order protojson writes them in).
type jsonField struct {
	fd        protoreflect.FieldDescriptor
	jsonKey   []byte // "jsonName":
	protoKey  []byte // "proto_name":
	list      bool
	inOneof   bool // unpopulated, it is never written
	nullValue bool // unpopulated with presence, it is written as null
}

// jsonPlanFor returns the plan for md, building it on first use.
func jsonPlanFor(md protoreflect.MessageDescriptor) *jsonPlan {
	if p, ok := jsonPlans.Load(md); ok {
		return p.(*jsonPlan)
	}
	p, _ := jsonPlans.LoadOrStore(md, buildJSONPlan(md))
	return p.(*jsonPlan)
}

func buildJSONPlan(md protoreflect.MessageDescriptor) *jsonPlan {
	if md.ExtensionRanges().Len() > 0 || isWellKnownJSON(md.FullName()) {
		return &jsonPlan{}
	}
	fds := md.Fields()
	p := &jsonPlan{plain: true, fields: make([]jsonField, fds.Len()), byName: make(map[string]int, 2*fds.Len())}
	for i := range fds.Len() {
		fd := fds.Get(i)
		if fd.IsMap() || fd.IsExtension() || fd.Cardinality() == protoreflect.Required || fd.Kind() == protoreflect.GroupKind {
			return &jsonPlan{}
		}
		if fd.Kind() == protoreflect.EnumKind && fd.Enum().FullName() == "google.protobuf.NullValue" {
			return &jsonPlan{}
		}
		p.fields[i] = jsonField{
			fd:        fd,
			jsonKey:   appendJSONKey(nil, fd.JSONName()),
			protoKey:  appendJSONKey(nil, fd.TextName()),
			list:      fd.IsList(),
			inOneof:   fd.ContainingOneof() != nil,
			nullValue: fd.HasPresence(),
		}
	}
	for i := range fds.Len() {
		for _, name := range []string{fds.Get(i).JSONName(), fds.Get(i).TextName()} {
			found := fds.ByJSONName(name)
			if found == nil {
				found = fds.ByTextName(name)
			}
			p.byName[name] = found.Index()
		}
	}
	return p
}

// isWellKnownJSON reports the google.protobuf messages whose JSON form is
// not an object of their fields (Any, Timestamp, wrappers, Struct, ...).
// All of google.protobuf is left to protojson, to be safe.
func isWellKnownJSON(name protoreflect.FullName) bool {
	return name.Parent() == "google.protobuf"
}

func appendJSONKey(b []byte, name string) []byte {
	b, _ = appendJSONString(b, name)
	return append(b, ':')
}

// marshalJSONFast appends m's JSON to b as o would, or returns
// errJSONFallback (with b unchanged in meaning) when it cannot.
func marshalJSONFast(o *protojson.MarshalOptions, b []byte, m proto.Message) ([]byte, error) {
	if o.Multiline || o.Indent != "" {
		return b, errJSONFallback
	}
	if m == nil {
		return append(b, '{', '}'), nil
	}
	e := jsonEncoder{useProtoNames: o.UseProtoNames, useEnumNumbers: o.UseEnumNumbers,
		emitUnpopulated: o.EmitUnpopulated, emitDefaults: o.EmitDefaultValues}
	return e.message(b, m.ProtoReflect())
}

// jsonEncoder holds the marshal options that change the output.
type jsonEncoder struct {
	useProtoNames, useEnumNumbers, emitUnpopulated, emitDefaults bool
}

func (e *jsonEncoder) message(b []byte, m protoreflect.Message) ([]byte, error) {
	p := jsonPlanFor(m.Descriptor())
	if !p.plain {
		return b, errJSONFallback
	}
	b = append(b, '{')
	first := true
	for i := range p.fields {
		f := &p.fields[i]
		var v protoreflect.Value
		switch {
		case m.Has(f.fd):
			v = m.Get(f.fd)
		case f.inOneof || !(e.emitUnpopulated || e.emitDefaults):
			continue
		case f.nullValue:
			if !e.emitUnpopulated {
				continue
			}
			// An unset field with presence is written as null.
		default:
			v = m.Get(f.fd)
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		if e.useProtoNames {
			b = append(b, f.protoKey...)
		} else {
			b = append(b, f.jsonKey...)
		}
		var err error
		if !v.IsValid() {
			b = append(b, "null"...)
		} else if f.list {
			b, err = e.list(b, v.List(), f.fd)
		} else {
			b, err = e.singular(b, v, f.fd)
		}
		if err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func (e *jsonEncoder) list(b []byte, l protoreflect.List, fd protoreflect.FieldDescriptor) ([]byte, error) {
	b = append(b, '[')
	for i := range l.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = e.singular(b, l.Get(i), fd); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

func (e *jsonEncoder) singular(b []byte, v protoreflect.Value, fd protoreflect.FieldDescriptor) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), nil
	case protoreflect.StringKind:
		return appendJSONString(b, v.String())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		// 64-bit integers are JSON strings, as protojson writes them.
		b = append(b, '"')
		return append(strconv.AppendInt(b, v.Int(), 10), '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b = append(b, '"')
		return append(strconv.AppendUint(b, v.Uint(), 10), '"'), nil
	case protoreflect.FloatKind:
		return appendJSONFloat(b, v.Float(), 32), nil
	case protoreflect.DoubleKind:
		return appendJSONFloat(b, v.Float(), 64), nil
	case protoreflect.BytesKind:
		// The base64 alphabet needs no JSON escaping.
		b = append(b, '"')
		return append(base64.StdEncoding.AppendEncode(b, v.Bytes()), '"'), nil
	case protoreflect.EnumKind:
		desc := fd.Enum().Values().ByNumber(v.Enum())
		if e.useEnumNumbers || desc == nil {
			return strconv.AppendInt(b, int64(v.Enum()), 10), nil
		}
		return appendJSONString(b, string(desc.Name()))
	case protoreflect.MessageKind:
		return e.message(b, v.Message())
	}
	return b, errJSONFallback
}

// appendJSONString is protojson's string form: ", \ and control
// characters escaped, everything else as is. Invalid UTF-8 is protojson's
// error to report, so it falls back.
func appendJSONString(b []byte, s string) ([]byte, error) {
	b = append(b, '"')
	i := indexJSONEscape(s)
	s, b = s[i:], append(b, s[:i]...)
	for len(s) > 0 {
		switch r, n := utf8.DecodeRuneInString(s); {
		case r == utf8.RuneError && n == 1:
			return b, errJSONFallback
		case r < ' ' || r == '"' || r == '\\':
			b = append(b, '\\')
			switch r {
			case '"', '\\':
				b = append(b, byte(r))
			case '\b':
				b = append(b, 'b')
			case '\f':
				b = append(b, 'f')
			case '\n':
				b = append(b, 'n')
			case '\r':
				b = append(b, 'r')
			case '\t':
				b = append(b, 't')
			default:
				b = append(b, 'u')
				b = append(b, "0000"[1+(bits.Len32(uint32(r))-1)/4:]...)
				b = strconv.AppendUint(b, uint64(r), 16)
			}
			s = s[n:]
		default:
			i := indexJSONEscape(s[n:])
			s, b = s[n+i:], append(b, s[:n+i]...)
		}
	}
	return append(b, '"'), nil
}

// indexJSONEscape returns the index of the first byte of s that may need
// escaping (or is invalid UTF-8), or len(s).
func indexJSONEscape(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == '\\' || c == '"' || c >= utf8.RuneSelf {
			if c >= utf8.RuneSelf {
				// Multi-byte runes: only an invalid one stops the scan.
				r, n := utf8.DecodeRuneInString(s[i:])
				if r == utf8.RuneError && n == 1 {
					return i
				}
				i += n - 1
				continue
			}
			return i
		}
	}
	return len(s)
}

// appendJSONFloat is protojson's number form: NaN and the infinities as
// strings, exponent form below 1e-6 and from 1e21 as encoding/json does.
func appendJSONFloat(b []byte, n float64, bitSize int) []byte {
	switch {
	case math.IsNaN(n):
		return append(b, `"NaN"`...)
	case math.IsInf(n, +1):
		return append(b, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(b, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(n); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, n, format, -1, bitSize)
	if format == 'e' {
		// 1e-07 → 1e-7, as encoding/json writes it.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
