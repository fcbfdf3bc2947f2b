package runtime_test

import (
	"net"
	"net/http"
)

// httpServer serves an http.Handler on a listener until closed.
type httpServer struct {
	h   http.Handler
	srv *http.Server
}

func newHTTPServer(h http.Handler) *httpServer {
	return &httpServer{h: h, srv: &http.Server{Handler: h}}
}

func (s *httpServer) serve(lis net.Listener) { _ = s.srv.Serve(lis) }

func (s *httpServer) close() { _ = s.srv.Close() }
