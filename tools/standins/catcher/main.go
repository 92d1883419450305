// catcher: the receivers of the observability document's alert channels, recording what they get
// for tests. One process serves
//   - Slack incoming webhooks: POST /slack[/…] or /services/… (the path of a hooks.slack.com URL),
//   - PagerDuty's Events API v2: POST /v2/enqueue,
//   - any other webhook (a dead man's switch): POST /webhook/…,
//   - SMTP, with STARTTLS (a self-signed certificate made at start) and AUTH PLAIN,
//
// and lists what arrived as JSON: GET /received?receiver=slack|pagerduty|email|webhook (all without the
// parameter), oldest first; DELETE /received[?receiver=…] forgets it. Everything stays in
// memory; nothing is written to disk. Flags have CATCHER_<NAME> environment variables.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// version is the source hash tools/build-tools.sh stamps in.
var version = "dev"

type options struct {
	listen       string
	smtpListen   string
	starttls     bool
	tlsHosts     string
	limit        int
	printVersion bool
}

func parseOptions(args []string) (options, error) {
	var o options
	flags := flag.NewFlagSet("catcher", flag.ContinueOnError)
	flags.StringVar(&o.listen, "listen", ":8080", "HTTP address: the Slack and PagerDuty receivers and /received")
	flags.StringVar(&o.smtpListen, "smtp-listen", ":2525", "SMTP address")
	flags.BoolVar(&o.starttls, "smtp-starttls", true, "offer STARTTLS with a self-signed certificate")
	flags.StringVar(&o.tlsHosts, "smtp-tls-hosts", "localhost,127.0.0.1,catcher",
		"comma-separated names and addresses the certificate is made for")
	flags.IntVar(&o.limit, "limit", 10000, "records kept (the oldest are forgotten first)")
	flags.BoolVar(&o.printVersion, "version", false, "print the version and exit")
	if err := flags.Parse(args); err != nil {
		return o, err
	}
	if flags.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(flags.Args(), " "))
	}
	given := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	flags.VisitAll(func(f *flag.Flag) {
		variable := "CATCHER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if value, ok := os.LookupEnv(variable); ok && !given[f.Name] && err == nil {
			if setErr := f.Value.Set(value); setErr != nil {
				err = fmt.Errorf("%s=%q: %w", variable, value, setErr)
			}
		}
	})
	if err == nil && o.limit < 1 {
		err = fmt.Errorf("--limit: must be at least 1, got %d", o.limit)
	}
	return o, err
}

func main() {
	logs := &logger{out: json.NewEncoder(os.Stdout)}
	o, err := parseOptions(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err == nil && o.printVersion {
		fmt.Printf("catcher %s\n", version)
		return
	}
	if err == nil {
		err = run(o, logs)
	}
	if err != nil {
		logs.write("FATAL", err.Error(), nil)
		os.Exit(1)
	}
}

func run(o options, logs *logger) error {
	c := &catcher{store: newStore(o.limit), logs: logs}
	var tlsConfig *tls.Config
	if o.starttls {
		var err error
		if tlsConfig, err = selfSignedTLS(strings.Split(o.tlsHosts, ",")); err != nil {
			return err
		}
	}
	httpListener, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", o.listen, err)
	}
	smtpListener, err := net.Listen("tcp", o.smtpListen)
	if err != nil {
		return fmt.Errorf("--smtp-listen %s: %w", o.smtpListen, err)
	}
	web := &http.Server{Handler: c.routes(), ReadHeaderTimeout: 10 * time.Second}
	mail := newSMTPServer(c, tlsConfig)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed := make(chan error, 2)
	go func() {
		if err := web.Serve(httpListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("HTTP: %w", err)
		}
	}()
	go func() {
		if err := mail.Serve(smtpListener); err != nil && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
			failed <- fmt.Errorf("SMTP: %w", err)
		}
	}()
	logs.write("INFO", fmt.Sprintf("catcher %s: HTTP on %s (Slack /slack, PagerDuty /v2/enqueue, /received), SMTP on %s (STARTTLS %v)",
		version, httpListener.Addr(), smtpListener.Addr(), o.starttls), nil)
	select {
	case <-ctx.Done():
	case err = <-failed:
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = web.Shutdown(shutdown)
	_ = mail.Close()
	return err
}

// logger writes JSON lines: one per message received, and the catcher's own events.
type logger struct {
	mu  sync.Mutex
	out *json.Encoder
}

func (l *logger) write(level, message string, fields map[string]any) {
	line := map[string]any{"timestamp": time.Now().UTC().Format(time.RFC3339Nano), "level": level, "message": message}
	for name, value := range fields {
		line[name] = value
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.out.Encode(line)
}

func (l *logger) received(r record, answer string) {
	l.write("INFO", "received", map[string]any{
		"receiver": r.Receiver, "sequence": r.Sequence, "status": r.Status, "answer": answer,
	})
}
