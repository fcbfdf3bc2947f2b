// Package generator turns protogen files into svcclient Go code: a typed
// client, a server interface and a service description per service. The
// protoc plugin (cmd/protoc-gen-svcclient) is a thin shell around [Generate];
// tests call it in-process.
//
// Work happens in two steps, as in protoc-gen-go: a view model is built for
// each file with every decision made (identifiers, descriptors, parsed and
// checked HTTP rules), then the templates in package templates print it.
//
// The plugin never writes code that does not compile or that go vet
// rejects. Every generated identifier is derived in names.go and checked
// against the others generated into the same Go package; a clash (services
// Greeter and greeter, NewGreeter beside Greeter, Greeter_Say.Hello beside
// Greeter.Say_Hello), a method named like a standard method vet checks
// (MarshalJSON, ReadByte, ...), a message package that a parameter of the
// generated code would shadow, or a path template the client would send
// otherwise than written fails generation with the file, service and method
// and what collides with what. The plugin reports rather than renames: a
// deterministic rename would still change a public API the day an unrelated
// service is added, and renaming the service or method in the .proto is
// always possible.
package generator

import (
	"fmt"
	"path"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/svcclient/svcclient/templates"
)

// Version is the generator's version, printed by --version and in the header
// of every generated file. It moves with the runtime it generates code for
// (runtime.Version; a test keeps the two equal). It is written out rather
// than imported so that the plugin links nothing of the runtime.
const Version = "0.2.0"

// SupportedFeatures, SupportedEditionsMinimum and SupportedEditionsMaximum
// are what the plugin declares to protoc, as protoc-gen-go declares them.
const (
	SupportedFeatures        = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL | pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
	SupportedEditionsMinimum = descriptorpb.Edition_EDITION_PROTO2
	SupportedEditionsMaximum = descriptorpb.Edition_EDITION_2024
)

// Options are the plugin's own parameters, given as --svcclient_opt=name=value.
type Options struct {
	// PackageSuffix is appended to a file's Go package name to name the
	// package svcclient code is generated into, beside the protoc-gen-go
	// package: "svc" puts helloworld's code in helloworld/helloworldsvc. A
	// package of its own keeps every generated name clear of protoc-gen-go's
	// and protoc-gen-go-grpc's.
	PackageSuffix string
}

// DefaultOptions returns the options a plugin run starts from.
func DefaultOptions() Options { return Options{PackageSuffix: "svc"} }

// Set parses one plugin parameter. It has the signature protogen's ParamFunc
// wants, and its errors name the parameter.
func (o *Options) Set(name, value string) error {
	switch name {
	case "package_suffix":
		if !isLowerIdent(value) {
			return fmt.Errorf("option package_suffix=%q: want a lower-case Go identifier suffix such as \"svc\" (letters, digits, underscores; not empty)", value)
		}
		o.PackageSuffix = value
		return nil
	}
	return fmt.Errorf("unknown option %q (protoc-gen-svcclient knows package_suffix, and protogen's paths, module, annotate_code and M<file>)", name)
}

func isLowerIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Plugin returns the protogen options and run function of
// protoc-gen-svcclient: `opts, run := Plugin(); opts.Run(run)` is the whole
// plugin. A bad option is reported in the CodeGeneratorResponse, where
// protoc prints it beside --svcclient_out, rather than by exiting: the first
// error is kept and returned once protogen has read the request.
func Plugin() (protogen.Options, func(*protogen.Plugin) error) {
	opts := DefaultOptions()
	var optErr error
	setOption := func(name, value string) error {
		if err := opts.Set(name, value); err != nil && optErr == nil {
			optErr = err
		}
		return nil
	}
	run := func(gen *protogen.Plugin) error {
		if optErr != nil {
			return optErr
		}
		return Generate(gen, opts)
	}
	return protogen.Options{ParamFunc: setOption}, run
}

// Generate writes svcclient code for every file protoc asked for. It
// declares the plugin's features, so callers need not.
func Generate(gen *protogen.Plugin, opts Options) error {
	gen.SupportedFeatures = SupportedFeatures
	gen.SupportedEditionsMinimum = SupportedEditionsMinimum
	gen.SupportedEditionsMaximum = SupportedEditionsMaximum
	// Files with one go_package share a generated package, so their
	// identifiers are checked against each other's.
	decls := make(map[protogen.GoImportPath]*declarations)
	for _, f := range gen.Files {
		if !f.Generate {
			continue
		}
		if _, err := generateFile(gen, f, opts, decls); err != nil {
			return err
		}
	}
	return nil
}

// GenerateFile writes the svcclient code for one file and returns it, or
// returns nil when the file declares no services. Errors name the file,
// service and method at fault.
//
// The plugin never writes code that does not compile or that go vet
// rejects: identifiers that two services or methods would both declare
// (Greeter and greeter, NewGreeter beside Greeter), a method named like a
// standard method vet checks (MarshalJSON, ReadByte, ...), and a message
// package the generated code would shadow are reported as errors that say
// what collides with what. The plugin does not rename: a rename would
// change a public API when an unrelated service is added.
func GenerateFile(gen *protogen.Plugin, file *protogen.File, opts Options) (*protogen.GeneratedFile, error) {
	return generateFile(gen, file, opts, make(map[protogen.GoImportPath]*declarations))
}

func generateFile(gen *protogen.Plugin, file *protogen.File, opts Options, decls map[protogen.GoImportPath]*declarations) (*protogen.GeneratedFile, error) {
	if len(file.Services) == 0 {
		return nil, nil
	}
	if opts.PackageSuffix == "" {
		opts = DefaultOptions()
	}
	goPackage := string(file.GoPackageName) + opts.PackageSuffix
	importPath := protogen.GoImportPath(path.Join(string(file.GoImportPath), goPackage))
	if decls[importPath] == nil {
		decls[importPath] = newDeclarations()
	}
	model, err := newFileModel(gen, file, importPath, decls[importPath])
	if err != nil {
		return nil, err
	}
	dir, base := path.Split(file.GeneratedFilenamePrefix)
	g := gen.NewGeneratedFile(path.Join(dir, goPackage, base+"_svcclient.pb.go"), importPath)
	model.GoPackageName = goPackage

	templates.PrintFile(g, model)
	return g, nil
}

// errorf reports a problem in a .proto file, naming where it is.
func errorf(file *protogen.File, service *protogen.Service, method *protogen.Method, format string, args ...any) error {
	var where strings.Builder
	where.WriteString(file.Desc.Path())
	if service != nil {
		fmt.Fprintf(&where, ": service %s", service.Desc.FullName())
	}
	if method != nil {
		fmt.Fprintf(&where, ", method %s", method.Desc.Name())
	}
	return fmt.Errorf("%s: %s", where.String(), fmt.Sprintf(format, args...))
}
