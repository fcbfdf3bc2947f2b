// Package tlstest makes the certificates a TLS test needs: a CA, a server
// certificate for loopback and a client certificate, all made in the test
// and valid for an hour, so that no key is checked in and none outlives it.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// PKI is a test CA with the certificates it issued.
type PKI struct {
	// Pool holds the CA certificate: the RootCAs of a client, the
	// ClientCAs of a server.
	Pool *x509.CertPool
	// Server is valid for 127.0.0.1, ::1 and localhost.
	Server tls.Certificate
	// Client is a client certificate, for mutual TLS.
	Client tls.Certificate
}

// validity is how long the certificates live: long enough for any test,
// short enough that a leaked key is worthless.
const validity = time.Hour

// New makes a CA and its server and client certificates, ECDSA P-256.
func New(tb testing.TB) *PKI {
	tb.Helper()
	caKey := newKey(tb)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "svcclient test CA"},
		NotBefore:             now.Add(-time.Minute), // tolerate a little clock skew
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	issue := func(serial int64, name string, usage x509.ExtKeyUsage, ips []net.IP, dns []string) tls.Certificate {
		key := newKey(tb)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    caTmpl.NotBefore,
			NotAfter:     caTmpl.NotAfter,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
			DNSNames:     dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			tb.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	return &PKI{
		Pool:   pool,
		Server: issue(2, "svcclient test server", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, []string{"localhost"}),
		Client: issue(3, "svcclient test client", x509.ExtKeyUsageClientAuth, nil, nil),
	}
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// ServerConfig returns a server's TLS configuration. With mutual set, the
// server requires a client certificate issued by the CA.
func (p *PKI) ServerConfig(mutual bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server}, MinVersion: tls.VersionTLS12}
	if mutual {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = p.Pool
	}
	return cfg
}

// ClientConfig returns a client's TLS configuration, trusting the CA. With
// withCert set, the client presents its certificate.
func (p *PKI) ClientConfig(withCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: p.Pool, MinVersion: tls.VersionTLS12}
	if withCert {
		cfg.Certificates = []tls.Certificate{p.Client}
	}
	return cfg
}
