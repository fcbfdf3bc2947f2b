// Command client is the client under test of the Connect conformance suite
// (connectrpc.com/conformance) for svcclient's HTTP transport: it reads
// ClientCompatRequests from stdin, performs each with httptransport's
// client through the generated ConformanceService client, and writes a
// ClientCompatResponse for each to stdout.
//
// The runner starts it: connectconformance --mode client --conf ... -- client
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/svcclient/svcclient/conformance/gen/conformancev1"
	"github.com/svcclient/svcclient/conformance/internal/compat"
)

// parallel bounds the calls in flight: enough to overlap the suite's
// delays, few enough for a two-core machine.
const parallel = 16

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var (
		wg    sync.WaitGroup
		outMu sync.Mutex
		werr  error
		slots = make(chan struct{}, parallel)
	)
	defer wg.Wait()
	for {
		req := new(conformancev1.ClientCompatRequest)
		if err := compat.ReadDelimited(os.Stdin, req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading a ClientCompatRequest: %w", err)
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-slots }()
			resp := &conformancev1.ClientCompatResponse{TestName: req.GetTestName()}
			if result, err := invoke(ctx, req); err != nil {
				// An error here is one of the client program, not of the
				// call: the call's own errors are in the result.
				resp.Result = &conformancev1.ClientCompatResponse_Error{Error: &conformancev1.ClientErrorResult{Message: err.Error()}}
			} else {
				resp.Result = &conformancev1.ClientCompatResponse_Response{Response: result}
			}
			outMu.Lock()
			defer outMu.Unlock()
			if werr == nil {
				werr = compat.WriteDelimited(os.Stdout, resp)
			}
		})
	}
}
