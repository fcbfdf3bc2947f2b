package httptransport_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/example/service"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// The same implementation, served over HTTP and called through the
// generated client: GetUser travels as GET /v1/users/{user_id}, as its
// google.api.http rule says.
func Example() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: httptransport.NewHandler(usersv1svc.NewUserServiceService(service.NewUsers()))}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Close()

	conn, err := httptransport.NewConn("http://" + lis.Addr().String())
	if err != nil {
		panic(err)
	}
	client := usersv1svc.NewUserServiceClient(conn)
	ctx := context.Background()
	if _, err := client.CreateUser(ctx, &usersv1.CreateUserRequest{User: &usersv1.User{UserId: "ada/lovelace", DisplayName: "Ada"}}); err != nil {
		panic(err)
	}
	user, err := client.GetUser(ctx, &usersv1.GetUserRequest{UserId: "ada/lovelace"})
	if err != nil {
		panic(err)
	}
	fmt.Println(user.GetUserId(), user.GetDisplayName())
	_, err = client.GetUser(context.Background(), &usersv1.GetUserRequest{UserId: "missing"})
	fmt.Println(status.Code(err))
	// Output:
	// ada/lovelace Ada
	// NotFound
}

// A handler answers requests shaped as grpc-gateway accepts them.
func ExampleNewHandler() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	users := service.NewUsers()
	if _, err := users.CreateUser(context.Background(), &usersv1.CreateUserRequest{User: &usersv1.User{UserId: "ada", DisplayName: "Ada"}}); err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: httptransport.NewHandler(usersv1svc.NewUserServiceService(users))}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Close()

	resp, err := http.Get("http://" + lis.Addr().String() + "/v1/orgs/acme/users/ada")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(err)
	}
	var user usersv1.User
	if err := protojson.Unmarshal(body, &user); err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), user.GetUserId(), user.GetDisplayName())
	// Output:
	// 200 application/json ada Ada
}
