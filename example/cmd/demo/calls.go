package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/runtime"
)

// calls makes the same calls over whatever conn is: this is the code a user
// writes once.
func calls(ctx context.Context, w io.Writer, conn grpc.ClientConnInterface) error {
	var answeredBy string
	greeter := helloworldsvc.NewGreeterClient(conn)
	users := usersv1svc.NewUserServiceClient(conn)
	counter := streamingv1svc.NewCounterServiceClient(conn)

	hello, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "svcclient"}, runtime.AnsweredBy(&answeredBy))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Greeter.SayHello(svcclient) = %q (answered by %s)\n", hello.GetMessage(), answeredBy)

	ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", "demo-1")
	ada, err := users.CreateUser(ctx, &usersv1.CreateUserRequest{User: &usersv1.User{
		DisplayName: "Ada Lovelace", Email: "ada@example.com", Roles: []usersv1.Role{usersv1.Role_ROLE_ADMIN},
	}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "UserService.CreateUser(Ada Lovelace) = %s\n", ada.GetUserId())

	got, err := users.GetUser(ctx, &usersv1.GetUserRequest{UserId: ada.GetUserId()})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "UserService.GetUser(%s) = %s <%s> %v\n", ada.GetUserId(), got.GetDisplayName(), got.GetEmail(), got.GetRoles())

	updated, err := users.UpdateUser(ctx, &usersv1.UpdateUserRequest{
		User:       &usersv1.User{UserId: ada.GetUserId(), Email: "ada@analytical.engine"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "UserService.UpdateUser(email) = %s\n", updated.GetEmail())

	list, err := users.ListUsers(ctx, &usersv1.ListUsersRequest{PageSize: 10, Filter: &usersv1.Filter{EmailDomain: "analytical.engine"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "UserService.ListUsers(domain=analytical.engine) = %d user(s)\n", len(list.GetUsers()))

	org, err := users.GetOrgUser(ctx, &usersv1.GetOrgUserRequest{Name: "orgs/acme/users/" + ada.GetUserId()})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "UserService.GetOrgUser(orgs/acme/users/%s) = %s\n", ada.GetUserId(), org.GetDisplayName())

	_, err = users.GetUser(ctx, &usersv1.GetUserRequest{UserId: "nobody"})
	st := status.Convert(err)
	fmt.Fprintf(w, "UserService.GetUser(nobody) = %s: %s (details: %d)\n", st.Code(), st.Message(), len(st.Details()))

	stream, err := counter.Count(ctx, &streamingv1.CountRequest{To: 3})
	if err == nil {
		var numbers []string
		for {
			msg, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			numbers = append(numbers, fmt.Sprint(msg.GetNumber()))
		}
		fmt.Fprintf(w, "CounterService.Count(3) = %s\n", strings.Join(numbers, " "))
	} else {
		fmt.Fprintf(w, "CounterService.Count(3) = %s\n", status.Code(err))
	}

	sum, err := counter.Sum(ctx)
	if err == nil {
		err = sendAll(sum, 1, 2, 3, 4)
	}
	var total *streamingv1.SumResponse
	if err == nil {
		total, err = sum.CloseAndRecv()
	}
	if err == nil {
		fmt.Fprintf(w, "CounterService.Sum(1 2 3 4) = %d\n", total.GetTotal())
	} else {
		fmt.Fprintf(w, "CounterService.Sum(1 2 3 4) = %s: %s\n", status.Code(err), status.Convert(err).Message())
	}
	return nil
}

func sendAll(s grpc.ClientStreamingClient[streamingv1.SumRequest, streamingv1.SumResponse], numbers ...int64) error {
	for _, n := range numbers {
		if err := s.Send(&streamingv1.SumRequest{Number: n}); err != nil {
			return err
		}
	}
	return nil
}
