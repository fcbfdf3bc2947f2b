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
	// HTTP/1.1 and cleartext HTTP/2 (h2c), which bidi streams need.
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	return &httpServer{h: h, srv: &http.Server{Handler: h, Protocols: protocols}}
}

func (s *httpServer) serve(lis net.Listener) { _ = s.srv.Serve(lis) }

func (s *httpServer) close() { _ = s.srv.Close() }
