package amqptransport_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// TestConformance runs the suite every transport runs. AMQP carries unary
// calls; the suite checks that streams fail with Unimplemented.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Transport{
		Name: amqptransport.Name,
		Serve: func(t *testing.T, services ...*runtime.Service) grpc.ClientConnInterface {
			url := amqptest.URL(t)
			srv := amqptransport.NewServer()
			queues := map[string]string{} // service name → its queue for this test
			for _, s := range services {
				q := amqptest.Queue(t, url)
				queues[s.Name()] = q
				srv.Register(s, amqptransport.WithQueue(q))
			}
			if err := srv.Start(url); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			conn, err := amqptransport.Dial(url, amqptransport.WithRouting(func(fullMethod string) (string, string) {
				service := strings.Split(fullMethod, "/")[1]
				return "", queues[service]
			}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			return conn
		},
	})
}
