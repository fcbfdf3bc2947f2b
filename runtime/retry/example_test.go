package retry_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/retry"
)

// busyUsers answers GetUser with Unavailable twice, then with the user.
type busyUsers struct {
	usersv1svc.UnimplementedUserServiceServer
	attempts int
}

func (b *busyUsers) GetUser(_ context.Context, in *usersv1.GetUserRequest) (*usersv1.User, error) {
	b.attempts++
	if b.attempts <= 2 {
		return nil, status.Error(codes.Unavailable, "busy, try again")
	}
	return &usersv1.User{UserId: in.GetUserId()}, nil
}

// The policy comes from the service config a grpc-go client already uses.
// GetUser is NO_SIDE_EFFECTS, so it may be retried after being sent.
func ExampleNewConn() {
	sc, err := retry.ParseServiceConfig(`{
	  "methodConfig": [{
	    "name": [{"service": "example.users.v1.UserService"}],
	    "timeout": "5s",
	    "retryPolicy": {
	      "maxAttempts": 4, "initialBackoff": "0.01s", "maxBackoff": "0.1s",
	      "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]
	    }
	  }],
	  "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
	}`)
	if err != nil {
		log.Fatal(err)
	}
	svc := &busyUsers{}
	// Any connection works here: gRPC, HTTP, AMQP, in-process, fallback.
	conn, err := retry.NewConn(runtime.NewInProcessConn(usersv1svc.NewUserServiceService(svc)), retry.WithServiceConfig(sc))
	if err != nil {
		log.Fatal(err)
	}
	client := usersv1svc.NewUserServiceClient(conn)
	user, err := client.GetUser(context.Background(), &usersv1.GetUserRequest{UserId: "ada"})
	fmt.Println(user.GetUserId(), err, "after", svc.attempts, "attempts")
	// Output: ada <nil> after 3 attempts
}

// A policy given in code, applied as an interceptor of a generated client.
func ExampleRetrier_UnaryClientInterceptor() {
	r, err := retry.New(retry.WithPolicy("/example.users.v1.UserService/GetUser", retry.Policy{
		MaxAttempts:       3,
		InitialBackoff:    10 * time.Millisecond,
		MaxBackoff:        50 * time.Millisecond,
		BackoffMultiplier: 2,
		RetryableCodes:    []codes.Code{codes.Unavailable},
	}))
	if err != nil {
		log.Fatal(err)
	}
	svc := &busyUsers{}
	client := usersv1svc.NewUserServiceClient(runtime.NewInProcessConn(usersv1svc.NewUserServiceService(svc)),
		runtime.WithUnaryInterceptors(r.UnaryClientInterceptor()))
	user, err := client.GetUser(context.Background(), &usersv1.GetUserRequest{UserId: "ada"})
	fmt.Println(user.GetUserId(), err, "after", svc.attempts, "attempts")
	// Output: ada <nil> after 3 attempts
}
