package httptransport

import (
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Redirects are never followed, as grpc-go never follows them. Following
// one would send the call's metadata (API keys, cookies: everything but
// Authorization, which net/http drops) to whatever origin the server names,
// and a 301, 302 or 303 would turn the POST into a body-less GET whose
// answer, from another service, would be decoded as the reply. A base URL
// that redirects is a configuration to fix, so the call fails with Internal
// naming the status and the Location, and is not retried.

// refuseRedirects returns a copy of client (never client itself: the
// caller's client may serve other code that wants redirects) whose
// CheckRedirect hands the 3xx response back to the transport.
func refuseRedirects(client *http.Client) *http.Client {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// redirectError is the error of a call answered with a redirect, or nil if
// resp is not one.
func redirectError(resp *http.Response) error {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		loc = "(none)"
	}
	return status.Errorf(codes.Internal, "server answered HTTP %s with Location %.256q: this transport does not follow redirects; point the base URL at the new location", resp.Status, loc)
}
