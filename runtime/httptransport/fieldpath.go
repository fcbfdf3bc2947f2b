package httptransport

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// fieldPath is a chain of fields from a request message to a nested field,
// resolved once from the proto field names the generator recorded.
type fieldPath []protoreflect.FieldDescriptor

func resolveFieldPath(md protoreflect.MessageDescriptor, names []string) (fieldPath, error) {
	p := make(fieldPath, 0, len(names))
	for i, name := range names {
		if md == nil {
			return nil, fmt.Errorf("field path %s: %s is not a message", strings.Join(names, "."), names[i-1])
		}
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return nil, fmt.Errorf("field path %s: %s has no field %q", strings.Join(names, "."), md.FullName(), name)
		}
		if i < len(names)-1 && (fd.IsList() || fd.IsMap()) {
			return nil, fmt.Errorf("field path %s: %s is repeated", strings.Join(names, "."), name)
		}
		p = append(p, fd)
		md = fd.Message()
	}
	return p, nil
}

func (p fieldPath) String() string {
	names := make([]string, len(p))
	for i, fd := range p {
		names[i] = string(fd.Name())
	}
	return strings.Join(names, ".")
}

func (p fieldPath) last() protoreflect.FieldDescriptor { return p[len(p)-1] }

// get returns the last field of the path and its value in m, without
// creating the messages along the way.
func (p fieldPath) get(m protoreflect.Message) (protoreflect.FieldDescriptor, protoreflect.Value) {
	for _, fd := range p[:len(p)-1] {
		m = m.Get(fd).Message()
	}
	fd := p.last()
	return fd, m.Get(fd)
}

// parent returns the message holding the path's last field, creating the
// messages along the way.
func (p fieldPath) parent(m protoreflect.Message) protoreflect.Message {
	for _, fd := range p[:len(p)-1] {
		m = m.Mutable(fd).Message()
	}
	return m
}

// overlaps reports whether one of a and b is a prefix of the other: setting
// one would touch the other.
func overlaps(a, b []protoreflect.FieldDescriptor) bool {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// setFromText parses text into the field at the end of p in m, as path
// variables do.
func (p fieldPath) setFromText(m protoreflect.Message, text string) error {
	parent := p.parent(m)
	fd := p.last()
	if fd.IsList() {
		v, err := parseValue(fd, text, func() protoreflect.Message { return parent.Mutable(fd).List().NewElement().Message() })
		if err != nil {
			return err
		}
		parent.Mutable(fd).List().Append(v)
		return nil
	}
	v, err := parseValue(fd, text, func() protoreflect.Message { return parent.NewField(fd).Message() })
	if err != nil {
		return err
	}
	parent.Set(fd, v)
	return nil
}
