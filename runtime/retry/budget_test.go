package retry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/status"

	"google.golang.org/grpc/codes"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// attemptsPerCall makes calls calls of GetUser to a service that fails
// every call, and returns the service's attempts per call.
func attemptsPerCall(t *testing.T, tc transportCase, calls int, opts ...Option) float64 {
	t.Helper()
	svc := &flakyUsers{Fails: 1 << 30, Code: codes.Unavailable}
	client := mustConn(t, tc.dial(t, usersv1svc.NewUserServiceService(svc)), newFakeClock(), opts...)
	for range calls {
		_, _ = client.GetUser(testContext(t), &usersv1.GetUserRequest{})
	}
	return float64(svc.Calls("GetUser")) / float64(calls)
}

// TestBudgetStopsRetryStorm: against a service where every call fails,
// gRPC's token bucket (maxTokens 10, tokenRatio 0.1) cuts the attempts per
// call from MaxAttempts to about one.
func TestBudgetStopsRetryStorm(t *testing.T) {
	const calls = 50
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			without := attemptsPerCall(t, tc, calls, WithPolicy(service, standard))
			with := attemptsPerCall(t, tc, calls, WithPolicy(service, standard), WithThrottling(Throttling{MaxTokens: 10, TokenRatio: 0.1}))
			t.Logf("%s: %d calls, all failing: %.2f attempts per call without a budget, %.2f with", tc.name, calls, without, with)
			if without != 5 {
				t.Errorf("without a budget: %.2f attempts per call, want 5", without)
			}
			// The first call spends the bucket down to half (5 attempts),
			// then every call is tried once: (5 + 49) / 50.
			if want := float64(5+calls-1) / calls; with != want {
				t.Errorf("with a budget: %.2f attempts per call, want %.2f", with, want)
			}
		})
	}
}

// TestBudgetWhenMostAttemptsFail: when three attempts in four fail, each
// success gives back only half a token while each failure takes one, so
// the budget soon allows retries only now and then: far fewer attempts
// than without it, though not none.
func TestBudgetWhenMostAttemptsFail(t *testing.T) {
	var n atomic.Int32
	run := func(opts ...Option) (attempts, failed int) {
		svc := &mostlyFailing{n: &n}
		client := mustConn(t, transports[0].dial(t, usersv1svc.NewUserServiceService(svc)), newFakeClock(), opts...)
		for range 400 {
			if _, err := client.GetUser(testContext(t), &usersv1.GetUserRequest{}); err != nil {
				failed++
			}
		}
		return int(svc.calls.Load()), failed
	}
	a1, f1 := run(WithPolicy(service, standard))
	a2, f2 := run(WithPolicy(service, standard), WithThrottling(Throttling{MaxTokens: 10, TokenRatio: 0.5}))
	t.Logf("3 of 4 attempts fail, 400 calls: %.2f attempts per call and %d failed calls without a budget; %.2f and %d with (maxTokens 10, tokenRatio 0.5)",
		float64(a1)/400, f1, float64(a2)/400, f2)
	if a2 >= a1 {
		t.Errorf("the budget did not reduce attempts: %d with, %d without", a2, a1)
	}
	if a2 <= 400 {
		t.Errorf("the budget let no retry through: %d attempts for 400 calls", a2)
	}
}

// mostlyFailing fails three attempts in four, counted across clients.
type mostlyFailing struct {
	usersv1svc.UnimplementedUserServiceServer
	n     *atomic.Int32
	calls atomic.Int32
}

func (m *mostlyFailing) GetUser(_ context.Context, _ *usersv1.GetUserRequest) (*usersv1.User, error) {
	m.calls.Add(1)
	if m.n.Add(1)%4 != 0 {
		return nil, status.Error(codes.Unavailable, "busy")
	}
	return &usersv1.User{}, nil
}

// TestRetryAfterFromProxy: a proxy in front of the HTTP server answers
// 503 with Retry-After. On Connect routes every response header becomes
// header metadata; on REST routes the client maps Retry-After to
// "retry-after" beside the Grpc-Metadata- headers. Either way the client
// waits as told.
func TestRetryAfterFromProxy(t *testing.T) {
	for name, want := range map[string]time.Duration{"connect": 7 * time.Second, "rest": 7 * time.Second} {
		t.Run(name, func(t *testing.T) {
			svc := &flakyUsers{}
			h := httptransport.NewHandler(usersv1svc.NewUserServiceService(svc))
			var refused atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if refused.CompareAndSwap(false, true) {
					w.Header().Set("Retry-After", "7")
					http.Error(w, "overloaded", http.StatusServiceUnavailable)
					return
				}
				h.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			var opts []httptransport.ClientOption
			if name == "connect" {
				opts = append(opts, httptransport.WithConnectRoutes())
			}
			clk := newFakeClock()
			client := mustConn(t, dialHTTPAddr(t, srv.URL, opts...), clk, WithPolicy(service, standard))
			if _, err := client.GetUser(testContext(t), &usersv1.GetUserRequest{UserId: "ada"}); err != nil {
				t.Fatal(err)
			}
			if got := clk.Slept(); !equalDurations(got, []time.Duration{want}) {
				t.Errorf("waits = %v, want [%v]", got, want)
			}
		})
	}
}
