package generator

import "strings"

// FormatTemplate parses a google.api.http path template and prints it back
// from the parsed form, for the round-trip check of FuzzHTTPRule.
func FormatTemplate(tmpl string) (string, error) {
	segs, vars, verb, err := parseTemplate(tmpl)
	if err != nil {
		return "", err
	}
	return formatTemplate(segs, vars, verb), nil
}

// formatTemplate prints a parsed template in its shortest form: a variable
// whose pattern is the default "*" is printed without it.
func formatTemplate(segs []segmentModel, vars []variableModel, verb string) string {
	formatSegments := func(segs []segmentModel) string {
		parts := make([]string, len(segs))
		for i, s := range segs {
			switch s.Kind {
			case "Wildcard":
				parts[i] = "*"
			case "DeepWildcard":
				parts[i] = "**"
			default:
				parts[i] = s.Literal
			}
		}
		return strings.Join(parts, "/")
	}
	var parts []string
	for i := 0; i < len(segs); {
		var v *variableModel
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
		if inner := segs[v.Start:v.End]; len(inner) == 1 && inner[0].Kind == "Wildcard" {
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
