package generator

import "github.com/svcclient/svcclient/internal/httprule"

// FormatTemplate parses a google.api.http path template and prints it back
// from the parsed form, for the round-trip check of FuzzHTTPRule.
func FormatTemplate(tmpl string) (string, error) {
	segs, vars, verb, err := httprule.ParseTemplate(tmpl)
	if err != nil {
		return "", err
	}
	return httprule.Format(segs, vars, verb), nil
}
