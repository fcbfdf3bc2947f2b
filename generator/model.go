package generator

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/svcclient/svcclient/internal/httprule"
	"github.com/svcclient/svcclient/templates"
)

// The view model is declared in package templates, which prints it; this
// package decides everything in it.
type (
	fileModel    = templates.File
	serviceModel = templates.Service
	methodModel  = templates.Method
)

// newFileModel builds the model of a file whose code goes into the Go
// package importPath, recording its identifiers in decls (shared by the
// files generated into that package) and reporting every clash.
func newFileModel(gen *protogen.Plugin, file *protogen.File, importPath protogen.GoImportPath, decls *declarations) (*fileModel, error) {
	m := &fileModel{
		Source:        file.Desc.Path(),
		PluginVersion: Version,
		ProtocVersion: protocVersion(gen),
	}
	for _, s := range file.Services {
		sm, err := newServiceModel(file, s, decls)
		if err != nil {
			return nil, err
		}
		m.Services = append(m.Services, sm)
	}
	// Message packages are checked once every name of the file is declared.
	for _, s := range file.Services {
		for _, method := range s.Methods {
			if err := checkMessagePackages(file, s, method, importPath, decls); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func newServiceModel(file *protogen.File, s *protogen.Service, decls *declarations) (*serviceModel, error) {
	sm := &serviceModel{
		FullName:        string(s.Desc.FullName()),
		Name:            string(s.Desc.Name()),
		FileDescriptor:  file.GoDescriptorIdent,
		GoName:          s.GoName,
		Source:          file.Desc.Path(),
		Names:           newServiceNames(s.GoName),
		LeadingComments: comments(s.Comments.Leading),
		Deprecated:      s.Desc.Options().(*descriptorpb.ServiceOptions).GetDeprecated(),
	}
	if err := decls.declareService(file, s, sm.Names); err != nil {
		return nil, err
	}
	seen := make(map[string]*protogen.Method, len(s.Methods))
	for _, method := range s.Methods {
		// Two proto names can map to one Go name (get_user and GetUser):
		// report it here rather than let the Go compiler report it later.
		if other := seen[method.GoName]; other != nil {
			return nil, errorf(file, s, method, "its Go name %s is also the Go name of method %s; rename one of them", method.GoName, other.Desc.Name())
		}
		seen[method.GoName] = method
		if err := checkMethodName(file, s, method); err != nil {
			return nil, err
		}
		mm, err := newMethodModel(file, s, method)
		if err != nil {
			return nil, err
		}
		if err := decls.declareMethod(file, s, method, mm.FullMethodVar); err != nil {
			return nil, err
		}
		sm.Methods = append(sm.Methods, mm)
	}
	return sm, nil
}

func newMethodModel(file *protogen.File, s *protogen.Service, method *protogen.Method) (*methodModel, error) {
	opts := method.Desc.Options().(*descriptorpb.MethodOptions)
	mm := &methodModel{
		Name:            string(method.Desc.Name()),
		GoName:          method.GoName,
		FullMethod:      fmt.Sprintf("/%s/%s", s.Desc.FullName(), method.Desc.Name()),
		FullMethodVar:   fullMethodVar(s, method),
		Kind:            streamKind(method),
		Input:           method.Input.GoIdent,
		Output:          method.Output.GoIdent,
		LeadingComments: comments(method.Comments.Leading),
		Deprecated:      opts.GetDeprecated(),
	}
	// The runtime reads the rules from the descriptor; parsing them here
	// with the same parser reports a bad one now rather than at run time.
	if _, err := httprule.ForMethod(method.Desc); err != nil {
		return nil, errorf(file, s, method, "%v", err)
	}
	return mm, nil
}

func streamKind(m *protogen.Method) string {
	switch {
	case m.Desc.IsStreamingClient() && m.Desc.IsStreamingServer():
		return "BidiStream"
	case m.Desc.IsStreamingClient():
		return "ClientStream"
	case m.Desc.IsStreamingServer():
		return "ServerStream"
	}
	return "Unary"
}

// comments renders proto comments as Go comment lines, verbatim, with no
// trailing newline; "" when there are none.
func comments(c protogen.Comments) string {
	return strings.TrimSpace(c.String())
}

// unexport lower-cases the first letter of an exported name. Every caller
// appends a suffix, so the result is never a Go keyword.
func unexport(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func protocVersion(gen *protogen.Plugin) string {
	v := gen.Request.GetCompilerVersion()
	if v == nil {
		return "(unknown)"
	}
	s := fmt.Sprintf("v%d.%d.%d", v.GetMajor(), v.GetMinor(), v.GetPatch())
	if suffix := v.GetSuffix(); suffix != "" {
		s += "-" + suffix
	}
	return s
}
