package retry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// ServiceConfig is what this package takes from a gRPC service config
// (https://github.com/grpc/grpc/blob/master/doc/service_config.md): the
// retry policy, timeout and waitForReady of each methodConfig, and
// retryThrottling. Other fields (loadBalancingConfig, ...) are ignored, as
// they concern other layers.
type ServiceConfig struct {
	// Policies maps a method name to its policy: "/pkg.Service/Method" for a
	// method, "pkg.Service" for every method of a service, "" for every
	// method. The most specific name wins.
	Policies map[string]Policy
	// Throttling is the retry budget; nil means no budget.
	Throttling *Throttling
}

// Throttling is gRPC's retryThrottling: a token bucket per connection.
// Tokens start at MaxTokens; each failed attempt takes one, each success
// gives back TokenRatio; retries are allowed only while more than
// MaxTokens/2 tokens remain.
type Throttling struct {
	MaxTokens  float64 // in (0, 1000]
	TokenRatio float64 // > 0; precision is 0.001
}

func (t Throttling) validate() error {
	if !(t.MaxTokens > 0 && t.MaxTokens <= 1000) {
		return fmt.Errorf("retryThrottling.maxTokens is %v: it must be in (0, 1000]", t.MaxTokens)
	}
	if !(t.TokenRatio > 0) || math.IsInf(t.TokenRatio, 0) {
		return fmt.Errorf("retryThrottling.tokenRatio is %v: it must be positive", t.TokenRatio)
	}
	return nil
}

type jsonServiceConfig struct {
	MethodConfig []struct {
		Name []struct {
			Service *string `json:"service"`
			Method  *string `json:"method"`
		} `json:"name"`
		WaitForReady  *bool            `json:"waitForReady"`
		Timeout       *string          `json:"timeout"`
		RetryPolicy   *jsonRetryPolicy `json:"retryPolicy"`
		HedgingPolicy json.RawMessage  `json:"hedgingPolicy"`
	} `json:"methodConfig"`
	RetryThrottling *struct {
		MaxTokens  *float64 `json:"maxTokens"`
		TokenRatio *float64 `json:"tokenRatio"`
	} `json:"retryThrottling"`
}

type jsonRetryPolicy struct {
	MaxAttempts          int               `json:"maxAttempts"`
	InitialBackoff       string            `json:"initialBackoff"`
	MaxBackoff           string            `json:"maxBackoff"`
	BackoffMultiplier    float64           `json:"backoffMultiplier"`
	RetryableStatusCodes []json.RawMessage `json:"retryableStatusCodes"`
}

// ParseServiceConfig reads the retry-related parts of a gRPC service config
// in JSON, validating them as grpc-go does: maxAttempts at least 2 (values
// above 5 lowered to 5), positive backoffs written as protobuf JSON
// durations ("0.1s"), a positive multiplier, at least one retryable code
// (by name, "UNAVAILABLE", or number, 14), maxTokens in (0, 1000], a
// positive tokenRatio, no name listed twice. A methodConfig without
// retryPolicy still sets timeout and waitForReady. hedgingPolicy is refused
// (not implemented). Errors name the methodConfig and field at fault.
func ParseServiceConfig(js string) (*ServiceConfig, error) {
	var raw jsonServiceConfig
	dec := json.NewDecoder(strings.NewReader(js))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("retry: service config: %v", err)
	}
	if dec.More() {
		return nil, errors.New("retry: service config: data after the JSON object")
	}
	sc := &ServiceConfig{Policies: map[string]Policy{}}
	for i, mc := range raw.MethodConfig {
		where := fmt.Sprintf("retry: service config: methodConfig[%d]", i)
		if len(mc.HedgingPolicy) > 0 && !bytes.Equal(bytes.TrimSpace(mc.HedgingPolicy), []byte("null")) {
			if mc.RetryPolicy != nil {
				return nil, fmt.Errorf("%s: retryPolicy and hedgingPolicy are mutually exclusive", where)
			}
			return nil, fmt.Errorf("%s: hedgingPolicy is not supported by this client; use retryPolicy", where)
		}
		var p Policy
		p.WaitForReady = mc.WaitForReady
		if mc.Timeout != nil {
			d, err := parseDuration(*mc.Timeout)
			if err != nil {
				return nil, fmt.Errorf("%s: timeout: %v", where, err)
			}
			p.Timeout = d
		}
		if rp := mc.RetryPolicy; rp != nil {
			var err error
			if p, err = parseRetryPolicy(p, rp); err != nil {
				return nil, fmt.Errorf("%s: retryPolicy: %v", where, err)
			}
		}
		if len(mc.Name) == 0 {
			return nil, fmt.Errorf("%s: name is empty: list at least one {service, method}", where)
		}
		for j, n := range mc.Name {
			service, method := deref(n.Service), deref(n.Method)
			if service == "" && method != "" {
				return nil, fmt.Errorf("%s: name[%d]: method %q without a service", where, j, method)
			}
			key := service
			if method != "" {
				key = "/" + service + "/" + method
			}
			if _, dup := sc.Policies[key]; dup {
				return nil, fmt.Errorf("%s: name[%d]: %q is configured twice", where, j, key)
			}
			sc.Policies[key] = p
		}
	}
	if rt := raw.RetryThrottling; rt != nil {
		if rt.MaxTokens == nil || rt.TokenRatio == nil {
			return nil, errors.New("retry: service config: retryThrottling needs maxTokens and tokenRatio")
		}
		t := Throttling{MaxTokens: *rt.MaxTokens, TokenRatio: *rt.TokenRatio}
		if err := t.validate(); err != nil {
			return nil, fmt.Errorf("retry: service config: %v", err)
		}
		sc.Throttling = &t
	}
	return sc, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func parseRetryPolicy(p Policy, rp *jsonRetryPolicy) (Policy, error) {
	var err error
	p.MaxAttempts = rp.MaxAttempts
	if p.InitialBackoff, err = parseDuration(rp.InitialBackoff); err != nil {
		return p, fmt.Errorf("initialBackoff: %v", err)
	}
	if p.MaxBackoff, err = parseDuration(rp.MaxBackoff); err != nil {
		return p, fmt.Errorf("maxBackoff: %v", err)
	}
	p.BackoffMultiplier = rp.BackoffMultiplier
	for _, c := range rp.RetryableStatusCodes {
		code, err := parseCode(c)
		if err != nil {
			return p, fmt.Errorf("retryableStatusCodes: %v", err)
		}
		p.RetryableCodes = append(p.RetryableCodes, code)
	}
	if _, err := p.validate(); err != nil {
		return p, err
	}
	return p, nil
}

// parseCode reads a status code written as its name ("UNAVAILABLE") or
// number (14).
func parseCode(raw json.RawMessage) (codes.Code, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		v, err := strconv.ParseUint(string(n), 10, 32)
		if err != nil || v > uint64(codes.Unauthenticated) {
			return 0, fmt.Errorf("%s is not a gRPC status code (0 to 16)", n)
		}
		return codes.Code(v), nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return 0, fmt.Errorf("%s is neither a code name nor a number", raw)
	}
	var c codes.Code
	// codes.Code's UnmarshalJSON accepts the quoted upper-case names.
	if err := c.UnmarshalJSON([]byte(strconv.Quote(name))); err != nil {
		return 0, fmt.Errorf("%q is not a gRPC status code name (such as \"UNAVAILABLE\")", name)
	}
	return c, nil
}

// parseDuration reads a protobuf JSON duration: decimal seconds with at
// most nine fractional digits and an "s" suffix, such as "0.1s" or "5s".
func parseDuration(s string) (time.Duration, error) {
	num, ok := strings.CutSuffix(s, "s")
	if !ok || num == "" {
		return 0, fmt.Errorf("%q is not a duration: write seconds with an s suffix, such as \"0.1s\"", s)
	}
	whole, frac, _ := strings.Cut(num, ".")
	if strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return 0, fmt.Errorf("%q: a duration here must not be signed", s)
	}
	if len(frac) > 9 || !digits(whole) || !digits(frac) || (whole == "" && frac == "") {
		return 0, fmt.Errorf("%q is not a duration: write seconds with an s suffix, such as \"0.1s\"", s)
	}
	secs, err := strconv.ParseInt(whole+"0", 10, 64) // "0" so that ".5s" parses
	if err != nil || secs/10 > math.MaxInt64/int64(time.Second)-1 {
		return 0, fmt.Errorf("%q is too long a duration", s)
	}
	nanos, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	return time.Duration(secs/10)*time.Second + time.Duration(nanos), nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
