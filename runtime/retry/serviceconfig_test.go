package retry

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
)

const exampleConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{
    "name": [{"service": "example.users.v1.UserService"}],
    "waitForReady": true,
    "timeout": "2.5s",
    "retryPolicy": {
      "maxAttempts": 9,
      "initialBackoff": "0.1s",
      "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE", 10]
    }
  }, {
    "name": [{"service": "example.users.v1.UserService", "method": "CreateUser"}, {}],
    "timeout": ".25s"
  }],
  "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
}`

func TestParseServiceConfig(t *testing.T) {
	sc, err := ParseServiceConfig(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	want := &ServiceConfig{
		Policies: map[string]Policy{
			"example.users.v1.UserService": {
				MaxAttempts: 9, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
				BackoffMultiplier: 2, RetryableCodes: []codes.Code{codes.Unavailable, codes.Aborted},
				Timeout: 2500 * time.Millisecond, WaitForReady: &yes,
			},
			createUser: {Timeout: 250 * time.Millisecond},
			"":         {Timeout: 250 * time.Millisecond},
		},
		Throttling: &Throttling{MaxTokens: 10, TokenRatio: 0.1},
	}
	if diff := cmp.Diff(want, sc); diff != "" {
		t.Errorf("ParseServiceConfig (-want +got):\n%s", diff)
	}
	r, err := New(WithServiceConfig(sc))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.policyFor(getUser).MaxAttempts; got != 5 {
		t.Errorf("maxAttempts 9 became %d, want it capped at 5", got)
	}
	if got := r.policyFor(createUser); got.MaxAttempts != 0 || got.Timeout != 250*time.Millisecond {
		t.Errorf("CreateUser's policy = %+v, want its own (timeout only)", got.Policy)
	}
	if got := r.policyFor("/other.Service/Method"); got.Timeout != 250*time.Millisecond {
		t.Errorf("the default policy = %+v", got.Policy)
	}
}

func TestParseServiceConfigErrors(t *testing.T) {
	policy := func(fields string) string {
		return `{"methodConfig":[{"name":[{"service":"s"}],"retryPolicy":{` + fields + `}}]}`
	}
	const good = `"maxAttempts":2,"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":1,"retryableStatusCodes":["UNAVAILABLE"]`
	for _, tc := range []struct{ config, want string }{
		{`{`, "unexpected EOF"},
		{`{} {}`, "data after the JSON object"},
		{`{"methodConfig":[{"retryPolicy":null}]}`, "name is empty"},
		{`{"methodConfig":[{"name":[{"method":"M"}]}]}`, `method "M" without a service`},
		{`{"methodConfig":[{"name":[{"service":"s"}]},{"name":[{"service":"s"}]}]}`, `"s" is configured twice`},
		{`{"methodConfig":[{"name":[{"service":"s"}],"timeout":"1"}]}`, `timeout: "1" is not a duration`},
		{`{"methodConfig":[{"name":[{"service":"s"}],"timeout":"-1s"}]}`, "must not be signed"},
		{`{"methodConfig":[{"name":[{"service":"s"}],"hedgingPolicy":{"maxAttempts":2}}]}`, "hedgingPolicy is not supported"},
		{policy(strings.Replace(good, `"maxAttempts":2`, `"maxAttempts":1`, 1)), "maxAttempts is 1: it must be at least 2"},
		{policy(strings.Replace(good, `"initialBackoff":"1s"`, `"initialBackoff":"0s"`, 1)), "initialBackoff is 0s: it must be positive"},
		{policy(strings.Replace(good, `"maxBackoff":"1s"`, `"maxBackoff":"1ms"`, 1)), `maxBackoff: "1ms" is not a duration`},
		{policy(strings.Replace(good, `"backoffMultiplier":1`, `"backoffMultiplier":0`, 1)), "backoffMultiplier is 0"},
		{policy(strings.Replace(good, `["UNAVAILABLE"]`, `[]`, 1)), "retryableStatusCodes is empty"},
		{policy(strings.Replace(good, `["UNAVAILABLE"]`, `["UNAVAILABLE","NOPE"]`, 1)), `"NOPE" is not a gRPC status code name`},
		{policy(strings.Replace(good, `["UNAVAILABLE"]`, `[17]`, 1)), "17 is not a gRPC status code"},
		{policy(strings.Replace(good, `["UNAVAILABLE"]`, `["OK"]`, 1)), "OK is not a retryable gRPC status code"},
		{policy(strings.Replace(good, `["UNAVAILABLE"]`, `[true]`, 1)), "neither a code name nor a number"},
		{`{"retryThrottling":{"maxTokens":0,"tokenRatio":1}}`, "maxTokens is 0: it must be in (0, 1000]"},
		{`{"retryThrottling":{"maxTokens":1001,"tokenRatio":1}}`, "maxTokens is 1001"},
		{`{"retryThrottling":{"maxTokens":10,"tokenRatio":0}}`, "tokenRatio is 0: it must be positive"},
		{`{"retryThrottling":{"maxTokens":10}}`, "needs maxTokens and tokenRatio"},
	} {
		_, err := ParseServiceConfig(tc.config)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseServiceConfig(%s):\n got %v\nwant an error containing %q", tc.config, err, tc.want)
		}
	}
}

func TestWithPolicyRejectsInvalid(t *testing.T) {
	_, err := NewConn(nil, WithPolicy(getUser, Policy{MaxAttempts: 3}))
	if err == nil || !strings.Contains(err.Error(), `policy for "/example.users.v1.UserService/GetUser": initialBackoff is 0s`) {
		t.Errorf("err = %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"1s": time.Second, "0.1s": 100 * time.Millisecond, ".5s": 500 * time.Millisecond,
		"1.000000001s": time.Second + 1, "0s": 0, "300s": 5 * time.Minute,
	} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "s", "1", "1ms", "1.s.s", "1.0000000001s", "1e3s", "99999999999999999999s", " 1s"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) accepted", in)
		}
	}
}

func TestParsePushback(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		values    []string
		delay     time.Duration
		retry, ok bool
	}{
		{nil, 0, true, false},
		{[]string{"0"}, 0, true, true},
		{[]string{"250"}, 250 * time.Millisecond, true, true},
		{[]string{"-1"}, 0, false, true},
		{[]string{"soon"}, 0, false, true},
		{[]string{"1", "2"}, 0, false, true},
	} {
		d, retry, ok := ParsePushbackMs(tc.values)
		if d != tc.delay || retry != tc.retry || ok != tc.ok {
			t.Errorf("ParsePushbackMs(%q) = %v, %v, %v; want %v, %v, %v", tc.values, d, retry, ok, tc.delay, tc.retry, tc.ok)
		}
	}
	for in, want := range map[string]time.Duration{
		"3": 3 * time.Second, "0": 0,
		"Thu, 01 Jan 2026 00:00:10 GMT": 10 * time.Second,
		"Wed, 31 Dec 2025 23:59:00 GMT": 0, // in the past
	} {
		if d, ok := ParseRetryAfter(in, now); !ok || d != want {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v", in, d, ok, want)
		}
	}
	for _, in := range []string{"", "-3", "1.5", "tomorrow"} {
		if _, ok := ParseRetryAfter(in, now); ok {
			t.Errorf("ParseRetryAfter(%q) accepted", in)
		}
	}
}
