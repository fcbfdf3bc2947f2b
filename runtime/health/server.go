package health

import (
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/svcclient/svcclient/runtime"
)

// Server is grpc-go's health server, ready to be served on every
// transport: SetServingStatus, Shutdown and Resume are grpc-go's. Serve
// [Server.Service] next to the services it reports on, with the same
// transports, so that a client asks the health of a service over the
// connection it calls the service on.
type Server struct {
	*grpchealth.Server
	service *runtime.Service
}

// NewServer returns a health server that reports the whole server ("")
// SERVING and knows no other service until SetServingStatus names it.
// opts apply to the health service as to any other (interceptors, logger).
func NewServer(opts ...runtime.ServiceOption) *Server {
	impl := grpchealth.NewServer()
	svc, err := runtime.NewGRPCService(&healthpb.Health_ServiceDesc, impl, opts...)
	if err != nil {
		// grpc_health_v1 registers its .proto file at init and grpc-go's
		// server implements its interface: this cannot fail.
		panic("svcclient: health: " + err.Error())
	}
	return &Server{Server: impl, service: svc}
}

// Service returns the grpc.health.v1.Health service, for
// grpctransport.Register, httptransport.NewHandler, an amqptransport
// Server's Register or runtime.NewInProcessConn.
func (s *Server) Service() *runtime.Service { return s.service }

// SetServing marks each service SERVING under its full name, as grpc-go
// users do with SetServingStatus(name, SERVING) for each service they
// register.
func (s *Server) SetServing(services ...*runtime.Service) {
	for _, svc := range services {
		s.SetServingStatus(svc.Name(), healthpb.HealthCheckResponse_SERVING)
	}
}
