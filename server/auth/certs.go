package auth

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
)

// CertRule maps client certificates to a principal. Every matcher that is
// set must match; a rule must set at least one. The first matching rule in
// a list wins.
type CertRule struct {
	// SubjectCN matches the certificate's subject common name exactly.
	SubjectCN string `json:"subject_cn,omitempty"`
	// DNSName, URI and Email match one of the certificate's subject
	// alternative names exactly.
	DNSName string `json:"san_dns,omitempty"`
	URI     string `json:"san_uri,omitempty"`
	Email   string `json:"san_email,omitempty"`
	// Principal, Role and AgentID are what a matching certificate
	// authenticates as.
	Principal string `json:"principal"`
	Role      Role   `json:"role"`
	AgentID   string `json:"agent_id,omitempty"`
}

// LoadCertRules reads a JSON array of CertRule and checks every rule.
func LoadCertRules(r io.Reader) ([]CertRule, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var rules []CertRule
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("auth: certificate rules are not a JSON array of rules: %w", err)
	}
	for i, rule := range rules {
		if rule.SubjectCN == "" && rule.DNSName == "" && rule.URI == "" && rule.Email == "" {
			return nil, fmt.Errorf("auth: certificate rule %d matches nothing: set subject_cn, san_dns, san_uri or san_email", i)
		}
		if rule.Principal == "" {
			return nil, fmt.Errorf("auth: certificate rule %d has no principal", i)
		}
		if _, err := ParseRole(string(rule.Role)); err != nil {
			return nil, fmt.Errorf("certificate rule %d: %w", i, err)
		}
	}
	return rules, nil
}

// match returns the principal of the first rule the certificate matches.
func match(rules []CertRule, cert *x509.Certificate) (Principal, bool) {
	for _, r := range rules {
		if r.SubjectCN != "" && cert.Subject.CommonName != r.SubjectCN ||
			r.DNSName != "" && !slices.Contains(cert.DNSNames, r.DNSName) ||
			r.Email != "" && !slices.Contains(cert.EmailAddresses, r.Email) {
			continue
		}
		if r.URI != "" && !slices.ContainsFunc(cert.URIs, func(u *url.URL) bool { return u.String() == r.URI }) {
			continue
		}
		return Principal{Name: r.Principal, Role: r.Role, AgentID: r.AgentID, Method: "mtls", Expires: cert.NotAfter}, true
	}
	return Principal{}, false
}
