package cloudsqltest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// PostgreSQL startup packet codes.
const (
	protocolV3     = 196608
	sslRequestCode = 80877103
	gssRequestCode = 80877104
)

// serve accepts connections on the proxy listener until Close.
func (f *Fake) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		if !f.track(c) {
			_ = c.Close()
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(c)
			f.handle(c)
		}()
	}
}

func (f *Fake) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	f.openConns.Add(1)
	return true
}

func (f *Fake) untrack(c net.Conn) {
	_ = c.Close()
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	f.openConns.Add(-1)
}

// tlsConfig is the server side of Cloud SQL's mutual TLS: TLS 1.3 only, a
// client certificate from generateEphemeralCert required, and the server
// certificate chosen by the current fault.
func (f *Fake) tlsConfig() *tls.Config {
	clients := x509.NewCertPool()
	clients.AddCert(f.clientCA.cert)
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  clients,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			switch f.currentFault() {
			case RogueServerCert:
				return &f.rogueCert, nil
			case OtherInstanceCert:
				return &f.otherCert, nil
			default:
				return &f.serverCert, nil
			}
		},
	}
}

func (f *Fake) handle(raw net.Conn) {
	conn := tls.Server(raw, f.tlsConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		return
	}
	peer := conn.ConnectionState().PeerCertificates[0]
	f.mu.Lock()
	token := f.tokens[peer.SerialNumber.String()]
	f.mu.Unlock()

	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	startup, params, err := readStartup(conn)
	if err != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	if user := params["user"]; strings.Contains(user, "@") {
		if reason := f.checkIAMLogin(user, token); reason != "" {
			f.mu.Lock()
			f.loginErr = append(f.loginErr, reason)
			f.mu.Unlock()
			kind := "user"
			if strings.HasSuffix(user, ".iam") {
				kind = "service account"
			}
			// The text Cloud SQL sends for a failed IAM database login.
			_, _ = conn.Write(errorResponse("28000",
				fmt.Sprintf("Cloud SQL IAM %s authentication failed for user %q", kind, user)))
			return
		}
		f.mu.Lock()
		f.logins = append(f.logins, user+" "+token)
		f.mu.Unlock()
	}

	var d net.Dialer
	backend, err := d.DialContext(ctx, "tcp", f.opts.Backend)
	if err != nil {
		_, _ = conn.Write(errorResponse("08006", "cloudsqltest: backend unreachable: "+err.Error()))
		return
	}
	defer backend.Close()
	if _, err := backend.Write(startup); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(backend, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, backend); done <- struct{}{} }()
	<-done
	// One side ended: close both so the other copy returns too.
	_ = conn.Close()
	_ = backend.Close()
	<-done
}

// checkIAMLogin returns why an IAM login for user is refused, or "". The
// login token must belong to the principal whose database user name is user:
// a service account's email without ".gserviceaccount.com", or a person's
// email as is.
func (f *Fake) checkIAMLogin(user, token string) string {
	if token == "" {
		return fmt.Sprintf("user %q: client certificate carries no IAM login token", user)
	}
	email, ok := f.opts.IAMPrincipals[token]
	if !ok {
		return fmt.Sprintf("user %q: login token is not valid", user)
	}
	want := strings.TrimSuffix(email, ".gserviceaccount.com")
	if user != want {
		return fmt.Sprintf("user %q: login token belongs to %s, whose database user is %q", user, email, want)
	}
	return ""
}

// readStartup reads the client's first message, answering "N" to SSL and GSS
// encryption requests (the connector's tunnel is the encryption). It returns
// the raw startup (or cancel) message to forward and, for a protocol 3
// startup, its parameters.
func readStartup(r io.ReadWriter) ([]byte, map[string]string, error) {
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, nil, err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		code := binary.BigEndian.Uint32(hdr[4:])
		if n < 8 || n > 10000 {
			return nil, nil, errors.New("cloudsqltest: bad startup message length")
		}
		if code == sslRequestCode || code == gssRequestCode {
			if _, err := r.Write([]byte{'N'}); err != nil {
				return nil, nil, err
			}
			continue
		}
		msg := make([]byte, n)
		copy(msg, hdr[:])
		if _, err := io.ReadFull(r, msg[8:]); err != nil {
			return nil, nil, err
		}
		params := map[string]string{}
		if code == protocolV3 {
			// key\0value\0 ... \0: drop the final terminator, then pair up.
			fields := bytes.Split(bytes.TrimSuffix(msg[8:], []byte{0}), []byte{0})
			for i := 0; i+1 < len(fields); i += 2 {
				params[string(fields[i])] = string(fields[i+1])
			}
		}
		return msg, params, nil
	}
}

// errorResponse encodes a FATAL PostgreSQL ErrorResponse message.
func errorResponse(code, message string) []byte {
	var body bytes.Buffer
	for _, fld := range []struct {
		t byte
		v string
	}{{'S', "FATAL"}, {'V', "FATAL"}, {'C', code}, {'M', message}} {
		body.WriteByte(fld.t)
		body.WriteString(fld.v)
		body.WriteByte(0)
	}
	body.WriteByte(0)
	msg := make([]byte, 5, 5+body.Len())
	msg[0] = 'E'
	binary.BigEndian.PutUint32(msg[1:], uint32(4+body.Len()))
	return append(msg, body.Bytes()...)
}
