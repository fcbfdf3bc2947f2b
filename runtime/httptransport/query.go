package httptransport

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// The query string carries the request fields that neither the path nor
// the body does, encoded as grpc-gateway's DefaultQueryParser decodes them:
//
//   - a nested field by its dotted path: filter.email_domain=x
//   - a repeated field by repeating its key: roles=ROLE_READER&roles=ROLE_ADMIN
//   - a map entry as key[map_key]=value
//   - each value in the text form of value.go.
//
// The client writes proto field names; the server also accepts the JSON
// names, as grpc-gateway does, and ignores parameters that name no field.

// queryEncoder appends the query string of a request, "?" included, to b.
type queryEncoder struct {
	b      []byte
	params int
	// skip holds the field paths that travel elsewhere (path, body).
	skip  []fieldPath
	stack []protoreflect.FieldDescriptor
	key   []byte
}

func (e *queryEncoder) message(m protoreflect.Message) error {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		e.stack = append(e.stack, fd)
		keyLen := len(e.key)
		if keyLen > 0 {
			e.key = append(e.key, '.')
		}
		e.key = append(e.key, fd.Name()...)
		if err := e.field(fd, m.Get(fd)); err != nil {
			return err
		}
		e.key = e.key[:keyLen]
		e.stack = e.stack[:len(e.stack)-1]
	}
	return nil
}

func (e *queryEncoder) skipped() bool {
	for _, p := range e.skip {
		if len(p) == len(e.stack) && overlaps(p, e.stack) {
			return true
		}
	}
	return false
}

// partlySkipped reports whether a field inside the current message travels
// elsewhere, so the message cannot be sent as one parameter.
func (e *queryEncoder) partlySkipped() bool {
	for _, p := range e.skip {
		if len(p) > len(e.stack) && overlaps(p, e.stack) {
			return true
		}
	}
	return false
}

func (e *queryEncoder) field(fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	if e.skipped() {
		return nil
	}
	var err error
	switch {
	case fd.IsMap():
		return e.mapField(fd, v.Map())
	case fd.IsList():
		list := v.List()
		for i := 0; i < list.Len(); i++ {
			if err = e.param(fd, list.Get(i)); err != nil {
				return err
			}
		}
		return nil
	case fd.Message() != nil && (!isWellKnownText(fd.Message()) || e.partlySkipped()):
		return e.message(v.Message())
	}
	return e.param(fd, v)
}

func (e *queryEncoder) mapField(fd protoreflect.FieldDescriptor, m protoreflect.Map) error {
	keys := make([]protoreflect.MapKey, 0, m.Len())
	m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, func(a, b protoreflect.MapKey) int { return strings.Compare(a.String(), b.String()) })
	keyLen := len(e.key)
	for _, k := range keys {
		e.key = append(e.key, '[')
		e.key = appendScalar(e.key, fd.MapKey().Kind(), k.Value())
		e.key = append(e.key, ']')
		if err := e.param(fd.MapValue(), m.Get(k)); err != nil {
			return err
		}
		e.key = e.key[:keyLen]
	}
	return nil
}

func (e *queryEncoder) param(fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	var scratch [64]byte
	text, err := appendValue(scratch[:0], fd, v)
	if err != nil {
		return fmt.Errorf("query parameter %s: %w", e.key, err)
	}
	if !utf8.Valid(text) || !utf8.Valid(e.key) {
		// The handler refuses it (InvalidArgument), as it refuses a
		// string that is not UTF-8 on every route.
		return fmt.Errorf("query parameter %q: invalid UTF-8 in %q", e.key, text)
	}
	if e.params == 0 {
		e.b = append(e.b, '?')
	} else {
		e.b = append(e.b, '&')
	}
	e.params++
	e.b = appendEscaped(e.b, e.key, queryChars)
	e.b = append(e.b, '=')
	e.b = appendEscaped(e.b, text, queryChars)
	return nil
}

func isWellKnownText(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
		"google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
		"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Empty":
		return true
	}
	return false
}

// parseQuery sets the fields of m named in rawQuery. Parameters naming a
// field in skip (or inside one, or containing one) are ignored, as
// grpc-gateway ignores parameters for fields bound by the path or body.
func parseQuery(m protoreflect.Message, rawQuery string, skip []fieldPath) error {
	var stackBuf [8]protoreflect.FieldDescriptor
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return fmt.Errorf("query parameter %q: %w", rawKey, err)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return fmt.Errorf("query parameter %s: %w", key, err)
		}
		if err := setQueryParam(m, key, value, skip, stackBuf[:0]); err != nil {
			return err
		}
	}
	return nil
}

// setQueryParam sets the field that one query parameter names: split the
// key, resolve its field path, then set the value on the field.
func setQueryParam(m protoreflect.Message, key, value string, skip []fieldPath, path []protoreflect.FieldDescriptor) error {
	fieldKey, mapKey, hasMapKey := splitMapKey(key)
	path, found, err := resolveQueryPath(m, key, fieldKey, path)
	if err != nil {
		return err
	}
	if !found {
		// Not a field: someone else's parameter. grpc-gateway still
		// creates the messages on the way to it; so do we, so that both
		// decode the same request.
		if len(path) > 0 && !skipped(path, skip) {
			fieldPath(path).parent(m).Mutable(path[len(path)-1])
		}
		return nil
	}
	if skipped(path, skip) {
		return nil
	}
	fd := path[len(path)-1]
	if hasMapKey != fd.IsMap() {
		if hasMapKey {
			return fmt.Errorf("query parameter %s: %s is not a map", key, fd.Name())
		}
		return fmt.Errorf("query parameter %s: map fields take the form %s[key]=value", key, fieldKey)
	}
	parent := fieldPath(path).parent(m)
	if err := checkOneofFree(parent, fd, key); err != nil {
		return err
	}
	switch {
	case fd.IsMap():
		return setMapEntry(parent, fd, key, mapKey, value)
	case fd.IsList():
		return appendListValue(parent, fd, key, value)
	default:
		return setSingularValue(parent, fd, key, value)
	}
}

// splitMapKey splits "field[key]" into the field's key and the map key.
func splitMapKey(key string) (fieldKey, mapKey string, hasMapKey bool) {
	if i := strings.IndexByte(key, '['); i > 0 && strings.HasSuffix(key, "]") {
		return key[:i], key[i+1 : len(key)-1], true
	}
	return key, "", false
}

// resolveQueryPath appends to path the fields that the dotted fieldKey
// names, by proto or JSON name, from m's message down. It resolves the
// whole path before anything creates a message on it, so that an ignored
// parameter leaves the request untouched. found is false if a name is no
// field; path then holds the fields before it.
func resolveQueryPath(m protoreflect.Message, key, fieldKey string, path []protoreflect.FieldDescriptor) (_ []protoreflect.FieldDescriptor, found bool, _ error) {
	md := m.Descriptor()
	for name := range strings.SplitSeq(fieldKey, ".") {
		if md == nil {
			return path, false, fmt.Errorf("query parameter %s: %s is not a message", key, path[len(path)-1].Name())
		}
		fields := md.Fields()
		fd := fields.ByName(protoreflect.Name(name))
		if fd == nil {
			fd = fields.ByJSONName(name)
		}
		if fd == nil {
			return path, false, nil
		}
		if len(path) > 0 && (path[len(path)-1].IsList() || path[len(path)-1].IsMap()) {
			return path, false, fmt.Errorf("query parameter %s: %s is not a singular message", key, path[len(path)-1].Name())
		}
		path = append(path, fd)
		md = fd.Message()
		if fd.IsMap() {
			md = nil
		}
	}
	return path, true, nil
}

// checkOneofFree fails if another field of fd's oneof is already set.
func checkOneofFree(parent protoreflect.Message, fd protoreflect.FieldDescriptor, key string) error {
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		if set := parent.WhichOneof(od); set != nil && set != fd {
			return fmt.Errorf("query parameter %s: field %s of oneof %s is already set", key, set.Name(), od.Name())
		}
	}
	return nil
}

func setMapEntry(parent protoreflect.Message, fd protoreflect.FieldDescriptor, key, mapKey, value string) error {
	mk, err := parseScalar(fd.MapKey().Kind(), mapKey)
	if err != nil {
		return fmt.Errorf("query parameter %s: map key: %w", key, err)
	}
	mp := parent.Mutable(fd).Map()
	v, err := parseValue(fd.MapValue(), value, func() protoreflect.Message { return mp.NewValue().Message() })
	if err != nil {
		return fmt.Errorf("query parameter %s: %w", key, err)
	}
	mp.Set(mk.MapKey(), v)
	return nil
}

func appendListValue(parent protoreflect.Message, fd protoreflect.FieldDescriptor, key, value string) error {
	list := parent.Mutable(fd).List()
	v, err := parseValue(fd, value, func() protoreflect.Message { return list.NewElement().Message() })
	if err != nil {
		return fmt.Errorf("query parameter %s: %w", key, err)
	}
	list.Append(v)
	return nil
}

// setSingularValue sets a singular field; a scalar given twice is an
// error.
func setSingularValue(parent protoreflect.Message, fd protoreflect.FieldDescriptor, key, value string) error {
	if parent.Has(fd) && fd.Message() == nil {
		return fmt.Errorf("query parameter %s: too many values for field %s", key, fd.Name())
	}
	v, err := parseValue(fd, value, func() protoreflect.Message { return parent.NewField(fd).Message() })
	if err != nil {
		return fmt.Errorf("query parameter %s: %w", key, err)
	}
	parent.Set(fd, v)
	return nil
}

// skipped reports whether path names a field in skip, inside one, or
// containing one.
func skipped(path []protoreflect.FieldDescriptor, skip []fieldPath) bool {
	for _, p := range skip {
		if overlaps(p, path) {
			return true
		}
	}
	return false
}
