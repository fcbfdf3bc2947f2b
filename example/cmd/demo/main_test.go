package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the demo and checks that every transport it ran answered
// every call the same way.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	sections := strings.Split(out.String(), "\n== ")[1:]
	if len(sections) != len(transports()) {
		t.Fatalf("%d sections for %d transports:\n%s", len(sections), len(transports()), out.String())
	}
	for i, section := range sections {
		name := transports()[i].name
		if !strings.HasPrefix(section, name) {
			t.Errorf("section %d is not %s:\n%s", i, name, section)
			continue
		}
		if strings.Contains(section, "skipped") {
			if name == "amqp" && os.Getenv("SVCCLIENT_REQUIRE_AMQP") == "1" {
				t.Errorf("amqp was skipped with SVCCLIENT_REQUIRE_AMQP=1: %s", strings.SplitN(section, "\n", 2)[0])
			}
			t.Logf("%s was skipped: %s", name, strings.SplitN(section, "\n", 2)[0])
			continue
		}
		answeredBy := name
		if name == "fallback" {
			answeredBy = "http" // its gRPC connection leads nowhere
		}
		if name == "http" {
			// protojson varies its spacing on purpose: look for the fields.
			for _, want := range []string{"/v1/users/u-1 = 200 OK {", `"userId":"u-1"`, `"displayName":"Ada Lovelace"`} {
				if !strings.Contains(section, want) {
					t.Errorf("http: the REST GET did not return the user (no %s):\n%s", want, section)
				}
			}
		}
		for _, want := range []string{
			`Greeter.SayHello(svcclient) = "Hello, svcclient" (answered by ` + answeredBy + `)`,
			"UserService.CreateUser(Ada Lovelace) = u-1",
			"UserService.GetUser(u-1) = Ada Lovelace <ada@example.com> [ROLE_ADMIN]",
			"UserService.UpdateUser(email) = ada@analytical.engine",
			"UserService.ListUsers(domain=analytical.engine) = 1 user(s)",
			"UserService.GetOrgUser(orgs/acme/users/u-1) = Ada Lovelace",
			`UserService.GetUser(nobody) = NotFound: user "nobody" not found (details: 1)`,
		} {
			if !strings.Contains(section, want) {
				t.Errorf("%s: missing %q in\n%s", name, want, section)
			}
		}
	}
}
