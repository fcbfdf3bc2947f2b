package conformance

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
)

// EchoUsers answers every UserService method with what it received, so that
// tests can check that a request crossed the wire intact:
//
//	GetUser      the user id; "missing" is NotFound with an ErrorInfo, "panic" panics with PanicSecret
//	ListUsers    the whole request as protojson in next_page_token
//	CreateUser   the user, display name suffixed with "|" and the request id
//	UpdateUser   the user, display name replaced by the update mask's paths
//	UndeleteUser the user id, display name set to the reason
//	GetOrgUser   the resource name as the user id
//	GetProfile   a profile whose bio is the user id, etag "v1"
//	GetFile      the path
//	WatchUsers   max_events events, one per user id in turn; a user id
//	             "fail" ends the stream with FailedPrecondition after one event
//
// Every method echoes x-request-id into the header and sets trailer
// x-trailer: done.
type EchoUsers struct {
	// grpc-go's Unimplemented type, so that grpc-go and grpc-gateway
	// serve it too.
	usersv1.UnimplementedUserServiceServer
}

var (
	_ usersv1svc.UserServiceServer = EchoUsers{}
	_ usersv1.UserServiceServer    = EchoUsers{}
)

func echoMetadata(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-request-id"); len(v) > 0 {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-echo", v[0]))
	}
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "done"))
}

func (EchoUsers) GetUser(ctx context.Context, in *usersv1.GetUserRequest) (*usersv1.User, error) {
	echoMetadata(ctx)
	switch in.GetUserId() {
	case "missing":
		st, _ := status.New(codes.NotFound, "no user missing").WithDetails(&errdetails.ErrorInfo{Reason: "USER_UNKNOWN", Domain: "users.test"})
		return nil, st.Err()
	case "panic":
		panic(PanicSecret)
	case "deadline":
		_, ok := ctx.Deadline()
		return &usersv1.User{UserId: "deadline", DisplayName: map[bool]string{true: "yes", false: "no"}[ok]}, nil
	}
	return &usersv1.User{UserId: in.GetUserId()}, nil
}

func (EchoUsers) ListUsers(ctx context.Context, in *usersv1.ListUsersRequest) (*usersv1.ListUsersResponse, error) {
	echoMetadata(ctx)
	b, err := protojson.Marshal(in)
	if err != nil {
		return nil, err
	}
	return &usersv1.ListUsersResponse{NextPageToken: string(b)}, nil
}

func (EchoUsers) CreateUser(ctx context.Context, in *usersv1.CreateUserRequest) (*usersv1.User, error) {
	echoMetadata(ctx)
	u := in.GetUser()
	if u == nil {
		u = &usersv1.User{}
	}
	u.DisplayName += "|" + in.GetRequestId()
	return u, nil
}

func (EchoUsers) UpdateUser(ctx context.Context, in *usersv1.UpdateUserRequest) (*usersv1.User, error) {
	echoMetadata(ctx)
	u := in.GetUser()
	if u == nil {
		u = &usersv1.User{}
	}
	u.DisplayName = strings.Join(in.GetUpdateMask().GetPaths(), ",")
	return u, nil
}

func (EchoUsers) DeleteUser(ctx context.Context, in *usersv1.DeleteUserRequest) (*emptypb.Empty, error) {
	echoMetadata(ctx)
	if !in.GetForce() {
		return nil, status.Error(codes.FailedPrecondition, "set force to delete "+in.GetUserId())
	}
	return &emptypb.Empty{}, nil
}

func (EchoUsers) UndeleteUser(ctx context.Context, in *usersv1.UndeleteUserRequest) (*usersv1.User, error) {
	echoMetadata(ctx)
	return &usersv1.User{UserId: in.GetUserId(), DisplayName: in.GetReason()}, nil
}

func (EchoUsers) GetOrgUser(ctx context.Context, in *usersv1.GetOrgUserRequest) (*usersv1.User, error) {
	echoMetadata(ctx)
	return &usersv1.User{UserId: in.GetName()}, nil
}

func (EchoUsers) GetProfile(ctx context.Context, in *usersv1.GetProfileRequest) (*usersv1.GetProfileResponse, error) {
	echoMetadata(ctx)
	return &usersv1.GetProfileResponse{Profile: &usersv1.Profile{Bio: in.GetUserId(), Location: "here"}, Etag: "v1"}, nil
}

func (EchoUsers) GetFile(ctx context.Context, in *usersv1.GetFileRequest) (*usersv1.File, error) {
	echoMetadata(ctx)
	return &usersv1.File{Path: in.GetPath(), Content: []byte("content of " + in.GetPath())}, nil
}

func (EchoUsers) PurgeCache(ctx context.Context, in *usersv1.PurgeCacheRequest) (*emptypb.Empty, error) {
	echoMetadata(ctx)
	if in.GetUserId() == "" {
		return nil, status.Error(codes.InvalidArgument, "user_id is required")
	}
	return &emptypb.Empty{}, nil
}

func (EchoUsers) WatchUsers(in *usersv1.WatchUsersRequest, stream grpc.ServerStreamingServer[usersv1.UserEvent]) error {
	echoMetadata(stream.Context())
	ids := in.GetUserIds()
	for i := range int(in.GetMaxEvents()) {
		id := ""
		if len(ids) > 0 {
			id = ids[i%len(ids)]
		}
		if err := stream.Send(&usersv1.UserEvent{Kind: usersv1.UserEvent_KIND_UPDATED, User: &usersv1.User{UserId: id}}); err != nil {
			return err
		}
		if id == "fail" {
			return status.Error(codes.FailedPrecondition, "watch failed")
		}
	}
	return nil
}

// FullListUsersRequest sets every field of ListUsersRequest, each of a kind
// a query string must carry: nested, repeated, enums, well-known types,
// bytes, optional, and values that need escaping.
func FullListUsersRequest() *usersv1.ListUsersRequest {
	team := ""
	return &usersv1.ListUsersRequest{
		PageSize:       25,
		PageToken:      "tok en/&=?#%+",
		Filter:         &usersv1.Filter{EmailDomain: "example.com", Role: usersv1.Role_ROLE_WRITER},
		Roles:          []usersv1.Role{usersv1.Role_ROLE_READER, usersv1.Role_ROLE_ADMIN},
		UserIds:        []string{"a", "b c", "ü"},
		CreatedAfter:   timestamppb.New(time.Date(2024, 2, 29, 12, 30, 45, 123456789, time.UTC)),
		MaxAge:         durationpb.New(90*time.Minute + 500*time.Millisecond),
		ReadMask:       &fieldmaskpb.FieldMask{Paths: []string{"display_name", "email"}},
		MinRoles:       wrapperspb.Int32(0),
		NamePrefix:     wrapperspb.String("ad a"),
		IncludeDeleted: true,
		MinScore:       -2.5e-3,
		Cursor:         []byte{0, 1, 0xfb, 0xff, '?'},
		Team:           &team,
	}
}

// CheckListEcho checks that EchoUsers.ListUsers decoded want: it returns
// the request it received as protojson in next_page_token.
func CheckListEcho(t testing.TB, resp *usersv1.ListUsersResponse, want *usersv1.ListUsersRequest) {
	t.Helper()
	got := new(usersv1.ListUsersRequest)
	if err := protojson.Unmarshal([]byte(resp.GetNextPageToken()), got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("the server decoded\n%v\nwant\n%v", got, want)
	}
}
