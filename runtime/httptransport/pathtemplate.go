package httptransport

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/svcclient/svcclient/internal/httprule"
)

// pathTemplate is an HTTPRule's path, compiled against the request message:
// the client expands it from a request, the server matches request paths
// against it and reads the variables back.
//
// Escaping follows the google.api.http rules: a variable of one segment
// ({id}, {id=*}) is percent-encoded in full, so a "/" in its value travels
// as %2F; a variable of several segments ({name=orgs/*/users/*},
// {path=**}) keeps its "/" separators, and the server leaves %2F in it
// encoded.
type pathTemplate struct {
	segments []httprule.Segment
	verb     string
	vars     []pathVar
	// varAt[i] is the index in vars of the variable that starts at segment
	// i, or -1.
	varAt []int
}

type pathVar struct {
	name   string // the field path as written, "user.user_id"
	fields fieldPath
	start  int
	end    int
	// multi variables span several segments or a "**": their value keeps
	// its "/" separators.
	multi bool
}

func compilePathTemplate(rule *httprule.Rule, req protoreflect.MessageDescriptor) (*pathTemplate, error) {
	t := &pathTemplate{segments: rule.Segments, verb: rule.Verb, varAt: make([]int, len(rule.Segments))}
	for i := range t.varAt {
		t.varAt[i] = -1
	}
	for i, v := range rule.Variables {
		fields, err := resolveFieldPath(req, v.FieldPath)
		if err != nil {
			return nil, err
		}
		if v.Start < 0 || v.End > len(rule.Segments) || v.Start >= v.End {
			return nil, fmt.Errorf("variable %s spans segments [%d, %d) of %d", strings.Join(v.FieldPath, "."), v.Start, v.End, len(rule.Segments))
		}
		single := v.End-v.Start == 1 && rule.Segments[v.Start].Kind == httprule.Wildcard
		t.vars = append(t.vars, pathVar{
			name:   strings.Join(v.FieldPath, "."),
			fields: fields,
			start:  v.Start,
			end:    v.End,
			multi:  !single,
		})
		t.varAt[v.Start] = i
	}
	return t, nil
}

// appendPath appends the expanded path ("/v1/users/42:undelete") for msg to b.
func (t *pathTemplate) appendPath(b []byte, msg protoreflect.Message) ([]byte, error) {
	if len(t.segments) == 0 {
		b = append(b, '/')
	}
	var scratch [64]byte
	for i := 0; i < len(t.segments); {
		b = append(b, '/')
		if vi := t.varAt[i]; vi >= 0 {
			v := &t.vars[vi]
			fd, val := v.fields.get(msg)
			text, err := appendValue(scratch[:0], fd, val)
			if err != nil {
				return b, fmt.Errorf("path variable %s: %w", v.name, err)
			}
			if !utf8.Valid(text) {
				// The handler refuses it, as every route refuses a string
				// that is not UTF-8.
				return b, fmt.Errorf("path variable %s: invalid UTF-8 in %q", v.name, text)
			}
			if !v.multi {
				b = appendEscaped(b, text, unreservedOnly)
			} else if b, err = t.appendMulti(b, v, string(text)); err != nil {
				return b, err
			}
			i = v.end
			continue
		}
		seg := t.segments[i]
		if seg.Kind != httprule.Literal {
			return b, fmt.Errorf("the template has a wildcard outside any variable; a client cannot fill it")
		}
		b = append(b, seg.Literal...)
		i++
	}
	if t.verb != "" {
		if b[len(b)-1] == '/' {
			// The matcher refuses a path whose last segment before the verb
			// is empty (a bare ":verb" segment): another route would take
			// the request, so the call is refused before it is sent.
			return b, t.emptyBeforeVerb()
		}
		b = append(b, ':')
		b = append(b, t.verb...)
	}
	return b, nil
}

func (t *pathTemplate) emptyBeforeVerb() error {
	for _, v := range t.vars {
		if v.end == len(t.segments) {
			return fmt.Errorf("path variable %s: an empty value, or one ending in \"/\", cannot come before the verb :%s", v.name, t.verb)
		}
	}
	return fmt.Errorf("the path ends in \"/\" before the verb :%s", t.verb)
}

// appendMulti checks a multi-segment value against the variable's own
// template (orgs/*/users/*) and appends it, each part escaped.
func (t *pathTemplate) appendMulti(b []byte, v *pathVar, value string) ([]byte, error) {
	rest, has := value, true
	for i := v.start; i < v.end; i++ {
		seg := t.segments[i]
		if seg.Kind == httprule.DeepWildcard {
			// "**" takes every remaining part, possibly none.
			if !has {
				return b, nil
			}
			if i > v.start {
				b = append(b, '/')
			}
			for {
				part, more := cutSegment(&rest)
				b = appendEscaped(b, []byte(part), pathChars)
				if !more {
					return b, nil
				}
				b = append(b, '/')
			}
		}
		if !has {
			return b, t.mismatch(v, value)
		}
		if i > v.start {
			b = append(b, '/')
		}
		var part string
		part, has = cutSegment(&rest)
		if seg.Kind == httprule.Literal && part != seg.Literal {
			return b, t.mismatch(v, value)
		}
		b = appendEscaped(b, []byte(part), pathChars)
	}
	if has {
		return b, t.mismatch(v, value)
	}
	return b, nil
}

func (t *pathTemplate) mismatch(v *pathVar, value string) error {
	return fmt.Errorf("path variable %s: value %q does not match the template %s", v.name, value, t.templateText(v))
}

// cutSegment removes the first "/"-separated part of *rest and returns it,
// with whether another part follows.
func cutSegment(rest *string) (string, bool) {
	part, after, found := strings.Cut(*rest, "/")
	*rest = after
	return part, found
}

func (t *pathTemplate) templateText(v *pathVar) string {
	parts := make([]string, 0, v.end-v.start)
	for _, s := range t.segments[v.start:v.end] {
		switch s.Kind {
		case httprule.Literal:
			parts = append(parts, s.Literal)
		case httprule.Wildcard:
			parts = append(parts, "*")
		case httprule.DeepWildcard:
			parts = append(parts, "**")
		}
	}
	return strings.Join(parts, "/")
}

// match reports whether path, the escaped request path without its leading
// "/", matches the template. On a match spans holds, for each variable, the
// byte range of its escaped text in path.
func (t *pathTemplate) match(path string, spans [][2]int) bool {
	if t.verb != "" {
		if len(path) <= len(t.verb)+1 || path[len(path)-len(t.verb)-1] != ':' || path[len(path)-len(t.verb):] != t.verb {
			return false
		}
		path = path[:len(path)-len(t.verb)-1]
		if path == "" || path[len(path)-1] == '/' {
			return false // a bare ":verb" segment
		}
	}
	if len(t.segments) == 0 {
		return path == ""
	}
	var startBuf, endBuf [16]int
	starts, ends := startBuf[:0], endBuf[:0]
	n, pos := len(path), 0
	for _, seg := range t.segments {
		if seg.Kind == httprule.DeepWildcard {
			// "**" matches the rest of the path, even nothing at all.
			start := min(pos, n)
			starts, ends = append(starts, start), append(ends, n)
			pos = n + 1
			continue
		}
		if pos > n {
			return false
		}
		end := n
		if j := strings.IndexByte(path[pos:], '/'); j >= 0 {
			end = pos + j
		}
		if seg.Kind == httprule.Literal && path[pos:end] != seg.Literal {
			return false
		}
		starts, ends = append(starts, pos), append(ends, end)
		pos = end + 1
	}
	if pos != n+1 {
		return false
	}
	for i, v := range t.vars {
		spans[i] = [2]int{starts[v.start], ends[v.end-1]}
	}
	return true
}

// Character classes for escaping.
type escapeSet uint8

const (
	// unreservedOnly leaves RFC 3986 unreserved characters as they are.
	unreservedOnly escapeSet = iota
	// pathChars also leaves the characters a path segment may hold
	// unencoded (sub-delims, ':' and '@'), except those a query or a
	// google.api.http verb would misread.
	pathChars
	// queryChars is for query keys and values (url.QueryEscape).
	queryChars
)

const upperhex = "0123456789ABCDEF"

func shouldEscape(c byte, set escapeSet) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return false
	}
	switch c {
	case '-', '_', '.', '~':
		return false
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', '@', ':':
		return set != pathChars
	}
	return true
}

// appendEscaped appends s to b, percent-encoding the characters set does
// not leave alone (a space becomes "+" in queries, as url.QueryEscape does).
func appendEscaped(b, s []byte, set escapeSet) []byte {
	for _, c := range s {
		switch {
		case !shouldEscape(c, set):
			b = append(b, c)
		case c == ' ' && set == queryChars:
			b = append(b, '+')
		default:
			b = append(b, '%', upperhex[c>>4], upperhex[c&15])
		}
	}
	return b
}

// unescapePath decodes the escaped text of a path variable. In a
// multi-segment variable %2F stays encoded, so that a "/" inside one part
// cannot be confused with a separator.
func unescapePath(s string, multi bool) (string, error) {
	n := strings.Count(s, "%")
	if n == 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
			end := min(i+3, len(s))
			return "", fmt.Errorf("malformed escape %q", s[i:end])
		}
		d := unhex(s[i+1])<<4 | unhex(s[i+2])
		if multi && d == '/' {
			b = append(b, s[i:i+3]...)
		} else {
			b = append(b, d)
		}
		i += 2
	}
	return string(b), nil
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
