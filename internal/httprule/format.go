package httprule

import "strings"

// Format prints a parsed template in its shortest form, the inverse of
// ParseTemplate: a variable whose pattern is the default "*" is printed
// without it.
func Format(segs []Segment, vars []Variable, verb string) string {
	formatSegments := func(segs []Segment) string {
		parts := make([]string, len(segs))
		for i, s := range segs {
			switch s.Kind {
			case Wildcard:
				parts[i] = "*"
			case DeepWildcard:
				parts[i] = "**"
			default:
				parts[i] = s.Literal
			}
		}
		return strings.Join(parts, "/")
	}
	var parts []string
	for i := 0; i < len(segs); {
		var v *Variable
		for j := range vars {
			if vars[j].Start == i {
				v = &vars[j]
			}
		}
		if v == nil {
			parts = append(parts, formatSegments(segs[i:i+1]))
			i++
			continue
		}
		field := strings.Join(v.FieldPath, ".")
		if inner := segs[v.Start:v.End]; len(inner) == 1 && inner[0].Kind == Wildcard {
			parts = append(parts, "{"+field+"}")
		} else {
			parts = append(parts, "{"+field+"="+formatSegments(inner)+"}")
		}
		i = v.End
	}
	s := "/" + strings.Join(parts, "/")
	if verb != "" {
		s += ":" + verb
	}
	return s
}
