// Package templates holds the text templates that protoc-gen-svcclient
// prints generated code with. They only loop and print: every decision is
// made in package generator, which builds the view model they receive.
//
// The templates call one function per imported package ({{grpc
// "CallOption"}}, {{runtime "NewClient"}}) and {{ident .Input}} for message
// types; the generator binds these to protogen.GeneratedFile.QualifiedGoIdent
// so that protogen owns imports and formatting.
package templates

import (
	"embed"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// File is the parsed template set. Clone it and bind the import functions
// before executing the "file" template.
var File = template.Must(template.New("svcclient").Funcs(placeholderFuncs).ParseFS(files, "*.tmpl"))

// placeholderFuncs declare the functions the generator binds per file, so
// the templates parse; called unbound, they fail loudly.
var placeholderFuncs = template.FuncMap{
	"ident":   unbound,
	"context": unbound,
	"grpc":    unbound,
	"codes":   unbound,
	"status":  unbound,
	"runtime": unbound,
}

func unbound(any) (string, error) {
	panic("templates: import functions are not bound; clone File and call Funcs first")
}
