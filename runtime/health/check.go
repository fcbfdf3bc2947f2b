package health

import (
	"context"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Check asks the server at the other end of conn for the serving status of
// service ("" for the whole server). conn may be any connection: a
// transport's, in process or a fallback. An unknown service is a NotFound
// error, as grpc-go's health server answers.
func Check(ctx context.Context, conn grpc.ClientConnInterface, service string, opts ...grpc.CallOption) (healthpb.HealthCheckResponse_ServingStatus, error) {
	res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service}, opts...)
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN, err
	}
	return res.GetStatus(), nil
}
