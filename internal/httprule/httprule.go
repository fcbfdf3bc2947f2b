// Package httprule parses google.api.http annotations: the HTTP method, the
// path template, and the body and response_body fields, checked against the
// method's messages. It is the one parser of those rules: the plugin uses it
// to reject a bad rule at generation time, and the HTTP transport to build
// its routes from the same descriptors at run time. It imports nothing but
// the protobuf runtime and the annotation types, so the plugin stays small.
package httprule

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Rule is one parsed google.api.http binding.
type Rule struct {
	// Method is the HTTP method: GET, PUT, POST, DELETE, PATCH, or the kind
	// of a custom pattern.
	Method string
	// Pattern is the path template as written in the .proto file, kept for
	// error messages and documentation.
	Pattern string
	// Segments is the template's path, one element per '/'-separated
	// segment, without the verb.
	Segments []Segment
	// Variables are the template's {field.path=...} captures.
	Variables []Variable
	// Verb is the template's ":verb" suffix without its colon, or "".
	Verb string
	// Body is "" when the request has no body, "*" when the whole request
	// message is the body, or the name of the request field that is.
	Body string
	// ResponseBody is "" when the whole response message is the body, or the
	// name of the response field that is.
	ResponseBody string
}

// SegmentKind says how a path segment matches.
type SegmentKind uint8

const (
	// Literal segments match their text exactly.
	Literal SegmentKind = iota
	// Wildcard segments ("*") match exactly one segment.
	Wildcard
	// DeepWildcard segments ("**") match the rest of the path, zero or more
	// segments. Only the last segment may be one.
	DeepWildcard
)

// Segment is one segment of a path template.
type Segment struct {
	Kind    SegmentKind
	Literal string // the text of a Literal segment
}

// Variable binds the path segments [Start, End) of a template to a field of
// the request message.
type Variable struct {
	// FieldPath is the field's path from the request message, by proto
	// field name: ["user", "user_id"] for {user.user_id}.
	FieldPath []string
	// Start and End index Rule.Segments.
	Start, End int
}

// ForMethod returns a method's google.api.http bindings, the primary one
// first and its additional_bindings after it, or nil when it has none. A
// rule that would fail at call time fails here instead, with the reason.
func ForMethod(method protoreflect.MethodDescriptor) ([]Rule, error) {
	opts := method.Options()
	if opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
		return nil, nil
	}
	rule, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	if rule == nil {
		return nil, nil
	}
	primary, err := Parse(method, rule)
	if err != nil {
		return nil, err
	}
	rules := []Rule{primary}
	for i, binding := range rule.GetAdditionalBindings() {
		if len(binding.GetAdditionalBindings()) > 0 {
			return nil, fmt.Errorf("google.api.http additional_bindings[%d]: additional bindings may not nest", i)
		}
		r, err := Parse(method, binding)
		if err != nil {
			return nil, fmt.Errorf("additional_bindings[%d]: %w", i, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// Parse parses one binding of method (its additional_bindings are ignored)
// and checks its fields against the method's request and response messages.
func Parse(method protoreflect.MethodDescriptor, rule *annotations.HttpRule) (Rule, error) {
	var verb, pattern string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		verb, pattern = "GET", p.Get
	case *annotations.HttpRule_Put:
		verb, pattern = "PUT", p.Put
	case *annotations.HttpRule_Post:
		verb, pattern = "POST", p.Post
	case *annotations.HttpRule_Delete:
		verb, pattern = "DELETE", p.Delete
	case *annotations.HttpRule_Patch:
		verb, pattern = "PATCH", p.Patch
	case *annotations.HttpRule_Custom:
		verb, pattern = p.Custom.GetKind(), p.Custom.GetPath()
		if !isHTTPToken(verb) {
			return Rule{}, fmt.Errorf("google.api.http custom kind %q is not an HTTP method name", verb)
		}
	default:
		return Rule{}, errors.New("google.api.http sets no pattern: want one of get, put, post, delete, patch or custom")
	}
	r := Rule{Method: verb, Pattern: pattern, Body: rule.GetBody(), ResponseBody: rule.GetResponseBody()}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("google.api.http %s %q: %s", strings.ToLower(verb), pattern, fmt.Sprintf(format, args...))
	}
	var err error
	r.Segments, r.Variables, r.Verb, err = ParseTemplate(pattern)
	if err != nil {
		return Rule{}, fail("%v", err)
	}
	in, out := method.Input(), method.Output()
	bound := make(map[string]bool, len(r.Variables))
	for _, v := range r.Variables {
		name := strings.Join(v.FieldPath, ".")
		if bound[name] {
			return Rule{}, fail("field %q is bound twice", name)
		}
		bound[name] = true
		if err := checkPathField(in, v.FieldPath); err != nil {
			return Rule{}, fail("%v", err)
		}
	}
	switch r.Body {
	case "", "*":
	default:
		if in.Fields().ByName(protoreflect.Name(r.Body)) == nil {
			return Rule{}, fail("body field %q does not exist in %s", r.Body, in.FullName())
		}
	}
	if r.Body != "" && verb == "GET" {
		return Rule{}, fail("a GET request has no body, but body is %q", r.Body)
	}
	if r.ResponseBody != "" && out.Fields().ByName(protoreflect.Name(r.ResponseBody)) == nil {
		return Rule{}, fail("response_body field %q does not exist in %s", r.ResponseBody, out.FullName())
	}
	return r, nil
}

// checkPathField checks that a path variable names a singular scalar field,
// reached through singular message fields.
func checkPathField(msg protoreflect.MessageDescriptor, path []string) error {
	for i, name := range path {
		f := msg.Fields().ByName(protoreflect.Name(name))
		if f == nil {
			return fmt.Errorf("path field %q: %s has no field %q", strings.Join(path, "."), msg.FullName(), name)
		}
		last := i == len(path)-1
		isMessage := f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind
		switch {
		case f.IsList() || f.IsMap():
			return fmt.Errorf("path field %q: %s is repeated; a path segment binds one value", strings.Join(path, "."), f.FullName())
		case !last && !isMessage:
			return fmt.Errorf("path field %q: %s is not a message, so it has no field %q", strings.Join(path, "."), f.FullName(), path[i+1])
		case last && isMessage:
			return fmt.Errorf("path field %q: %s is a message; a path segment binds a scalar field", strings.Join(path, "."), f.FullName())
		}
		msg = f.Message()
	}
	return nil
}

// ParseTemplate parses a google.api.http path template:
//
//	Template = "/" [ Segments ] [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
func ParseTemplate(tmpl string) (segments []Segment, variables []Variable, verb string, err error) {
	if !strings.HasPrefix(tmpl, "/") {
		return nil, nil, "", errors.New("the path template must start with '/'")
	}
	path, verb, err := splitVerb(tmpl[1:])
	if err != nil {
		return nil, nil, "", err
	}
	var segs []Segment
	var vars []Variable
	if path != "" {
		parts, err := splitSegments(path)
		if err != nil {
			return nil, nil, "", err
		}
		for _, part := range parts {
			if !strings.HasPrefix(part, "{") {
				seg, err := parseSegment(part)
				if err != nil {
					return nil, nil, "", err
				}
				segs = append(segs, seg)
				continue
			}
			v, inner, err := parseVariable(part)
			if err != nil {
				return nil, nil, "", err
			}
			v.Start = len(segs)
			segs = append(segs, inner...)
			v.End = len(segs)
			vars = append(vars, v)
		}
	}
	for i, s := range segs {
		if s.Kind == DeepWildcard && i != len(segs)-1 {
			return nil, nil, "", errors.New("'**' must be the last segment")
		}
	}
	return segs, vars, verb, nil
}

// splitVerb splits off a trailing ":verb": a colon outside braces with no
// '/' after it.
func splitVerb(s string) (path, verb string, err error) {
	depth, colon := 0, -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth < 0 {
				return "", "", errors.New("unbalanced '}'")
			}
		case '/':
			if depth == 0 {
				colon = -1
			}
		case ':':
			if depth == 0 {
				colon = i
			}
		}
	}
	if depth != 0 {
		return "", "", errors.New("unclosed '{'")
	}
	if colon < 0 {
		return s, "", nil
	}
	verb = s[colon+1:]
	if verb == "" || strings.ContainsAny(verb, "{}*=:") {
		return "", "", fmt.Errorf("bad verb %q after ':'", verb)
	}
	if err := checkLiteral(verb); err != nil {
		return "", "", fmt.Errorf("verb %q: %w", verb, err)
	}
	return s[:colon], verb, nil
}

// splitSegments splits at the slashes that are not inside a variable.
func splitSegments(s string) ([]string, error) {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if depth > 0 {
				return nil, errors.New("variables may not nest")
			}
			depth++
		case '}':
			depth--
		case '/':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:]), nil
}

func parseSegment(s string) (Segment, error) {
	switch s {
	case "":
		return Segment{}, errors.New("empty path segment (a doubled or trailing '/')")
	case "*":
		return Segment{Kind: Wildcard}, nil
	case "**":
		return Segment{Kind: DeepWildcard}, nil
	}
	if strings.ContainsAny(s, "{}*=:") {
		return Segment{}, fmt.Errorf("bad path segment %q", s)
	}
	if err := checkLiteral(s); err != nil {
		return Segment{}, fmt.Errorf("path segment %q: %w", s, err)
	}
	return Segment{Kind: Literal, Literal: s}, nil
}

// checkLiteral checks that a literal segment or verb is sent and received
// as written. The client appends it to the URL path as it is, and the
// handler compares it with the escaped path: a '?' or '#' would end the
// path, and a character net/url escapes (a space, '!', a non-ASCII letter)
// would arrive escaped and never match. What is left is RFC 3986's
// unreserved characters, the sub-delimiters a path keeps, '@', and
// %XX escapes.
func checkLiteral(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~$&+,;@", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return fmt.Errorf("'%%' must start a %%XX escape")
			}
			i += 2
		default:
			return fmt.Errorf("%q would not reach the server as written; use letters, digits, -._~$&+,;@ or %%XX escapes", c)
		}
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// parseVariable parses "{field.path}" or "{field.path=segments}".
func parseVariable(s string) (Variable, []Segment, error) {
	if !strings.HasSuffix(s, "}") {
		return Variable{}, nil, fmt.Errorf("bad path segment %q: text after a variable", s)
	}
	inner := s[1 : len(s)-1]
	field, pattern, hasPattern := strings.Cut(inner, "=")
	if !hasPattern {
		pattern = "*"
	}
	var v Variable
	for _, name := range strings.Split(field, ".") {
		if !isIdent(name) {
			return v, nil, fmt.Errorf("bad variable %q: %q is not a field name", s, field)
		}
		v.FieldPath = append(v.FieldPath, name)
	}
	if pattern == "" {
		return v, nil, fmt.Errorf("bad variable %q: empty pattern after '='", s)
	}
	var segs []Segment
	for _, part := range strings.Split(pattern, "/") {
		seg, err := parseSegment(part)
		if err != nil {
			return v, nil, fmt.Errorf("bad variable %q: %w", s, err)
		}
		segs = append(segs, seg)
	}
	return v, segs, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// isHTTPToken reports whether s is a valid HTTP method name (RFC 9110 token).
func isHTTPToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}
