// standin: one small service that behaves like any of the five MachineAvatars services of the
// observability document (gateway, auth-service, response-3d, response-text, llm-service): it
// answers /health and /ready with the document's JSON shapes, exports the RED metrics with
// classic buckets at the SLO thresholds and native buckets, sends itself steady traffic, traces
// every request over OTLP with the trace ids as exemplars, writes the document's JSON log lines,
// and takes its error rate, latency and readiness from `POST /control`.
//
// Every flag has an environment variable: --error-rate is STANDIN_ERROR_RATE, and so on. Tracing
// reads the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318).
// It writes nothing to disk.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// version is the source hash tools/build-tools.sh stamps in.
var version = "dev"

type options struct {
	service        string
	listen         string
	healthListen   string
	serviceVersion string
	downstream     string
	initial        settings
	printVersion   bool
}

func parseOptions(args []string) (options, error) {
	var o options
	flags := flag.NewFlagSet("standin", flag.ContinueOnError)
	flags.StringVar(&o.service, "service", "", "the service to stand in for: "+strings.Join(serviceNames(), ", "))
	flags.StringVar(&o.listen, "listen", "", "address of the service, /metrics and /control (default :<the service's port>)")
	flags.StringVar(&o.healthListen, "health-listen", "", "an extra address serving only /health and /ready")
	flags.StringVar(&o.serviceVersion, "service-version", "", "version /health reports (default: the service's)")
	flags.StringVar(&o.downstream, "downstream", "", "comma-separated URLs every request also calls, with its trace context")
	flags.Float64Var(&o.initial.ErrorRate, "error-rate", 0, "share of requests that fail, 0 to 1")
	flags.StringVar(&o.initial.Latency, "latency", "0s", "latency added to every request")
	flags.Float64Var(&o.initial.TrafficRate, "traffic-rate", 2, "requests per second the stand-in sends itself (0: none)")
	flags.BoolVar(&o.printVersion, "version", false, "print the version and exit")
	if err := flags.Parse(args); err != nil {
		return o, err
	}
	if flags.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(flags.Args(), " "))
	}
	// Flags not given on the command line come from STANDIN_<NAME> when set.
	given := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	flags.VisitAll(func(f *flag.Flag) {
		variable := "STANDIN_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if value, ok := os.LookupEnv(variable); ok && !given[f.Name] && err == nil {
			if setErr := f.Value.Set(value); setErr != nil {
				err = fmt.Errorf("%s=%q: %w", variable, value, setErr)
			}
		}
	})
	o.initial.Ready, o.initial.Healthy = true, true
	return o, err
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fatal(o.service, err)
	}
	if o.printVersion {
		fmt.Printf("standin %s\n", version)
		return
	}
	if err := run(o); err != nil {
		fatal(o.service, err)
	}
}

func fatal(service string, err error) {
	newLogger(os.Stdout, service).write(logLine{Level: "FATAL", Message: "Cannot start service: " + err.Error()})
	os.Exit(1)
}

func run(o options) error {
	p, err := lookupProfile(o.service)
	if err != nil {
		return err
	}
	serviceVersion := o.serviceVersion
	if serviceVersion == "" {
		serviceVersion = p.version
	}
	listen := o.listen
	if listen == "" {
		listen = fmt.Sprintf(":%d", p.port)
	}
	var downstream []string
	for _, target := range strings.Split(o.downstream, ",") {
		if target = strings.TrimSpace(target); target == "" {
			continue
		}
		if parsed, err := url.Parse(target); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return fmt.Errorf("--downstream: %q is not an http(s) URL", target)
		}
		downstream = append(downstream, target)
	}
	c, err := newControl(o.initial)
	if err != nil {
		return fmt.Errorf("initial settings: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	provider, exporting, err := setupTracing(ctx, p, serviceVersion)
	if err != nil {
		return err
	}
	logs := newLogger(os.Stdout, p.name)
	s := &server{
		profile: p, version: serviceVersion, control: c, metrics: newMetrics(p), logs: logs,
		tracer:     provider.Tracer("stackscope.local/tools/standins/standin"),
		downstream: downstream,
		client:     &http.Client{Timeout: 10 * time.Second},
	}

	listener, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", listen, err)
	}
	servers := []*http.Server{{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}}
	listeners := []net.Listener{listener}
	if o.healthListen != "" {
		probes, err := net.Listen("tcp", o.healthListen)
		if err != nil {
			return fmt.Errorf("--health-listen %s: %w", o.healthListen, err)
		}
		mux := http.NewServeMux()
		s.probeRoutes(mux)
		servers = append(servers, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, probes)
	}
	failed := make(chan error, len(servers))
	for i := range servers {
		go func() {
			if err := servers[i].Serve(listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				failed <- err
			}
		}()
	}
	addresses := make([]string, len(listeners))
	for i, l := range listeners {
		addresses[i] = l.Addr().String()
	}
	logs.write(logLine{Level: "INFO", Message: fmt.Sprintf(
		"Service started: %s %s on %s, %s %s, traces exported: %v",
		p.name, serviceVersion, strings.Join(addresses, " and "), p.method, p.endpoint, exporting)})

	trafficCtx, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	go newTraffic(selfURL(listener.Addr(), p.endpoint), c, logs).run(trafficCtx)

	select {
	case <-ctx.Done():
	case err = <-failed:
	}
	stopTraffic()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdown)
	}
	// Flush the spans still batched.
	_ = provider.Shutdown(shutdown)
	if err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	logs.write(logLine{Level: "INFO", Message: "Service stopped"})
	return nil
}

// selfURL: the endpoint through the stand-in's own listener (loopback when it listens on every
// interface).
func selfURL(address net.Addr, endpoint string) string {
	tcp, ok := address.(*net.TCPAddr)
	if !ok {
		return "http://" + address.String() + endpoint
	}
	host := tcp.IP
	if host.IsUnspecified() {
		// Go listens on both IPv4 and IPv6 for an unspecified address.
		host = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(host.String(), fmt.Sprint(tcp.Port)) + endpoint
}
