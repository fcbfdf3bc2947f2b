package svcotel_test

import (
	"context"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svcclient/svcclient/internal/amqptest"
	svcotel "github.com/svcclient/svcclient/otel"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/amqptransport"
	"github.com/svcclient/svcclient/runtime/grpctransport"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// telemetry is an SDK that keeps what it records in memory.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	opts   []svcotel.Option
}

func newTelemetry(t *testing.T) *telemetry {
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	tel.opts = []svcotel.Option{svcotel.WithTracerProvider(tel.tp), svcotel.WithMeterProvider(mp), svcotel.WithPropagator(propagation.TraceContext{})}
	return tel
}

// client and server return the options that instrument a client and a
// service.
func (tel *telemetry) client() []runtime.ClientOption {
	return []runtime.ClientOption{
		runtime.WithUnaryInterceptors(svcotel.UnaryClientInterceptor(tel.opts...)),
		runtime.WithStreamInterceptors(svcotel.StreamClientInterceptor(tel.opts...)),
	}
}

func (tel *telemetry) server() []runtime.ServiceOption {
	return []runtime.ServiceOption{
		runtime.WithServerUnaryInterceptors(svcotel.UnaryServerInterceptor(tel.opts...)),
		runtime.WithServerStreamInterceptors(svcotel.StreamServerInterceptor(tel.opts...)),
	}
}

// waitSpans waits until n spans have ended: a server's span ends as its
// reply leaves, a moment before the client's.
func (tel *telemetry) waitSpans(t *testing.T, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		spans := tel.spans.Ended()
		if len(spans) >= n || time.Now().After(deadline) {
			if len(spans) != n {
				for _, s := range spans {
					t.Logf("span %s (%v)", s.Name(), s.SpanKind())
				}
				t.Fatalf("%d spans ended, want %d", len(spans), n)
			}
			return spans
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metrics collects what the meter provider recorded.
func (tel *telemetry) metrics(t *testing.T) map[string]metricdata.Histogram[float64] {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	out := make(map[string]metricdata.Histogram[float64])
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
				out[m.Name] = h
			}
		}
	}
	return out
}

// serveGRPC serves svc on a gRPC server on loopback and returns a
// connection to it.
func serveGRPC(t *testing.T, svc *runtime.Service) grpc.ClientConnInterface {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	grpctransport.Register(s, svc)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return grpctransport.NewConn(cc)
}

// serveHTTP serves svc over HTTP on loopback and returns a connection to it.
func serveHTTP(t *testing.T, svc *runtime.Service, opts ...httptransport.ClientOption) grpc.ClientConnInterface {
	t.Helper()
	srv := httptest.NewServer(httptransport.NewServeMux(httptransport.NewHandler(svc)))
	t.Cleanup(srv.Close)
	conn, err := httptransport.NewConn(srv.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// serveAMQP serves svc from its default queue (the service's name) on the
// broker at AMQP_URL, and returns a connection that calls it there.
func serveAMQP(t *testing.T, svc *runtime.Service) grpc.ClientConnInterface {
	t.Helper()
	url := amqptest.URL(t)
	srv := amqptransport.NewServer()
	srv.Register(svc)
	if err := srv.Start(url); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	conn, err := amqptransport.Dial(url)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
