package runtime

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file is a faster path for protojson.UnmarshalOptions.Unmarshal on
// plain messages (see jsonencode.go for what plain means). protojson copies
// every string out of the input and a bytes field then goes through that
// copy; here a bytes field is base64-decoded straight from the input.
//
// It accepts a strict subset of what protojson accepts, and gives the same
// message for it: anything else (string escapes, unknown or repeated field
// names, numbers in any but the plain integer and JSON number forms, enum
// numbers out of range, well-known types, ...) returns errJSONFallback and
// the caller hands the whole input to protojson, which then decides and
// words any error. So a request is never accepted here that protojson
// would refuse.

// jsonMaxDepth bounds the fast path's recursion: it reads at most
// jsonMaxDepth+1 nested messages, far below protojson's default limit of
// 10,000; a RecursionLimit that would stop protojson sooner goes to
// protojson.
const jsonMaxDepth = 64

// unmarshalJSONFast decodes b into m as o would, or returns
// errJSONFallback, leaving m in any state (the caller resets it).
func unmarshalJSONFast(o *protojson.UnmarshalOptions, b []byte, m proto.Message) error {
	if o.RecursionLimit != 0 && o.RecursionLimit <= jsonMaxDepth {
		return errJSONFallback
	}
	proto.Reset(m)
	d := jsonDecoder{in: b}
	if err := d.message(m.ProtoReflect(), 0); err != nil {
		return err
	}
	d.skipSpace()
	if d.pos != len(d.in) {
		return errJSONFallback
	}
	return nil
}

// jsonDecoder reads one JSON text.
type jsonDecoder struct {
	in  []byte
	pos int
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.in) {
		switch d.in[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// consume skips space and then c, or reports that c is not next.
func (d *jsonDecoder) consume(c byte) bool {
	d.skipSpace()
	if d.pos < len(d.in) && d.in[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// rawString reads a string without escapes and returns its contents,
// which alias the input. Escapes, control characters and invalid UTF-8
// fall back.
func (d *jsonDecoder) rawString() ([]byte, bool) {
	d.skipSpace()
	if d.pos >= len(d.in) || d.in[d.pos] != '"' {
		return nil, false
	}
	start := d.pos + 1
	ascii := true
	for i := start; i < len(d.in); i++ {
		switch c := d.in[i]; jsonStringByte[c] {
		case 0:
		case stringEnd:
			s := d.in[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.pos = i + 1
			return s, true
		case stringNonASCII:
			ascii = false
		default:
			return nil, false
		}
	}
	return nil, false
}

// base64String reads a bytes field's string, which is base64 (or else
// protojson's to read): the closing quote is found without looking at
// every byte, and decoding refuses any byte outside the alphabet, except
// line breaks, which are looked for here since JSON does not allow them
// unescaped.
func (d *jsonDecoder) base64String() ([]byte, bool) {
	d.skipSpace()
	if d.pos >= len(d.in) || d.in[d.pos] != '"' {
		return nil, false
	}
	start := d.pos + 1
	end := bytes.IndexByte(d.in[start:], '"')
	if end < 0 {
		return nil, false
	}
	s := d.in[start : start+end]
	if bytes.IndexByte(s, '\n') >= 0 || bytes.IndexByte(s, '\r') >= 0 {
		return nil, false
	}
	d.pos = start + end + 1
	return s, true
}

// What a byte means inside a JSON string, for rawString.
const (
	stringEnd      = 1 // "
	stringNonASCII = 2
	stringRefused  = 3 // \ and control characters
)

var jsonStringByte = func() (t [256]byte) {
	for c := range t {
		switch {
		case c < ' ' || c == '\\':
			t[c] = stringRefused
		case c == '"':
			t[c] = stringEnd
		case c >= utf8.RuneSelf:
			t[c] = stringNonASCII
		}
	}
	return t
}()

// atDelimiter reports whether the next byte may end a number or literal.
func (d *jsonDecoder) atDelimiter() bool {
	if d.pos == len(d.in) {
		return true
	}
	switch d.in[d.pos] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// literal reads the bare word w (true, false, null).
func (d *jsonDecoder) literal(w string) bool {
	d.skipSpace()
	if !bytes.HasPrefix(d.in[d.pos:], []byte(w)) {
		return false
	}
	d.pos += len(w)
	if !d.atDelimiter() {
		d.pos -= len(w)
		return false
	}
	return true
}

// number reads a JSON number token: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
// integer says it had neither fraction nor exponent.
func (d *jsonDecoder) number() (tok []byte, integer, ok bool) {
	d.skipSpace()
	in, i := d.in, d.pos
	digits := func() bool {
		j := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(in) && in[i] == '-' {
		i++
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case !digits():
		return nil, false, false
	}
	integer = true
	if i < len(in) && in[i] == '.' {
		i++
		if !digits() {
			return nil, false, false
		}
		integer = false
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false, false
		}
		integer = false
	}
	tok, start := in[d.pos:i], d.pos
	d.pos = i
	if !d.atDelimiter() {
		d.pos = start
		return nil, false, false
	}
	return tok, integer, true
}

// integer reads a plain integer, bare or quoted, as protojson reads an
// integer field. "-0" and every other form fall back.
func (d *jsonDecoder) integer() ([]byte, bool) {
	d.skipSpace()
	if d.pos < len(d.in) && d.in[d.pos] == '"' {
		s, ok := d.rawString()
		if !ok || !isPlainInteger(s) {
			return nil, false
		}
		return s, true
	}
	tok, integer, ok := d.number()
	if !ok || !integer || !isPlainInteger(tok) {
		return nil, false
	}
	return tok, true
}

// isPlainInteger: 0, or an optional minus and digits without a leading
// zero.
func isPlainInteger(s []byte) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
		if len(s) == 1 && s[0] == '0' {
			return false
		}
	}
	if len(s) == 0 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (d *jsonDecoder) message(m protoreflect.Message, depth int) error {
	if depth > jsonMaxDepth {
		return errJSONFallback
	}
	p := jsonPlanFor(m.Descriptor())
	if !p.plain {
		return errJSONFallback
	}
	if !d.consume('{') {
		return errJSONFallback
	}
	if d.consume('}') {
		return nil
	}
	var seen []bool // by field index; only messages with fields get here
	var seenOneofs []bool
	for {
		name, ok := d.rawString()
		if !ok || !d.consume(':') {
			return errJSONFallback
		}
		i, ok := p.byName[string(name)]
		if !ok {
			return errJSONFallback // unknown: protojson decides
		}
		if seen == nil {
			seen = make([]bool, len(p.fields))
		}
		if seen[i] {
			return errJSONFallback // protojson's duplicate field error
		}
		seen[i] = true
		f := &p.fields[i]
		if d.literal("null") {
			if f.fd.Kind() == protoreflect.MessageKind && isWellKnownJSON(f.fd.Message().FullName()) {
				return errJSONFallback // null is a google.protobuf.Value
			}
			// protojson leaves the field unset.
		} else if f.list {
			if err := d.list(m, f.fd, depth); err != nil {
				return err
			}
		} else {
			if od := f.fd.ContainingOneof(); od != nil {
				if seenOneofs == nil {
					seenOneofs = make([]bool, m.Descriptor().Oneofs().Len())
				}
				if seenOneofs[od.Index()] {
					return errJSONFallback
				}
				seenOneofs[od.Index()] = true
			}
			v, err := d.singular(m, f.fd, depth)
			if err != nil {
				return err
			}
			m.Set(f.fd, v)
		}
		if d.consume(',') {
			continue
		}
		if d.consume('}') {
			return nil
		}
		return errJSONFallback
	}
}

func (d *jsonDecoder) list(m protoreflect.Message, fd protoreflect.FieldDescriptor, depth int) error {
	if !d.consume('[') {
		return errJSONFallback
	}
	l := m.Mutable(fd).List()
	if d.consume(']') {
		return nil
	}
	for {
		var v protoreflect.Value
		var err error
		if fd.Kind() == protoreflect.MessageKind {
			v = l.NewElement()
			err = d.message(v.Message(), depth+1)
		} else {
			v, err = d.singular(m, fd, depth)
		}
		if err != nil {
			return err
		}
		l.Append(v)
		if d.consume(',') {
			continue
		}
		if d.consume(']') {
			return nil
		}
		return errJSONFallback
	}
}

// singular reads one value of fd's kind (a list's element for a list).
func (d *jsonDecoder) singular(m protoreflect.Message, fd protoreflect.FieldDescriptor, depth int) (protoreflect.Value, error) {
	fail := protoreflect.Value{}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if d.literal("true") {
			return protoreflect.ValueOfBool(true), nil
		}
		if d.literal("false") {
			return protoreflect.ValueOfBool(false), nil
		}
	case protoreflect.StringKind:
		if s, ok := d.rawString(); ok {
			return protoreflect.ValueOfString(string(s)), nil
		}
	case protoreflect.BytesKind:
		if s, ok := d.base64String(); ok {
			if b, ok := decodeJSONBytes(s); ok {
				return protoreflect.ValueOfBytes(b), nil
			}
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if s, ok := d.integer(); ok {
			if n, err := strconv.ParseInt(string(s), 10, 32); err == nil {
				return protoreflect.ValueOfInt32(int32(n)), nil
			}
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if s, ok := d.integer(); ok {
			if n, err := strconv.ParseInt(string(s), 10, 64); err == nil {
				return protoreflect.ValueOfInt64(n), nil
			}
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if s, ok := d.integer(); ok {
			if n, err := strconv.ParseUint(string(s), 10, 32); err == nil {
				return protoreflect.ValueOfUint32(uint32(n)), nil
			}
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if s, ok := d.integer(); ok {
			if n, err := strconv.ParseUint(string(s), 10, 64); err == nil {
				return protoreflect.ValueOfUint64(n), nil
			}
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		// Quoted forms ("NaN", "1.5") are protojson's.
		bitSize := 64
		if fd.Kind() == protoreflect.FloatKind {
			bitSize = 32
		}
		if tok, _, ok := d.number(); ok {
			if f, err := strconv.ParseFloat(string(tok), bitSize); err == nil {
				if bitSize == 32 {
					return protoreflect.ValueOfFloat32(float32(f)), nil
				}
				return protoreflect.ValueOfFloat64(f), nil
			}
		}
	case protoreflect.EnumKind:
		d.skipSpace()
		if d.pos < len(d.in) && d.in[d.pos] == '"' {
			if s, ok := d.rawString(); ok {
				if ev := fd.Enum().Values().ByName(protoreflect.Name(s)); ev != nil {
					return protoreflect.ValueOfEnum(ev.Number()), nil
				}
			}
		} else if s, ok := d.integer(); ok {
			if n, err := strconv.ParseInt(string(s), 10, 32); err == nil {
				return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
			}
		}
	case protoreflect.MessageKind:
		v := m.NewField(fd)
		if err := d.message(v.Message(), depth+1); err != nil {
			return fail, err
		}
		return v, nil
	}
	return fail, errJSONFallback
}

// decodeJSONBytes decodes a bytes field's string as protojson does:
// standard or URL alphabet (URL if it has - or _), padded or not. The
// standard alphabet is tried first, without looking for - and _: it
// refuses both, so it succeeds only where protojson would have used it.
func decodeJSONBytes(s []byte) ([]byte, bool) {
	std, url := base64.StdEncoding, base64.URLEncoding
	if len(s)%4 != 0 {
		std, url = base64.RawStdEncoding, base64.RawURLEncoding
	}
	b := make([]byte, std.DecodedLen(len(s)))
	if n, err := std.Decode(b, s); err == nil {
		return b[:n], true
	}
	if !bytes.ContainsAny(s, "-_") {
		return nil, false
	}
	n, err := url.Decode(b, s)
	if err != nil {
		return nil, false
	}
	return b[:n], true
}
