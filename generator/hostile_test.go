package generator_test

import (
	"strings"
	"testing"

	"github.com/svcclient/svcclient/internal/plugintest"
)

// hostileProto is a file with the given go_package and body, over messages
// Req and Resp of its own.
func hostileProto(goPackage, body string) string {
	return `syntax = "proto3";
package test.v1;
option go_package = "` + goPackage + `";
` + body + `
message Req {}
message Resp {}
`
}

// TestHostileProtos checks that a proto whose generated code would not
// compile, or would fail go vet, fails generation instead, with an error
// that names the file, the service, the method where there is one, and what
// collides with what. Before the clash checks, the plugin wrote code for
// every one of these; all but the last failed go build or go vet (the last
// compiles as long as no message name meets a generated one, which the
// plugin cannot see, so it is refused as a whole).
func TestHostileProtos(t *testing.T) {
	const pkg = "example.com/test/v1;testv1"
	rpc := func(name string) string { return "rpc " + name + "(Req) returns (Resp);" }
	cases := []struct {
		name  string
		files map[string]string // extra files beside test/v1/hostile.proto
		proto string
		want  []string // besides the file name
	}{
		{
			name:  "two services with one Go name",
			proto: hostileProto(pkg, `service Greeter { `+rpc("Say")+` } service greeter { `+rpc("Say")+` }`),
			want:  []string{"service test.v1.greeter", "client interface GreeterClient is also the client interface of service test.v1.Greeter"},
		},
		{
			name:  "snake case and camel case services",
			proto: hostileProto(pkg, `service GreeterApi { `+rpc("Say")+` } service greeter_api { `+rpc("Say")+` }`),
			want:  []string{"service test.v1.greeter_api", "GreeterApiClient is also the client interface of service test.v1.GreeterApi"},
		},
		{
			name:  "Greeter_Say.Hello beside Greeter.Say_Hello",
			proto: hostileProto(pkg, `service Greeter_Say { `+rpc("Hello")+` } service Greeter { `+rpc("Say_Hello")+` }`),
			want:  []string{"service test.v1.Greeter, method Say_Hello", "full-method constant Greeter_Say_Hello_FullMethodName is also the full-method constant of method test.v1.Greeter_Say.Hello"},
		},
		{
			name:  "NewGreeter after Greeter",
			proto: hostileProto(pkg, `service Greeter { `+rpc("Say")+` } service NewGreeter { `+rpc("Say")+` }`),
			want:  []string{"service test.v1.NewGreeter", "client interface NewGreeterClient is also the client constructor of service test.v1.Greeter"},
		},
		{
			name:  "NewGreeter before Greeter",
			proto: hostileProto(pkg, `service NewGreeter { `+rpc("Say")+` } service Greeter { `+rpc("Say")+` }`),
			want:  []string{"service test.v1.Greeter", "client constructor NewGreeterClient is also the client interface of service test.v1.NewGreeter"},
		},
		{
			name:  "UnimplementedGreeter beside Greeter",
			proto: hostileProto(pkg, `service Greeter { `+rpc("Say")+` } service UnimplementedGreeter { `+rpc("Say")+` }`),
			want:  []string{"service test.v1.UnimplementedGreeter", "server interface UnimplementedGreeterServer is also the unimplemented server of service test.v1.Greeter"},
		},
		{
			name: "two files of one Go package, one service name",
			files: map[string]string{"test/v2/other.proto": `syntax = "proto3";
package test.v2;
option go_package = "example.com/test/v1;testv1";
service Greeter { rpc Say(OtherReq) returns (OtherResp); }
message OtherReq {}
message OtherResp {}
`},
			proto: hostileProto(pkg, `service Greeter { `+rpc("Say")+` }`),
			want:  []string{"service test.v1.Greeter", "is also the client interface of service test.v2.Greeter (test/v2/other.proto)"},
		},
		{
			name:  "MarshalJSON",
			proto: hostileProto(pkg, `service Greeter { `+rpc("MarshalJSON")+` }`),
			want:  []string{"service test.v1.Greeter, method MarshalJSON", "standard method MarshalJSON() ([]byte, error)", "go vet"},
		},
		{
			name:  "UnmarshalJSON",
			proto: hostileProto(pkg, `service Greeter { `+rpc("UnmarshalJSON")+` }`),
			want:  []string{"method UnmarshalJSON", "UnmarshalJSON([]byte) error"},
		},
		{
			name:  "read_byte, ReadByte in Go",
			proto: hostileProto(pkg, `service Greeter { `+rpc("read_byte")+` }`),
			want:  []string{"method read_byte", "its Go name ReadByte", "ReadByte() (byte, error)"},
		},
		{
			name:  "ReadRune, server streaming",
			proto: hostileProto(pkg, `service Greeter { rpc ReadRune(Req) returns (stream Resp); }`),
			want:  []string{"method ReadRune", "ReadRune() (rune, int, error)"},
		},
		{
			name:  "UnreadByte",
			proto: hostileProto(pkg, `service Greeter { `+rpc("UnreadByte")+` }`),
			want:  []string{"method UnreadByte", "UnreadByte() error"},
		},
		{
			name:  "UnreadRune, bidi streaming",
			proto: hostileProto(pkg, `service Greeter { rpc UnreadRune(stream Req) returns (stream Resp); }`),
			want:  []string{"method UnreadRune", "UnreadRune() error"},
		},
		{
			name:  "WriteByte",
			proto: hostileProto(pkg, `service Greeter { `+rpc("WriteByte")+` }`),
			want:  []string{"method WriteByte", "WriteByte(byte) error"},
		},
		{
			name:  "GobEncode, client streaming",
			proto: hostileProto(pkg, `service Greeter { rpc GobEncode(stream Req) returns (Resp); }`),
			want:  []string{"method GobEncode", "GobEncode() ([]byte, error)"},
		},
		{
			name:  "GobDecode",
			proto: hostileProto(pkg, `service Greeter { `+rpc("GobDecode")+` }`),
			want:  []string{"method GobDecode", "GobDecode([]byte) error"},
		},
		{
			name:  "MarshalXML",
			proto: hostileProto(pkg, `service Greeter { `+rpc("MarshalXML")+` }`),
			want:  []string{"method MarshalXML", "MarshalXML(*xml.Encoder, xml.StartElement) error"},
		},
		{
			name:  "UnmarshalXML",
			proto: hostileProto(pkg, `service Greeter { `+rpc("UnmarshalXML")+` }`),
			want:  []string{"method UnmarshalXML", "UnmarshalXML(*xml.Decoder, xml.StartElement) error"},
		},
		{
			name:  "messages imported as ctx",
			proto: hostileProto("example.com/ctx;testv1", `service Greeter { `+rpc("Say")+` }`),
			want:  []string{"service test.v1.Greeter, method Say", "request type Req is in Go package example.com/ctx, imported as ctx, which the generated code also uses as a parameter name"},
		},
		{
			name:  "messages imported as in",
			proto: hostileProto("example.com/in;testv1", `service Greeter { `+rpc("Say")+` }`),
			want:  []string{"method Say", "imported as in, which the generated code also uses as a parameter name"},
		},
		{
			name:  "messages imported as opts",
			proto: hostileProto("example.com/opts;testv1", `service Greeter { `+rpc("Say")+` }`),
			want:  []string{"method Say", "imported as opts"},
		},
		{
			name:  "messages imported as c",
			proto: hostileProto("example.com/c;testv1", `service Greeter { `+rpc("Say")+` }`),
			want:  []string{"method Say", "imported as c,"},
		},
		{
			name:  "messages imported as req",
			proto: hostileProto("example.com/req;testv1", `service Greeter { `+rpc("Say")+` }`),
			want:  []string{"method Say", "request type Req is in Go package example.com/req, imported as req"},
		},
		{
			name:  "messages imported as impl",
			proto: hostileProto("example.com/impl;testv1", `service Greeter { `+rpc("Say")+` }`),
			want:  []string{"method Say", "imported as impl"},
		},
		{
			name:  "messages imported under the client type's name",
			proto: hostileProto("example.com/greeterClient;testv1", `service Greeter { `+rpc("Say")+` }`),
			want:  []string{"method Say", "imported as greeterClient, which is also the client type of service test.v1.Greeter"},
		},
		{
			name: "messages in the package svcclient generates into",
			files: map[string]string{"test/v1/messages.proto": `syntax = "proto3";
package test.v1;
option go_package = "example.com/test/v1/testv1svc";
message Req {}
message Resp {}
`},
			proto: `syntax = "proto3";
package test.v1;
import "test/v1/messages.proto";
option go_package = "example.com/test/v1;testv1";
service Greeter { rpc Say(Req) returns (Resp); }
`,
			want: []string{"service test.v1.Greeter, method Say", "request type Req is in Go package example.com/test/v1/testv1svc, the package svcclient generates this file's code into"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := plugintest.Sources{Files: map[string]string{"test/v1/hostile.proto": tc.proto}}
			names := []string{"test/v1/hostile.proto"}
			for name, content := range tc.files {
				src.Files[name] = content
				if !strings.HasSuffix(name, "messages.proto") {
					names = append([]string{name}, names...)
				}
			}
			_, err := plugintest.Generate(src, "", names...)
			if err == nil {
				t.Fatal("generation succeeded; want an error")
			}
			for _, want := range append([]string{"test/v1/hostile.proto"}, tc.want...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}
