package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// maxMessageBytes bounds one mail.
const maxMessageBytes = 10 << 20

// envelopeInfo is the SMTP side of a mail: what the client said before the message.
type envelopeInfo struct {
	MailFrom string   `json:"mailFrom"`
	RcptTo   []string `json:"rcptTo"`
	// TLS: the mail came after STARTTLS.
	TLS bool `json:"tls"`
	// AuthUsername: who authenticated (any credentials are accepted; the password is not kept).
	AuthUsername string `json:"authUsername,omitempty"`
}

// parsedMail is the message: its headers, the decoded subject and the text and HTML bodies.
type parsedMail struct {
	From    string              `json:"from"`
	To      []string            `json:"to"`
	Subject string              `json:"subject"`
	Headers map[string][]string `json:"headers"`
	Text    string              `json:"text"`
	HTML    string              `json:"html"`
}

type smtpBackend struct{ catcher *catcher }

func (b *smtpBackend) NewSession(conn *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{catcher: b.catcher, conn: conn}, nil
}

// smtpSession records each mail of a connection; it implements AUTH PLAIN so that a client
// configured with credentials (Alertmanager's smtp_auth_username) can log in.
type smtpSession struct {
	catcher  *catcher
	conn     *smtp.Conn
	envelope envelopeInfo
	username string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, _ string) error {
		s.username = username
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.envelope = envelopeInfo{MailFrom: from}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.envelope.RcptTo = append(s.envelope.RcptTo, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	envelope := s.envelope
	_, envelope.TLS = s.conn.TLSConnectionState()
	envelope.AuthUsername = s.username
	var payload any
	parsed, err := parseMail(data)
	if err != nil {
		// Kept as text, so that a test sees what could not be parsed.
		payload = map[string]string{"error": err.Error(), "raw": string(data)}
	} else {
		payload = parsed
	}
	kept := s.catcher.store.add(record{Receiver: receiverEmail, Status: 250, Envelope: &envelope, Payload: payload})
	s.catcher.logs.received(kept, "queued")
	return nil
}

func (s *smtpSession) Reset() { s.envelope = envelopeInfo{} }

func (s *smtpSession) Logout() error { return nil }

// parseMail decodes a message: RFC 2047 words in headers, and the text/plain and text/html parts
// of a (possibly nested) multipart body in quoted-printable or base64.
func parseMail(data []byte) (*parsedMail, error) {
	message, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	decoder := mime.WordDecoder{}
	headers := map[string][]string{}
	for name, values := range message.Header {
		for _, value := range values {
			decoded, err := decoder.DecodeHeader(value)
			if err != nil {
				decoded = value
			}
			headers[name] = append(headers[name], decoded)
		}
	}
	parsed := &parsedMail{Headers: headers, To: []string{}}
	parsed.Subject = first(headers["Subject"])
	parsed.From = first(headers["From"])
	if addresses, err := message.Header.AddressList("To"); err == nil {
		for _, address := range addresses {
			parsed.To = append(parsed.To, address.Address)
		}
	}
	if err := readBody(parsed, message.Header.Get("Content-Type"), message.Header.Get("Content-Transfer-Encoding"),
		message.Body); err != nil {
		return nil, err
	}
	return parsed, nil
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

func readBody(into *parsedMail, contentType, encoding string, body io.Reader) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		reader := multipart.NewReader(body, params["boundary"])
		for {
			part, err := reader.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart body: %w", err)
			}
			if err := readBody(into, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"),
				part); err != nil {
				return err
			}
		}
	}
	decoded, err := io.ReadAll(transferDecoder(encoding, body))
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	switch mediaType {
	case "text/html":
		into.HTML += string(decoded)
	case "text/plain":
		into.Text += string(decoded)
	}
	return nil
}

func transferDecoder(encoding string, body io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	default:
		return body
	}
}

// newlineStripper drops the line breaks of a base64 body.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	count, err := n.r.Read(p)
	kept := 0
	for _, b := range p[:count] {
		if b != '\r' && b != '\n' {
			p[kept] = b
			kept++
		}
	}
	return kept, err
}

// newSMTPServer serves SMTP with STARTTLS (a certificate made at start for hosts, unless tls is
// nil) and AUTH PLAIN, also before TLS (AllowInsecureAuth), as a catcher should take any mail.
func newSMTPServer(c *catcher, tlsConfig *tls.Config) *smtp.Server {
	server := smtp.NewServer(&smtpBackend{catcher: c})
	server.Domain = "catcher"
	server.MaxMessageBytes = maxMessageBytes
	server.MaxRecipients = 100
	server.AllowInsecureAuth = true
	server.ReadTimeout = time.Minute
	server.WriteTimeout = time.Minute
	server.TLSConfig = tlsConfig
	return server
}

// selfSignedTLS makes a certificate for the given host names and addresses, valid for a year.
// Clients must be told to trust it (Alertmanager: tls_config.insecure_skip_verify or ca_file).
func selfSignedTLS(hosts []string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, fmt.Errorf("TLS serial: %w", err)
	}
	template := x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "stackscope catcher"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, host := range hosts {
		if ip := net.ParseIP(host); ip != nil {
			template.IPAddresses = append(template.IPAddresses, ip)
		} else if host != "" {
			template.DNSNames = append(template.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, &template, &template, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}, nil
}
