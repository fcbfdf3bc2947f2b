// Package templates prints svcclient's generated code. It receives a view
// model ([File]) in which package generator has made every decision (names,
// kinds, comments) and only loops and prints, into a
// protogen.GeneratedFile, so that protogen owns imports and formatting:
// every identifier of another package is printed through
// GeneratedFile.QualifiedGoIdent, never as text.
//
// The printers are plain Go rather than text/template: text/template finds
// methods by reflection, which keeps every method of every linked type in
// the binary and made the plugin half again as large as
// protoc-gen-go-grpc.
package templates

import "google.golang.org/protobuf/compiler/protogen"

// File is everything printed for one .proto file.
type File struct {
	Source        string // the .proto path
	PluginVersion string
	ProtocVersion string
	GoPackageName string
	Services      []*Service
}

// Service is one service with every generated name decided.
type Service struct {
	FullName string // helloworld.Greeter
	Name     string // Greeter, as declared
	// FileDescriptor is protoc-gen-go's descriptor of the file
	// (helloworld.File_helloworld_proto): the one source of the service's
	// facts.
	FileDescriptor protogen.GoIdent
	GoName         string // Greeter
	Source         string // the .proto path that declares it

	// The generated identifiers.
	Names

	LeadingComments string // the proto comments, as // lines, or ""
	Deprecated      bool
	Methods         []*Method
}

// Names are the Go identifiers generated for one service.
type Names struct {
	Client             string // GreeterClient: the client interface
	ClientConstructor  string // NewGreeterClient
	ClientImpl         string // greeterClient: the unexported client type
	Server             string // GreeterServer: what users implement
	Unimplemented      string // UnimplementedGreeterServer
	ServiceConstructor string // NewGreeterService
	Desc               string // Greeter_ServiceDesc
}

// Method is one method.
type Method struct {
	Name          string // SayHello, as declared
	GoName        string
	FullMethod    string // /helloworld.Greeter/SayHello
	FullMethodVar string // Greeter_SayHello_FullMethodName
	Kind          string // Unary, ServerStream, ClientStream or BidiStream: runtime.<Kind>Method serves it
	Input         protogen.GoIdent
	Output        protogen.GoIdent

	LeadingComments string
	Deprecated      bool
}

// The packages generated code refers to.
var (
	contextPackage = protogen.GoImportPath("context")
	grpcPackage    = protogen.GoImportPath("google.golang.org/grpc")
	codesPackage   = protogen.GoImportPath("google.golang.org/grpc/codes")
	statusPackage  = protogen.GoImportPath("google.golang.org/grpc/status")
	runtimePackage = protogen.GoImportPath("github.com/svcclient/svcclient/runtime")
)
