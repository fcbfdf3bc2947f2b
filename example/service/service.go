// Package service implements the example services once. The demo serves
// these implementations over every transport; the tests and benchmarks use
// them as the server the generated clients call.
package service

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
)

// Greeter implements helloworld.Greeter.
type Greeter struct {
	helloworldsvc.UnimplementedGreeterServer
}

// SayHello greets in.Name.
func (Greeter) SayHello(_ context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	name := in.GetName()
	if name == "" {
		name = "world"
	}
	return &helloworld.HelloReply{Message: "Hello, " + name}, nil
}

// Counter implements example.streaming.v1.CounterService.
type Counter struct {
	streamingv1svc.UnimplementedCounterServiceServer
}

// Count sends 1..in.To.
func (Counter) Count(in *streamingv1.CountRequest, stream grpc.ServerStreamingServer[streamingv1.CountResponse]) error {
	if in.GetTo() < 0 || in.GetTo() > 1_000_000 {
		return status.Errorf(codes.InvalidArgument, "to must be between 0 and 1000000, not %d", in.GetTo())
	}
	for i := int64(1); i <= in.GetTo(); i++ {
		if err := stream.Send(&streamingv1.CountResponse{Number: i}); err != nil {
			return err
		}
	}
	return nil
}

// Sum adds what the client sends.
func (Counter) Sum(stream grpc.ClientStreamingServer[streamingv1.SumRequest, streamingv1.SumResponse]) error {
	var total, count int64
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&streamingv1.SumResponse{Total: total, Count: count})
		}
		if err != nil {
			return err
		}
		total += in.GetNumber()
		count++
	}
}

// Echo answers each message as it comes.
func (Counter) Echo(stream grpc.BidiStreamingServer[streamingv1.EchoRequest, streamingv1.EchoResponse]) error {
	for seq := int64(1); ; seq++ {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&streamingv1.EchoResponse{Text: in.GetText(), Sequence: seq}); err != nil {
			return err
		}
	}
}

// Users implements example.users.v1.UserService over an in-memory store.
type Users struct {
	usersv1svc.UnimplementedUserServiceServer

	mu      sync.Mutex
	users   map[string]*usersv1.User
	deleted map[string]*usersv1.User
	nextID  int
}

// NewUsers returns an empty user directory.
func NewUsers() *Users {
	return &Users{users: map[string]*usersv1.User{}, deleted: map[string]*usersv1.User{}}
}

func notFound(id string) error {
	st, _ := status.New(codes.NotFound, fmt.Sprintf("user %q not found", id)).WithDetails(&errdetails.ResourceInfo{
		ResourceType: "example.users.v1.User",
		ResourceName: id,
		Description:  "no user has this id",
	})
	return st.Err()
}

func (u *Users) get(id string) (*usersv1.User, error) {
	user, ok := u.users[id]
	if !ok {
		return nil, notFound(id)
	}
	return proto.Clone(user).(*usersv1.User), nil
}

// GetUser returns a user by id.
func (u *Users) GetUser(_ context.Context, in *usersv1.GetUserRequest) (*usersv1.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.get(in.GetUserId())
}

// ListUsers lists users in id order, filtered.
func (u *Users) ListUsers(_ context.Context, in *usersv1.ListUsersRequest) (*usersv1.ListUsersResponse, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	ids := make([]string, 0, len(u.users))
	for id := range u.users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	resp := &usersv1.ListUsersResponse{}
	for _, id := range ids {
		user := u.users[id]
		if d := in.GetFilter().GetEmailDomain(); d != "" && !strings.HasSuffix(user.GetEmail(), "@"+d) {
			continue
		}
		if p := in.GetNamePrefix(); p != nil && !strings.HasPrefix(user.GetDisplayName(), p.GetValue()) {
			continue
		}
		if len(in.GetUserIds()) > 0 && !slices.Contains(in.GetUserIds(), id) {
			continue
		}
		resp.Users = append(resp.Users, proto.Clone(user).(*usersv1.User))
		if n := in.GetPageSize(); n > 0 && len(resp.Users) == int(n) {
			break
		}
	}
	return resp, nil
}

// CreateUser stores a new user, giving it an id when it has none.
func (u *Users) CreateUser(_ context.Context, in *usersv1.CreateUserRequest) (*usersv1.User, error) {
	if in.GetUser().GetDisplayName() == "" {
		st, _ := status.New(codes.InvalidArgument, "user.display_name is required").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "user.display_name", Description: "must not be empty"}},
		})
		return nil, st.Err()
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	user := proto.Clone(in.GetUser()).(*usersv1.User)
	if user.UserId == "" {
		u.nextID++
		user.UserId = fmt.Sprintf("u-%d", u.nextID)
	}
	if _, ok := u.users[user.UserId]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "user %q already exists", user.UserId)
	}
	if user.CreateTime == nil {
		user.CreateTime = timestamppb.Now()
	}
	u.users[user.UserId] = user
	return proto.Clone(user).(*usersv1.User), nil
}

// UpdateUser changes the fields named in update_mask (all when it is empty).
func (u *Users) UpdateUser(_ context.Context, in *usersv1.UpdateUserRequest) (*usersv1.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	user, ok := u.users[in.GetUser().GetUserId()]
	if !ok {
		return nil, notFound(in.GetUser().GetUserId())
	}
	paths := in.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = []string{"display_name", "email", "roles", "profile"}
	}
	for _, p := range paths {
		switch p {
		case "display_name":
			user.DisplayName = in.GetUser().GetDisplayName()
		case "email":
			user.Email = in.GetUser().GetEmail()
		case "roles":
			user.Roles = in.GetUser().GetRoles()
		case "profile":
			user.Profile = in.GetUser().GetProfile()
		default:
			return nil, status.Errorf(codes.InvalidArgument, "update_mask: unknown field %q", p)
		}
	}
	return proto.Clone(user).(*usersv1.User), nil
}

// DeleteUser removes a user; deleting a missing user succeeds.
func (u *Users) DeleteUser(_ context.Context, in *usersv1.DeleteUserRequest) (*emptypb.Empty, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if user, ok := u.users[in.GetUserId()]; ok {
		u.deleted[in.GetUserId()] = user
		delete(u.users, in.GetUserId())
	}
	return &emptypb.Empty{}, nil
}

// UndeleteUser restores a deleted user.
func (u *Users) UndeleteUser(_ context.Context, in *usersv1.UndeleteUserRequest) (*usersv1.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	user, ok := u.deleted[in.GetUserId()]
	if !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "user %q is not deleted", in.GetUserId())
	}
	delete(u.deleted, in.GetUserId())
	u.users[in.GetUserId()] = user
	return proto.Clone(user).(*usersv1.User), nil
}

// GetOrgUser finds a user by "orgs/{org}/users/{id}".
func (u *Users) GetOrgUser(_ context.Context, in *usersv1.GetOrgUserRequest) (*usersv1.User, error) {
	parts := strings.Split(in.GetName(), "/")
	if len(parts) != 4 || parts[0] != "orgs" || parts[2] != "users" {
		return nil, status.Errorf(codes.InvalidArgument, "name %q is not orgs/{org}/users/{user}", in.GetName())
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.get(parts[3])
}

// GetProfile returns a user's profile.
func (u *Users) GetProfile(_ context.Context, in *usersv1.GetProfileRequest) (*usersv1.GetProfileResponse, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	user, err := u.get(in.GetUserId())
	if err != nil {
		return nil, err
	}
	return &usersv1.GetProfileResponse{Profile: user.GetProfile(), Etag: "v1"}, nil
}

// GetFile returns a file whose content is its path.
func (u *Users) GetFile(_ context.Context, in *usersv1.GetFileRequest) (*usersv1.File, error) {
	return &usersv1.File{Path: in.GetPath(), Content: []byte("contents of " + in.GetPath())}, nil
}

// PurgeCache has nothing to purge.
func (u *Users) PurgeCache(_ context.Context, in *usersv1.PurgeCacheRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// WatchUsers sends a CREATED event per stored user (those in user_ids, if
// set), at most max_events of them.
func (u *Users) WatchUsers(in *usersv1.WatchUsersRequest, stream grpc.ServerStreamingServer[usersv1.UserEvent]) error {
	resp, err := u.ListUsers(stream.Context(), &usersv1.ListUsersRequest{UserIds: in.GetUserIds()})
	if err != nil {
		return err
	}
	for i, user := range resp.GetUsers() {
		if n := in.GetMaxEvents(); n > 0 && i == int(n) {
			break
		}
		if err := stream.Send(&usersv1.UserEvent{Kind: usersv1.UserEvent_KIND_CREATED, User: user}); err != nil {
			return err
		}
	}
	return nil
}

// ImportUsers stores every user sent.
func (u *Users) ImportUsers(stream grpc.ClientStreamingServer[usersv1.User, usersv1.ImportUsersResponse]) error {
	var n int32
	for {
		user, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&usersv1.ImportUsersResponse{Imported: n})
		}
		if err != nil {
			return err
		}
		if _, err := u.CreateUser(stream.Context(), &usersv1.CreateUserRequest{User: user}); err != nil {
			return err
		}
		n++
	}
}
