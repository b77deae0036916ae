package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/store"
)

// testCA issues certificates for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) issue(t *testing.T, cn string, dns []string, uris []string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	if cn == "127.0.0.1" {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	for _, u := range uris {
		parsed, _ := url.Parse(u)
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A client certificate from the configured CA maps to a principal and role
// by subject or SAN; an unmapped one is unauthenticated; one from another CA
// cannot connect.
func TestMutualTLSMapsCertificatesToPrincipals(t *testing.T) {
	ca := newCA(t, "agenttrail test CA")
	serverCert := ca.issue(t, "127.0.0.1", nil, nil, x509.ExtKeyUsageServerAuth)
	rules := []auth.CertRule{
		{URI: "spiffe://example.org/agent/support", Principal: "support-bot", Role: auth.Agent, AgentID: "support-agent"},
		{SubjectCN: "carol.auditor", Principal: "audit-carol", Role: auth.Compliance},
	}
	red, _ := redact.New(redact.DefaultPolicy())
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: ca.pool, ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
	h := start(t, nil,
		server.WithGRPCOptions(grpc.Creds(credentials.NewTLS(tlsCfg))),
		server.WithAccessControlFunc(func(s *store.Store) (*auth.Authenticator, server.EventRedactor, error) {
			a, err := auth.New(s, rules, nil)
			return a, red, err
		}))
	dialWith := func(cert *tls.Certificate, roots *x509.CertPool) *grpc.ClientConn {
		cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	agentCert := ca.issue(t, "support-bot", nil, []string{"spiffe://example.org/agent/support"}, x509.ExtKeyUsageClientAuth)
	auditCert := ca.issue(t, "carol.auditor", nil, nil, x509.ExtKeyUsageClientAuth)
	strangerCert := ca.issue(t, "mallory", nil, nil, x509.ExtKeyUsageClientAuth)
	otherCA := newCA(t, "another CA")
	foreignCert := otherCA.issue(t, "carol.auditor", nil, nil, x509.ExtKeyUsageClientAuth)

	agent := dialWith(&agentCert, ca.pool)
	resps := appendAll(t, agenttrailv1.NewAppendServiceClient(agent), requests(agentEvents()[:2]))
	for _, r := range resps {
		if r.GetReceipt() == nil {
			t.Fatalf("append with the agent certificate: %v", r)
		}
	}
	e, err := agenttrailv1.NewQueryServiceClient(dialWith(&auditCert, ca.pool)).GetEvent(context.Background(),
		&agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: resps[0].GetReceipt().GetLogIndex()}})
	if err != nil {
		t.Fatalf("GetEvent with the auditor certificate: %v", err)
	}
	if got := e.GetEntry().GetStamp().GetPrincipal(); got != "support-bot" {
		t.Errorf("event appended over mTLS has principal %q, want support-bot", got)
	}
	if e.GetEntry().GetView().GetKind() != agenttrailv1.ViewKind_VIEW_KIND_FULL {
		t.Errorf("the auditor certificate maps to compliance: view %v, want full", e.GetEntry().GetView())
	}
	_, err = agenttrailv1.NewQueryServiceClient(agent).GetEvent(context.Background(),
		&agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: 0}})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("agent certificate reading: %v, want PermissionDenied", err)
	}
	_, err = agenttrailv1.NewQueryServiceClient(dialWith(&strangerCert, ca.pool)).GetEvent(context.Background(),
		&agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: 0}})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("certificate matching no rule: %v, want Unauthenticated", err)
	}
	_, err = agenttrailv1.NewQueryServiceClient(dialWith(&foreignCert, ca.pool)).GetEvent(context.Background(),
		&agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: 0}})
	if err == nil || status.Code(err) == codes.OK {
		t.Errorf("certificate from another CA connected")
	}
	_, err = agenttrailv1.NewQueryServiceClient(dialWith(nil, ca.pool)).GetEvent(context.Background(),
		&agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: 0}})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("TLS without a certificate or key: %v, want Unauthenticated", err)
	}
}
