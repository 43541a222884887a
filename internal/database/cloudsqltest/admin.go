package cloudsqltest

import (
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The JSON shapes below follow the SQL Admin API v1beta4 reference
// (ConnectSettings, SslCert, GenerateEphemeralCertRequest/Response). They are
// written out here rather than borrowed from google.golang.org/api so the
// fake checks the connector against the wire format, not against itself.

type sslCert struct {
	Kind             string `json:"kind"`
	CertSerialNumber string `json:"certSerialNumber"`
	Cert             string `json:"cert"`
	CommonName       string `json:"commonName"`
	Sha1Fingerprint  string `json:"sha1Fingerprint"`
	Instance         string `json:"instance"`
	CreateTime       string `json:"createTime"`
	ExpirationTime   string `json:"expirationTime"`
}

type ipMapping struct {
	Type      string `json:"type"` // PRIMARY (public), PRIVATE, OUTGOING
	IPAddress string `json:"ipAddress"`
}

type dnsNameMapping struct {
	Name           string `json:"name"`
	ConnectionType string `json:"connectionType"` // PUBLIC, PRIVATE_SERVICES_ACCESS, PRIVATE_SERVICE_CONNECT
	DNSScope       string `json:"dnsScope"`       // INSTANCE
}

type connectSettings struct {
	Kind            string           `json:"kind"`
	ServerCaCert    *sslCert         `json:"serverCaCert"`
	IPAddresses     []ipMapping      `json:"ipAddresses,omitempty"`
	Region          string           `json:"region"`
	DatabaseVersion string           `json:"databaseVersion"`
	BackendType     string           `json:"backendType"`
	PscEnabled      bool             `json:"pscEnabled,omitempty"`
	DNSName         string           `json:"dnsName,omitempty"`
	DNSNames        []dnsNameMapping `json:"dnsNames,omitempty"`
	ServerCaMode    string           `json:"serverCaMode"`
}

type generateEphemeralCertRequest struct {
	PublicKey   string `json:"public_key"`
	AccessToken string `json:"access_token,omitempty"`
}

type generateEphemeralCertResponse struct {
	EphemeralCert sslCert `json:"ephemeralCert"`
}

// adminAPI routes the two Admin API methods the connector uses.
func (f *Fake) adminAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sql/v1beta4/projects/{project}/instances/{instance}/connectSettings", f.handleConnectSettings)
	// "instances/NAME:generateEphemeralCert": a custom method, one path segment.
	mux.HandleFunc("POST /sql/v1beta4/projects/{project}/instances/{target}", f.handleGenerateEphemeralCert)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "notFound", "global",
			fmt.Sprintf("cloudsqltest: no such method %s %s", r.Method, r.URL.Path), nil)
	})
	return mux
}

func (f *Fake) handleConnectSettings(w http.ResponseWriter, r *http.Request) {
	f.connectSettings.Add(1)
	if !f.admit(w, r, r.PathValue("project"), r.PathValue("instance")) {
		return
	}
	o := f.opts
	cs := connectSettings{
		Kind: "sql#connectSettings",
		ServerCaCert: &sslCert{
			Kind:             "sql#sslCert",
			CertSerialNumber: f.serverCA.cert.SerialNumber.String(),
			Cert:             pemCert(f.serverCA.cert),
			CommonName:       f.serverCA.cert.Subject.String(),
			Sha1Fingerprint:  fingerprint(f.serverCA.cert),
			Instance:         o.Name,
			CreateTime:       f.serverCA.cert.NotBefore.UTC().Format(time.RFC3339Nano),
			ExpirationTime:   f.serverCA.cert.NotAfter.UTC().Format(time.RFC3339Nano),
		},
		Region:          o.Region,
		DatabaseVersion: o.DatabaseVersion,
		BackendType:     "SECOND_GEN",
		ServerCaMode:    "GOOGLE_MANAGED_INTERNAL_CA",
	}
	if o.PublicIP != "" {
		cs.IPAddresses = append(cs.IPAddresses, ipMapping{Type: "PRIMARY", IPAddress: o.PublicIP})
	}
	if o.PrivateIP != "" {
		cs.IPAddresses = append(cs.IPAddresses, ipMapping{Type: "PRIVATE", IPAddress: o.PrivateIP})
	}
	if o.DNSName != "" {
		cs.ServerCaMode = "GOOGLE_MANAGED_CAS_CA"
		cs.DNSName = o.DNSName
		cs.DNSNames = append(cs.DNSNames, dnsNameMapping{Name: o.DNSName, ConnectionType: "PUBLIC", DNSScope: "INSTANCE"})
	}
	if o.PSCDNSName != "" {
		cs.PscEnabled = true
		cs.DNSNames = append(cs.DNSNames, dnsNameMapping{Name: o.PSCDNSName, ConnectionType: "PRIVATE_SERVICE_CONNECT", DNSScope: "INSTANCE"})
	}
	writeJSON(w, http.StatusOK, cs)
}

func (f *Fake) handleGenerateEphemeralCert(w http.ResponseWriter, r *http.Request) {
	name, method, ok := strings.Cut(r.PathValue("target"), ":")
	if !ok || method != "generateEphemeralCert" {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "notFound", "global",
			fmt.Sprintf("cloudsqltest: no such method POST %s", r.URL.Path), nil)
		return
	}
	f.ephemeralCerts.Add(1)
	if !f.admit(w, r, r.PathValue("project"), name) {
		return
	}
	var req generateEphemeralCertRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "global", "Invalid JSON payload received. "+err.Error(), nil)
		return
	}
	pub, err := parsePublicKey(req.PublicKey)
	if err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalidPublicKey", "global", err.Error(), nil)
		return
	}
	now := time.Now()
	cert, err := f.clientCA.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "cloudsqltest-client"},
		NotBefore:   now.Add(-time.Minute),
		NotAfter:    now.Add(f.opts.CertLifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, pub)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL", "internalError", "global", err.Error(), nil)
		return
	}
	if req.AccessToken != "" {
		// Cloud SQL embeds the login token in the certificate and checks it
		// only when the database login happens; the fake remembers it by
		// serial number for the proxy to check.
		f.mu.Lock()
		f.tokens[cert.SerialNumber.String()] = req.AccessToken
		f.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, generateEphemeralCertResponse{EphemeralCert: sslCert{
		Kind:             "sql#sslCert",
		CertSerialNumber: cert.SerialNumber.String(),
		Cert:             pemCert(cert),
		CommonName:       cert.Subject.CommonName,
		Sha1Fingerprint:  fingerprint(cert),
		Instance:         name,
		CreateTime:       now.UTC().Format(time.RFC3339Nano),
		ExpirationTime:   cert.NotAfter.UTC().Format(time.RFC3339Nano),
	}})
}

// parsePublicKey reads the connector's key: PKIX DER in a PEM block labelled
// "RSA PUBLIC KEY".
func parsePublicKey(s string) (*rsa.PublicKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, fmt.Errorf("public_key is not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public_key: %w", err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public_key is %T, want RSA", k)
	}
	return rk, nil
}

// admit applies authentication, faults and the instance lookup that every
// Admin API method shares, and writes the error response when it fails.
func (f *Fake) admit(w http.ResponseWriter, r *http.Request, project, instance string) bool {
	o := f.opts
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || bearer == "" || (o.APIToken != "" && bearer != o.APIToken) {
		writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "authError", "global",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", nil)
		return false
	}
	switch f.currentFault() {
	case APIDisabled:
		url := "https://console.developers.google.com/apis/api/sqladmin.googleapis.com/overview?project=" + o.ProjectNumber
		msg := "Cloud SQL Admin API has not been used in project " + o.ProjectNumber +
			" before or it is disabled. Enable it by visiting " + url +
			" then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "accessNotConfigured", "usageLimits", msg, []any{
			map[string]any{
				"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
				"reason": "SERVICE_DISABLED",
				"domain": "googleapis.com",
				"metadata": map[string]string{
					"service":       "sqladmin.googleapis.com",
					"consumer":      "projects/" + o.ProjectNumber,
					"activationUrl": url,
					"serviceTitle":  "Cloud SQL Admin API",
					"containerInfo": o.ProjectNumber,
				},
			},
			map[string]any{
				"@type": "type.googleapis.com/google.rpc.Help",
				"links": []map[string]string{{"description": "Google developers console API activation", "url": url}},
			},
		})
		return false
	case NotAuthorized:
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "notAuthorized", "global",
			"The client is not authorized to make this request.", nil)
		return false
	}
	if project != o.Project || instance != o.Name {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "instanceDoesNotExist", "global",
			"The Cloud SQL instance does not exist.", nil)
		return false
	}
	return true
}

// writeError writes Google's JSON error envelope, which the API client
// library parses into a *googleapi.Error.
func writeError(w http.ResponseWriter, code int, status, reason, domain, message string, details []any) {
	body := map[string]any{
		"code":    code,
		"message": message,
		"errors":  []map[string]string{{"message": message, "domain": domain, "reason": reason}},
		"status":  status,
	}
	if details != nil {
		body["details"] = details
	}
	writeJSON(w, code, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
