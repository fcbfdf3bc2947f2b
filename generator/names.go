package generator

import (
	"fmt"
	"go/token"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/compiler/protogen"

	"github.com/svcclient/svcclient/templates"
)

// serviceNames are the Go identifiers generated for one service. They are
// derived here and nowhere else, as protoc-gen-connect-go's newNames does,
// so that the clash checks in [declarations] see every name the templates
// print.
type serviceNames = templates.Names

func newServiceNames(goName string) serviceNames {
	return serviceNames{
		Client:             goName + "Client",
		ClientConstructor:  "New" + goName + "Client",
		ClientImpl:         unexport(goName) + "Client",
		Server:             goName + "Server",
		Unimplemented:      "Unimplemented" + goName + "Server",
		ServiceConstructor: "New" + goName + "Service",
		Desc:               goName + "_ServiceDesc",
	}
}

// fullMethodVar names the constant that holds a method's full name.
func fullMethodVar(service *protogen.Service, method *protogen.Method) string {
	return service.GoName + "_" + method.GoName + "_FullMethodName"
}

// declarations records the package-level identifiers generated into one Go
// package, with what each one is, so that a second declaration of a name is
// reported with both owners rather than left to the Go compiler. Two
// services can derive one name in many ways: Greeter and greeter (both
// Greeter), NewGreeter beside Greeter (NewGreeterClient is the client
// interface of one and the constructor of the other), Greeter_Say.Hello
// beside Greeter.Say_Hello (one full-method constant). The plugin reports
// these rather than renaming: a rename would change a public API when an
// unrelated service is added, and the user can always rename a service.
type declarations struct {
	owner map[string]string // identifier -> what declares it
}

func newDeclarations() *declarations {
	return &declarations{owner: make(map[string]string)}
}

// declare records name as the kind of identifier it is (a client
// interface) of its owner (service x.Greeter (x.proto)), or returns an error
// naming both owners.
func (d *declarations) declare(name, kind, of string) error {
	if other, ok := d.owner[name]; ok {
		return fmt.Errorf("its %s %s is also the %s; rename one of them", kind, name, other)
	}
	d.owner[name] = kind + " of " + of
	return nil
}

// declareService records every identifier generated for a service.
func (d *declarations) declareService(file *protogen.File, s *protogen.Service, names serviceNames) error {
	of := fmt.Sprintf("service %s (%s)", s.Desc.FullName(), file.Desc.Path())
	for _, n := range []struct{ name, what string }{
		{names.Client, "client interface"},
		{names.ClientConstructor, "client constructor"},
		{names.ClientImpl, "client type"},
		{names.Server, "server interface"},
		{names.Unimplemented, "unimplemented server"},
		{names.ServiceConstructor, "service constructor"},
		{names.Desc, "service descriptor"},
	} {
		if err := d.declare(n.name, n.what, of); err != nil {
			return errorf(file, s, nil, "%v", err)
		}
	}
	return nil
}

// declareMethod records the identifiers generated for a method.
func (d *declarations) declareMethod(file *protogen.File, s *protogen.Service, m *protogen.Method, constName string) error {
	of := fmt.Sprintf("method %s.%s (%s)", s.Desc.FullName(), m.Desc.Name(), file.Desc.Path())
	if err := d.declare(constName, "full-method constant", of); err != nil {
		return errorf(file, s, m, "%v", err)
	}
	return nil
}

// checkMethodName reports a method whose Go name go vet's stdmethods check
// would flag on the generated client and server: a method named like a
// well-known interface method (json.Marshaler's MarshalJSON, io.ByteReader's
// ReadByte, ...) must have that method's signature, and ours never does.
func checkMethodName(file *protogen.File, s *protogen.Service, m *protogen.Method) error {
	if sig, ok := vetCanonicalMethods[m.GoName]; ok && vetChecks(m.GoName) {
		return errorf(file, s, m, "its Go name %s is the name of the standard method %s, and go vet rejects a method of that name with another signature (the generated client and server methods take a context and a request); rename the method", m.GoName, sig.signature)
	}
	return nil
}

// vetCanonicalMethods is the table of go vet's stdmethods check
// (golang.org/x/tools/go/analysis/passes/stdmethods), copied with each
// method's signature. An argument marked "=" makes vet check the method only
// when its first argument has that type.
var vetCanonicalMethods = map[string]struct {
	firstArg  string
	signature string
}{
	"As":            {"any", "As(any) bool"},
	"Format":        {"=fmt.State", "Format(fmt.State, rune)"},
	"GobDecode":     {"[]byte", "GobDecode([]byte) error"},
	"GobEncode":     {"", "GobEncode() ([]byte, error)"},
	"Is":            {"error", "Is(error) bool"},
	"MarshalJSON":   {"", "MarshalJSON() ([]byte, error)"},
	"MarshalXML":    {"*xml.Encoder", "MarshalXML(*xml.Encoder, xml.StartElement) error"},
	"ReadByte":      {"", "ReadByte() (byte, error)"},
	"ReadFrom":      {"=io.Reader", "ReadFrom(io.Reader) (int64, error)"},
	"ReadRune":      {"", "ReadRune() (rune, int, error)"},
	"Scan":          {"=fmt.ScanState", "Scan(fmt.ScanState, rune) error"},
	"Seek":          {"=int64", "Seek(int64, int) (int64, error)"},
	"UnmarshalJSON": {"[]byte", "UnmarshalJSON([]byte) error"},
	"UnmarshalXML":  {"*xml.Decoder", "UnmarshalXML(*xml.Decoder, xml.StartElement) error"},
	"UnreadByte":    {"", "UnreadByte() error"},
	"UnreadRune":    {"", "UnreadRune() error"},
	"Unwrap":        {"", "Unwrap() error"},
	"WriteByte":     {"byte", "WriteByte(byte) error"},
	"WriteTo":       {"=io.Writer", "WriteTo(io.Writer) (int64, error)"},
}

// vetChecks reports whether vet's stdmethods check would flag a generated
// method of this name. It skips Is, As and Unwrap on types that do not
// implement error (no generated type does), and a method whose first
// argument is not the "=" type (ours is a context, a request or a stream).
func vetChecks(name string) bool {
	switch name {
	case "Is", "As", "Unwrap":
		return false
	}
	sig := vetCanonicalMethods[name]
	return len(sig.firstArg) == 0 || sig.firstArg[0] != '='
}

// Generated functions name their parameters c, ctx, in, opts, impl and req.
// Where a message type is printed inside such a function, a message package
// imported under one of these names would be shadowed by the parameter, and
// the code would not compile. The message package's name is the last element
// of its import path (protogen's choice); the plugin reports the clash.
var (
	// Output types are printed in client methods (c, ctx, in, opts).
	outputShadows = map[string]bool{"c": true, "ctx": true, "in": true, "opts": true}
	// Input types are printed in client methods and in unary handlers
	// (impl, ctx, req).
	inputShadows = map[string]bool{"c": true, "ctx": true, "in": true, "opts": true, "impl": true, "req": true}
)

// checkMessagePackages reports a message type whose Go package the
// generated code cannot refer to: the package the code is generated into
// (its names would mix with protoc-gen-go's), a package whose name a
// parameter shadows, or one whose name is a generated identifier.
func checkMessagePackages(file *protogen.File, s *protogen.Service, m *protogen.Method, self protogen.GoImportPath, decls *declarations) error {
	for _, msg := range []struct {
		role    string
		ident   protogen.GoIdent
		shadows map[string]bool
	}{
		{"request", m.Input.GoIdent, inputShadows},
		{"response", m.Output.GoIdent, outputShadows},
	} {
		importPath := msg.ident.GoImportPath
		if importPath == self {
			return errorf(file, s, m, "its %s type %s is in Go package %s, the package svcclient generates this file's code into; give the messages another go_package or use package_suffix", msg.role, msg.ident.GoName, string(importPath))
		}
		name := goSanitized(path.Base(string(importPath)))
		if msg.shadows[name] {
			return errorf(file, s, m, "its %s type %s is in Go package %s, imported as %s, which the generated code also uses as a parameter name; give the messages another go_package", msg.role, msg.ident.GoName, string(importPath), name)
		}
		if other, ok := decls.owner[name]; ok {
			return errorf(file, s, m, "its %s type %s is in Go package %s, imported as %s, which is also the %s; rename one of them", msg.role, msg.ident.GoName, string(importPath), name, other)
		}
	}
	return nil
}

// goSanitized is the package name protogen gives an import path's last
// element (its internal strs.GoSanitized, which cannot be imported).
func goSanitized(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return '_'
	}, s)
	r, _ := utf8.DecodeRuneInString(s)
	if token.Lookup(s).IsKeyword() || !unicode.IsLetter(r) {
		return "_" + s
	}
	return s
}
