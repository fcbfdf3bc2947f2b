package amqptransport_test

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// The tests of this file pin the answers docs/amqp-protocol.md gives to the
// questions the first version of the contract left open (issue 10, point 9).

// TestServerReadsLenientForms: a type without its leading slash
// ("pkg.Service/Method"), a content_encoding of IDENTITY in capitals and a
// JSON request with a field the server's message does not have are all
// served, as connect-go's handler serves the same things over HTTP; a
// request without correlation_id is refused (see
// checkNoCorrelationID). The Go server and the Node.js one of
// interop/amqp-node answer alike.
func TestServerReadsLenientForms(t *testing.T) {
	url := amqptest.URL(t)
	t.Run("go", func(t *testing.T) {
		queue := amqptest.Queue(t, url)
		g := newGreeter("s1")
		serve(t, url, queue, g)
		checkLenientForms(t, url, queue)
		checkNoCorrelationID(t, url, queue)
		if n := g.calls.Load(); n != 3 {
			t.Errorf("the method ran %d times, want 3: not for the request without correlation_id", n)
		}
	})
	t.Run("node", func(t *testing.T) {
		queue := amqptest.Queue(t, url)
		startNode(t, url, queue)
		checkLenientForms(t, url, queue)
		checkNoCorrelationID(t, url, queue)
	})
}

func checkLenientForms(t *testing.T, url, queue string) {
	t.Helper()
	c := newRawClient(t, url)
	body, _ := proto.Marshal(&helloworld.HelloRequest{Name: "raw"})
	for _, tc := range []struct {
		name string
		pub  amqp.Publishing
	}{
		{"type without leading slash", amqp.Publishing{Type: "helloworld.Greeter/SayHello", Body: body}},
		{"content_encoding IDENTITY", amqp.Publishing{Type: "SayHello", ContentEncoding: "IDENTITY", Body: body}},
		{"unknown JSON field", amqp.Publishing{Type: "SayHello", ContentType: "application/json", Body: []byte(`{"name":"raw","addedLater":{"x":1}}`)}},
	} {
		d := c.call(queue, tc.pub)
		if code := replyCode(t, d); code != codes.OK {
			t.Errorf("%s: status %v: %v", tc.name, code, d.Headers["rpc-message"])
		}
	}
	d := c.call(queue, amqp.Publishing{Type: "other.Service/SayHello", Body: body})
	if code := replyCode(t, d); code != codes.Unimplemented {
		t.Errorf("type other.Service/SayHello: status %v, want Unimplemented", code)
	}
}

// checkNoCorrelationID: a request without correlation_id is answered
// INVALID_ARGUMENT (without a correlation_id) and acked; the method does
// not run, since its caller could never match the reply.
func checkNoCorrelationID(t *testing.T, url, queue string) {
	t.Helper()
	ch := rawChannel(t, url)
	replies, err := ch.Consume(amqptransport.DirectReplyTo, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := proto.Marshal(&helloworld.HelloRequest{Name: "raw"})
	if err := ch.Publish("", queue, false, false, amqp.Publishing{ReplyTo: amqptransport.DirectReplyTo, Type: "SayHello", Body: body}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-replies:
		if code := replyCode(t, d); code != codes.InvalidArgument || d.CorrelationId != "" {
			t.Errorf("no correlation_id: status %v (%v), correlation_id %q; want InvalidArgument, none", code, d.Headers["rpc-message"], d.CorrelationId)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no correlation_id: no reply within 10s")
	}
}

// TestClientIgnoresUnknownJSONReplyFields: a server that answers JSON with
// a field the client's message does not have (a newer server, or a
// Node.js service) does not break the client. Before, the default JSON
// codec refused unknown fields and the call failed with Internal.
func TestClientIgnoresUnknownJSONReplyFields(t *testing.T) {
	url, queue := broker(t)
	ch := rawChannel(t, url)
	declareDurable(t, ch, queue)
	deliveries, err := ch.Consume(queue, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for d := range deliveries {
			_ = ch.Publish("", d.ReplyTo, false, false, amqp.Publishing{
				CorrelationId: d.CorrelationId,
				ContentType:   "application/json",
				Body:          []byte(`{"message":"hi","addedLater":[1,2]}`),
			})
		}
	}()
	_, client := dial(t, url, queue)
	reply, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "x"})
	if err != nil || reply.GetMessage() != "hi" {
		t.Fatalf("SayHello = %v, %v; want hi", reply, err)
	}
}
