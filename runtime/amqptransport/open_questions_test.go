package amqptransport_test

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// The tests of this file pin the answers docs/amqp-protocol.md gives to the
// questions the first version of the contract left open (issue 10, point 9).

// TestServerReadsLenientForms: a type without its leading slash
// ("pkg.Service/Method"), a content_encoding of IDENTITY in capitals and a
// JSON request with a field the server's message does not have are all
// served, as connect-go's handler serves the same things over HTTP.
func TestServerReadsLenientForms(t *testing.T) {
	url, queue := broker(t)
	serve(t, url, queue, newGreeter("s1"))
	c := newRawClient(t, url)
	body, _ := proto.Marshal(&helloworld.HelloRequest{Name: "raw"})
	for name, pub := range map[string]amqp.Publishing{
		"type without leading slash": {Type: "helloworld.Greeter/SayHello", Body: body},
		"content_encoding IDENTITY":  {Type: "SayHello", ContentEncoding: "IDENTITY", Body: body},
		"unknown JSON field":         {Type: "SayHello", ContentType: "application/json", Body: []byte(`{"name":"raw","addedLater":{"x":1}}`)},
	} {
		d := c.call(queue, pub)
		if code := replyCode(t, d); code != codes.OK {
			t.Errorf("%s: status %v: %v", name, code, d.Headers["rpc-message"])
		}
	}
	d := c.call(queue, amqp.Publishing{Type: "other.Service/SayHello", Body: body})
	if code := replyCode(t, d); code != codes.Unimplemented {
		t.Errorf("type other.Service/SayHello: status %v, want Unimplemented", code)
	}
}

// TestServerRefusesRequestWithoutCorrelationID: a request without
// correlation_id is answered INVALID_ARGUMENT (without a correlation_id)
// and acked; the method does not run, since its caller could never match
// the reply.
func TestServerRefusesRequestWithoutCorrelationID(t *testing.T) {
	url, queue := broker(t)
	g := newGreeter("s1")
	serve(t, url, queue, g)
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
			t.Errorf("reply: status %v (%v), correlation_id %q; want InvalidArgument, none", code, d.Headers["rpc-message"], d.CorrelationId)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reply within 10s")
	}
	if n := g.calls.Load(); n != 0 {
		t.Errorf("the method ran %d times, want 0", n)
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
