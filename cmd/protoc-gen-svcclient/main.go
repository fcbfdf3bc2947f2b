// Command protoc-gen-svcclient is a protoc plugin that generates, for every
// service in a .proto file, one typed Go client that calls the service over
// gRPC, HTTP/JSON or AMQP (the transport is chosen when the client is
// built), the server interface, and a service description that serves one
// implementation over all three.
//
// Install it and run it through protoc or buf:
//
//	go install github.com/svcclient/svcclient/cmd/protoc-gen-svcclient@latest
//	protoc --go_out=. --svcclient_out=. greeter.proto
//
// Options (--svcclient_opt): protogen's paths=import|source_relative,
// module=PREFIX and M<file>=<import path>, and package_suffix=NAME, the
// suffix of the Go package the code goes into ("svc" by default:
// helloworld's code goes into helloworld/helloworldsvc).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/svcclient/svcclient/generator"
)

const usage = `Usage: %s

protoc-gen-svcclient is a protoc plugin: protoc or buf runs it, passing a
CodeGeneratorRequest on standard input. It generates one typed Go client per
service that calls over gRPC, HTTP/JSON or AMQP, the server interface, and a
service description that serves one implementation over all three.

  protoc --go_out=. --svcclient_out=. [--svcclient_opt=OPTION,...] FILE.proto

Options:
  paths=import|source_relative  where output files go (as protoc-gen-go)
  module=PREFIX                 strip PREFIX from output paths
  M<file>=<import path>         the Go import path of a .proto file
  package_suffix=NAME           suffix of the generated Go package (default "svc")

Flags:
  --version  print the version and exit
  --help     print this help and exit
`

func main() {
	if len(os.Args) == 2 {
		switch os.Args[1] {
		case "--version", "-version":
			fmt.Printf("%s v%s\n", filepath.Base(os.Args[0]), generator.Version)
			return
		case "--help", "-help", "-h":
			fmt.Printf(usage, filepath.Base(os.Args[0]))
			return
		}
	}
	if len(os.Args) > 1 {
		fmt.Fprintf(os.Stderr, "%s: unknown argument %q; this is a protoc plugin (see --help)\n", filepath.Base(os.Args[0]), os.Args[1])
		os.Exit(1)
	}
	opts, run := generator.Plugin()
	opts.Run(run)
}
