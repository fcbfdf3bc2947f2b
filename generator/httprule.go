package generator

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// httpRuleModel is one google.api.http binding, parsed and checked against
// the method's messages, ready to print as a runtime.HTTPRule literal.
type httpRuleModel struct {
	Method       string
	Pattern      string
	Segments     []segmentModel
	Variables    []variableModel
	Verb         string
	Body         string
	ResponseBody string
}

type segmentModel struct {
	Kind    string // the runtime.SegmentKind constant: Literal, Wildcard, DeepWildcard
	Literal string
}

type variableModel struct {
	FieldPath  []string
	Start, End int
}

// httpRules returns a method's google.api.http bindings, the primary one
// first, or nil when it has none. A rule that would fail at call time fails
// here instead, with the reason.
func httpRules(method *protogen.Method) ([]*httpRuleModel, error) {
	opts := method.Desc.Options()
	if opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
		return nil, nil
	}
	rule, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	if rule == nil {
		return nil, nil
	}
	primary, err := newHTTPRule(method, rule)
	if err != nil {
		return nil, err
	}
	rules := []*httpRuleModel{primary}
	for i, binding := range rule.GetAdditionalBindings() {
		if len(binding.GetAdditionalBindings()) > 0 {
			return nil, fmt.Errorf("google.api.http additional_bindings[%d]: additional bindings may not nest", i)
		}
		r, err := newHTTPRule(method, binding)
		if err != nil {
			return nil, fmt.Errorf("additional_bindings[%d]: %w", i, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func newHTTPRule(method *protogen.Method, rule *annotations.HttpRule) (*httpRuleModel, error) {
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
			return nil, fmt.Errorf("google.api.http custom kind %q is not an HTTP method name", verb)
		}
	default:
		return nil, errors.New("google.api.http sets no pattern: want one of get, put, post, delete, patch or custom")
	}
	r := &httpRuleModel{Method: verb, Pattern: pattern, Body: rule.GetBody(), ResponseBody: rule.GetResponseBody()}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("google.api.http %s %q: %s", strings.ToLower(verb), pattern, fmt.Sprintf(format, args...))
	}
	var err error
	r.Segments, r.Variables, r.Verb, err = parseTemplate(pattern)
	if err != nil {
		return nil, fail("%v", err)
	}
	bound := make(map[string]bool, len(r.Variables))
	for _, v := range r.Variables {
		name := strings.Join(v.FieldPath, ".")
		if bound[name] {
			return nil, fail("field %q is bound twice", name)
		}
		bound[name] = true
		if err := checkPathField(method.Input, v.FieldPath); err != nil {
			return nil, fail("%v", err)
		}
	}
	switch r.Body {
	case "", "*":
	default:
		if findField(method.Input, r.Body) == nil {
			return nil, fail("body field %q does not exist in %s", r.Body, method.Input.Desc.FullName())
		}
	}
	if r.Body != "" && verb == "GET" {
		return nil, fail("a GET request has no body, but body is %q", r.Body)
	}
	if r.ResponseBody != "" && findField(method.Output, r.ResponseBody) == nil {
		return nil, fail("response_body field %q does not exist in %s", r.ResponseBody, method.Output.Desc.FullName())
	}
	return r, nil
}

// checkPathField checks that a path variable names a singular scalar field,
// reached through singular message fields.
func checkPathField(msg *protogen.Message, path []string) error {
	for i, name := range path {
		f := findField(msg, name)
		if f == nil {
			return fmt.Errorf("path field %q: %s has no field %q", strings.Join(path, "."), msg.Desc.FullName(), name)
		}
		last := i == len(path)-1
		switch {
		case f.Desc.IsList() || f.Desc.IsMap():
			return fmt.Errorf("path field %q: %s is repeated; a path segment binds one value", strings.Join(path, "."), f.Desc.FullName())
		case !last && f.Message == nil:
			return fmt.Errorf("path field %q: %s is not a message, so it has no field %q", strings.Join(path, "."), f.Desc.FullName(), path[i+1])
		case last && (f.Desc.Kind() == protoreflect.MessageKind || f.Desc.Kind() == protoreflect.GroupKind):
			return fmt.Errorf("path field %q: %s is a message; a path segment binds a scalar field", strings.Join(path, "."), f.Desc.FullName())
		}
		msg = f.Message
	}
	return nil
}

func findField(msg *protogen.Message, name string) *protogen.Field {
	for _, f := range msg.Fields {
		if string(f.Desc.Name()) == name {
			return f
		}
	}
	return nil
}

// parseTemplate parses a google.api.http path template:
//
//	Template = "/" [ Segments ] [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
func parseTemplate(tmpl string) ([]segmentModel, []variableModel, string, error) {
	if !strings.HasPrefix(tmpl, "/") {
		return nil, nil, "", errors.New("the path template must start with '/'")
	}
	path, verb, err := splitVerb(tmpl[1:])
	if err != nil {
		return nil, nil, "", err
	}
	var segs []segmentModel
	var vars []variableModel
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
		if s.Kind == "DeepWildcard" && i != len(segs)-1 {
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

func parseSegment(s string) (segmentModel, error) {
	switch s {
	case "":
		return segmentModel{}, errors.New("empty path segment (a doubled or trailing '/')")
	case "*":
		return segmentModel{Kind: "Wildcard"}, nil
	case "**":
		return segmentModel{Kind: "DeepWildcard"}, nil
	}
	if strings.ContainsAny(s, "{}*=:") {
		return segmentModel{}, fmt.Errorf("bad path segment %q", s)
	}
	if err := checkLiteral(s); err != nil {
		return segmentModel{}, fmt.Errorf("path segment %q: %w", s, err)
	}
	return segmentModel{Kind: "Literal", Literal: s}, nil
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
func parseVariable(s string) (variableModel, []segmentModel, error) {
	if !strings.HasSuffix(s, "}") {
		return variableModel{}, nil, fmt.Errorf("bad path segment %q: text after a variable", s)
	}
	inner := s[1 : len(s)-1]
	field, pattern, hasPattern := strings.Cut(inner, "=")
	if !hasPattern {
		pattern = "*"
	}
	var v variableModel
	for _, name := range strings.Split(field, ".") {
		if !isIdent(name) {
			return v, nil, fmt.Errorf("bad variable %q: %q is not a field name", s, field)
		}
		v.FieldPath = append(v.FieldPath, name)
	}
	if pattern == "" {
		return v, nil, fmt.Errorf("bad variable %q: empty pattern after '='", s)
	}
	var segs []segmentModel
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
