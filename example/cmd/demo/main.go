// Command demo serves the example services and calls them through the
// generated clients over every transport, printing each call and its
// result. The calling code (calls.go) is the same for every transport: only
// the grpc.ClientConnInterface handed to the generated constructors changes.
//
//	go run ./example/cmd/demo
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/example/service"
	"github.com/svcclient/svcclient/runtime"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// A transport serves the services and returns a connection to them, and a
// function that stops both.
type transport struct {
	name  string
	serve func(ctx context.Context, services []*runtime.Service) (conn grpc.ClientConnInterface, where string, stop func(), err error)
}

func run(ctx context.Context, w io.Writer) error {
	fmt.Fprintln(w, "svcclient demo: one implementation, one generated client, every transport")
	for _, t := range transports() {
		// Each transport serves its own instance, so the calls print the
		// same results whichever transport runs first.
		services := []*runtime.Service{
			helloworldsvc.NewGreeterService(service.Greeter{}),
			usersv1svc.NewUserServiceService(service.NewUsers()),
			streamingv1svc.NewCounterServiceService(service.Counter{}),
		}
		conn, where, stop, err := t.serve(ctx, services)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if conn == nil {
			fmt.Fprintf(w, "\n== %s: skipped: %s\n", t.name, where)
			continue
		}
		fmt.Fprintf(w, "\n== %s (%s)\n", t.name, where)
		err = calls(ctx, w, conn)
		if err == nil && t.name == "http" {
			// The same user over a REST route, as curl or a browser sees it.
			base := where[strings.LastIndex(where, " ")+1:]
			var got string
			got, err = restGet(ctx, base+"/v1/users/u-1")
			fmt.Fprintf(w, "GET %s/v1/users/u-1 = %s\n", base, got)
		}
		stop()
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}
