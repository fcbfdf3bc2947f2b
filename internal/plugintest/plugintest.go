// Package plugintest runs protoc-gen-svcclient in-process on real .proto
// sources: it compiles them with protocompile (a pure-Go protobuf compiler,
// so tests need no protoc), builds the CodeGeneratorRequest protoc would
// send, and runs the generator on it.
package plugintest

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/svcclient/svcclient/generator"
)

// Sources are .proto files to compile: from import paths on disk, from
// in-memory contents keyed by file name, or both (in-memory wins).
type Sources struct {
	ImportPaths []string
	Files       map[string]string
}

// Request compiles files (names relative to the import paths) with full
// source info and returns the request protoc would send for them with the
// given plugin parameter.
func Request(src Sources, parameter string, files ...string) (*pluginpb.CodeGeneratorRequest, error) {
	resolver := &protocompile.SourceResolver{ImportPaths: src.ImportPaths}
	if len(src.Files) > 0 {
		resolver.Accessor = func(name string) (io.ReadCloser, error) {
			if s, ok := src.Files[name]; ok {
				return nopCloser(s), nil
			}
			for _, dir := range src.ImportPaths {
				if f, err := os.Open(dir + "/" + name); err == nil {
					return f, nil
				}
			}
			return nil, fmt.Errorf("file not found: %s", name)
		}
		resolver.ImportPaths = nil
	}
	compiler := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(resolver),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := compiler.Compile(context.Background(), files...)
	if err != nil {
		return nil, err
	}
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: files}
	if parameter != "" {
		req.Parameter = proto.String(parameter)
	}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range compiled {
		add(f)
	}
	// Round-trip through the wire format, as protoc's request arrives, so
	// that options such as google.api.http are read as the plugin reads them.
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	req = new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, err
	}
	return req, nil
}

// Run runs the generator on req as the plugin binary would and returns its
// response. A generation error is in the response's Error field.
func Run(req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	opts, run := generator.Plugin()
	gen, err := opts.New(req)
	if err != nil {
		return &pluginpb.CodeGeneratorResponse{Error: proto.String(err.Error())}, nil
	}
	if err := run(gen); err != nil {
		gen.Error(err)
	}
	return gen.Response(), nil
}

// Generate compiles and generates in one step: it returns the generated
// files by name, or the plugin's error.
func Generate(src Sources, parameter string, files ...string) (map[string]string, error) {
	req, err := Request(src, parameter, files...)
	if err != nil {
		return nil, fmt.Errorf("compiling: %w", err)
	}
	resp, err := Run(req)
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("%s", resp.GetError())
	}
	out := make(map[string]string, len(resp.File))
	for _, f := range resp.File {
		out[f.GetName()] = f.GetContent()
	}
	return out, nil
}

func nopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
