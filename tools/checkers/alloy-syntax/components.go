package main

// The argument blocks of the Alloy components stackscope renders, as Alloy v1.11.3 declares them
// (internal/component/local/file_match, loki/source/file, loki/process with its stages and
// metrics, loki/write, and common/config's HTTP client settings): every attribute and block name,
// whether it is required, and its Go type, which the syntax decoder checks values against.
//
// These are stackscope's model of those structs, not Alloy's own: the github.com/grafana/alloy
// module is not available from the Go module proxy (only its syntax module is), and it would pull
// in the whole collector. Unknown attributes and blocks are rejected by the decoder exactly as
// Alloy rejects them; what Alloy checks beyond names and types (its Validate methods) is not
// repeated here, except where a wrong value would silently change behaviour (see validate).

import (
	"fmt"
	"regexp"
	"time"

	"github.com/grafana/alloy/syntax/alloytypes"
)

// logsReceiver stands for loki.LogsReceiver, the capsule a `receiver` export carries.
type logsReceiver struct{ component string }

// AlloyCapsule marks logsReceiver as an opaque value, as Alloy's LogsReceiver is.
func (logsReceiver) AlloyCapsule() {}

// target stands for discovery.Target: an object of label names to values.
type target = map[string]string

// base2Bytes stands for units.Base2Bytes: a size such as "1MiB" or "512KB" (powers of 1024).
type base2Bytes string

var base2BytesPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB|PB|PiB|EB|EiB)?$`)

// UnmarshalText accepts what units.ParseBase2Bytes accepts.
func (size *base2Bytes) UnmarshalText(text []byte) error {
	if !base2BytesPattern.Match(text) {
		return fmt.Errorf("%q is not a size such as 1MiB", text)
	}
	*size = base2Bytes(text)
	return nil
}

// tlsVersion stands for config.TLSVersion.
type tlsVersion string

// UnmarshalText accepts the names Alloy accepts.
func (version *tlsVersion) UnmarshalText(text []byte) error {
	switch string(text) {
	case "TLS10", "TLS11", "TLS12", "TLS13":
		*version = tlsVersion(text)
		return nil
	}
	return fmt.Errorf("unknown TLS version %q (TLS10, TLS11, TLS12 or TLS13)", text)
}

// ---------------------------------------------------------------------------------------------
// local.file_match
// ---------------------------------------------------------------------------------------------

type fileMatchArguments struct {
	PathTargets     []target      `alloy:"path_targets,attr"`
	SyncPeriod      time.Duration `alloy:"sync_period,attr,optional"`
	IgnoreOlderThan time.Duration `alloy:"ignore_older_than,attr,optional"`
}

// ---------------------------------------------------------------------------------------------
// loki.source.file
// ---------------------------------------------------------------------------------------------

type sourceFileArguments struct {
	Targets             []target           `alloy:"targets,attr"`
	ForwardTo           []logsReceiver     `alloy:"forward_to,attr"`
	Encoding            string             `alloy:"encoding,attr,optional"`
	DecompressionConfig decompressionBlock `alloy:"decompression,block,optional"`
	FileWatch           fileWatchBlock     `alloy:"file_watch,block,optional"`
	TailFromEnd         bool               `alloy:"tail_from_end,attr,optional"`
	LegacyPositionsFile string             `alloy:"legacy_positions_file,attr,optional"`
}

type fileWatchBlock struct {
	MinPollFrequency time.Duration `alloy:"min_poll_frequency,attr,optional"`
	MaxPollFrequency time.Duration `alloy:"max_poll_frequency,attr,optional"`
}

type decompressionBlock struct {
	Enabled      bool          `alloy:"enabled,attr"`
	InitialDelay time.Duration `alloy:"initial_delay,attr,optional"`
	Format       string        `alloy:"format,attr"`
}

// ---------------------------------------------------------------------------------------------
// loki.process and its stages
// ---------------------------------------------------------------------------------------------

type processArguments struct {
	ForwardTo []logsReceiver `alloy:"forward_to,attr"`
	Stages    []stageBlock   `alloy:"stage,enum,optional"`
}

// stageBlock is one `stage.<type>` block: exactly one field is set.
type stageBlock struct {
	CRI                *criStage             `alloy:"cri,block,optional"`
	Decolorize         *emptyStage           `alloy:"decolorize,block,optional"`
	Docker             *emptyStage           `alloy:"docker,block,optional"`
	Drop               *dropStage            `alloy:"drop,block,optional"`
	EventLogMessage    *eventLogMessageStage `alloy:"eventlogmessage,block,optional"`
	GeoIP              *geoIPStage           `alloy:"geoip,block,optional"`
	JSON               *jsonStage            `alloy:"json,block,optional"`
	LabelKeep          *labelListStage       `alloy:"label_keep,block,optional"`
	LabelDrop          *labelListStage       `alloy:"label_drop,block,optional"`
	Labels             *labelsStage          `alloy:"labels,block,optional"`
	Limit              *limitStage           `alloy:"limit,block,optional"`
	Logfmt             *logfmtStage          `alloy:"logfmt,block,optional"`
	Luhn               *luhnStage            `alloy:"luhn,block,optional"`
	Match              *matchStage           `alloy:"match,block,optional"`
	Metrics            *metricsStage         `alloy:"metrics,block,optional"`
	Multiline          *multilineStage       `alloy:"multiline,block,optional"`
	Output             *outputStage          `alloy:"output,block,optional"`
	Pack               *packStage            `alloy:"pack,block,optional"`
	Pattern            *patternStage         `alloy:"pattern,block,optional"`
	Regex              *regexStage           `alloy:"regex,block,optional"`
	Replace            *replaceStage         `alloy:"replace,block,optional"`
	StaticLabels       *labelsStage          `alloy:"static_labels,block,optional"`
	StructuredMetadata *labelsStage          `alloy:"structured_metadata,block,optional"`
	Sampling           *samplingStage        `alloy:"sampling,block,optional"`
	Template           *templateStage        `alloy:"template,block,optional"`
	Tenant             *tenantStage          `alloy:"tenant,block,optional"`
	Timestamp          *timestampStage       `alloy:"timestamp,block,optional"`
	WindowsEvent       *eventLogMessageStage `alloy:"windowsevent,block,optional"`
}

type emptyStage struct{}

type criStage struct {
	MaxPartialLines            int    `alloy:"max_partial_lines,attr,optional"`
	MaxPartialLineSize         uint64 `alloy:"max_partial_line_size,attr,optional"`
	MaxPartialLineSizeTruncate bool   `alloy:"max_partial_line_size_truncate,attr,optional"`
}

type dropStage struct {
	DropReason string        `alloy:"drop_counter_reason,attr,optional"`
	Source     string        `alloy:"source,attr,optional"`
	Value      string        `alloy:"value,attr,optional"`
	Separator  string        `alloy:"separator,attr,optional"`
	Expression string        `alloy:"expression,attr,optional"`
	OlderThan  time.Duration `alloy:"older_than,attr,optional"`
	LongerThan base2Bytes    `alloy:"longer_than,attr,optional"`
}

type eventLogMessageStage struct {
	Source            string `alloy:"source,attr,optional"`
	DropInvalidLabels bool   `alloy:"drop_invalid_labels,attr,optional"`
	OverwriteExisting bool   `alloy:"overwrite_existing,attr,optional"`
}

type geoIPStage struct {
	DB            string            `alloy:"db,attr"`
	Source        *string           `alloy:"source,attr"`
	DBType        string            `alloy:"db_type,attr,optional"`
	CustomLookups map[string]string `alloy:"custom_lookups,attr,optional"`
}

type jsonStage struct {
	Expressions   map[string]string `alloy:"expressions,attr"`
	Source        *string           `alloy:"source,attr,optional"`
	DropMalformed bool              `alloy:"drop_malformed,attr,optional"`
}

type labelListStage struct {
	Values []string `alloy:"values,attr"`
}

type labelsStage struct {
	Values map[string]*string `alloy:"values,attr"`
}

type limitStage struct {
	Rate              float64 `alloy:"rate,attr"`
	Burst             int     `alloy:"burst,attr"`
	Drop              bool    `alloy:"drop,attr,optional"`
	ByLabelName       string  `alloy:"by_label_name,attr,optional"`
	MaxDistinctLabels int     `alloy:"max_distinct_labels,attr,optional"`
}

type logfmtStage struct {
	Mapping map[string]string `alloy:"mapping,attr"`
	Source  string            `alloy:"source,attr,optional"`
}

type luhnStage struct {
	Replacement string  `alloy:"replacement,attr,optional"`
	Source      *string `alloy:"source,attr,optional"`
	MinLength   int     `alloy:"min_length,attr,optional"`
}

type matchStage struct {
	Selector     string       `alloy:"selector,attr"`
	Stages       []stageBlock `alloy:"stage,enum,optional"`
	Action       string       `alloy:"action,attr,optional"`
	PipelineName string       `alloy:"pipeline_name,attr,optional"`
	DropReason   string       `alloy:"drop_counter_reason,attr,optional"`
}

type metricsStage struct {
	Metrics []metricBlock `alloy:"metric,enum,optional"`
}

type metricBlock struct {
	Counter   *counterMetric   `alloy:"counter,block,optional"`
	Gauge     *gaugeMetric     `alloy:"gauge,block,optional"`
	Histogram *histogramMetric `alloy:"histogram,block,optional"`
}

type MetricCommon struct {
	Name        string        `alloy:"name,attr"`
	Description string        `alloy:"description,attr,optional"`
	Source      string        `alloy:"source,attr,optional"`
	Prefix      string        `alloy:"prefix,attr,optional"`
	MaxIdle     time.Duration `alloy:"max_idle_duration,attr,optional"`
	Value       string        `alloy:"value,attr,optional"`
}

type counterMetric struct {
	MetricCommon    `alloy:",squash"`
	Action          string `alloy:"action,attr"`
	MatchAll        bool   `alloy:"match_all,attr,optional"`
	CountEntryBytes bool   `alloy:"count_entry_bytes,attr,optional"`
}

type gaugeMetric struct {
	MetricCommon `alloy:",squash"`
	Action       string `alloy:"action,attr"`
}

type histogramMetric struct {
	MetricCommon `alloy:",squash"`
	Buckets      []float64 `alloy:"buckets,attr"`
}

type multilineStage struct {
	Expression  string        `alloy:"firstline,attr"`
	MaxLines    uint64        `alloy:"max_lines,attr,optional"`
	MaxWaitTime time.Duration `alloy:"max_wait_time,attr,optional"`
}

type outputStage struct {
	Source string `alloy:"source,attr"`
}

type packStage struct {
	Labels          []string `alloy:"labels,attr"`
	IngestTimestamp bool     `alloy:"ingest_timestamp,attr,optional"`
}

type patternStage struct {
	Pattern          string  `alloy:"pattern,attr"`
	Source           *string `alloy:"source,attr,optional"`
	LabelsFromGroups bool    `alloy:"labels_from_groups,attr,optional"`
}

type regexStage struct {
	Expression       string  `alloy:"expression,attr"`
	Source           *string `alloy:"source,attr,optional"`
	LabelsFromGroups bool    `alloy:"labels_from_groups,attr,optional"`
}

type replaceStage struct {
	Expression string `alloy:"expression,attr"`
	Source     string `alloy:"source,attr,optional"`
	Replace    string `alloy:"replace,attr,optional"`
}

type samplingStage struct {
	DropReason   string  `alloy:"drop_counter_reason,attr,optional"`
	SamplingRate float64 `alloy:"rate,attr"`
}

type templateStage struct {
	Source   string `alloy:"source,attr"`
	Template string `alloy:"template,attr"`
}

type tenantStage struct {
	Label  string `alloy:"label,attr,optional"`
	Source string `alloy:"source,attr,optional"`
	Value  string `alloy:"value,attr,optional"`
}

type timestampStage struct {
	Source          string   `alloy:"source,attr"`
	Format          string   `alloy:"format,attr"`
	FallbackFormats []string `alloy:"fallback_formats,attr,optional"`
	Location        *string  `alloy:"location,attr,optional"`
	ActionOnFailure string   `alloy:"action_on_failure,attr,optional"`
}

// ---------------------------------------------------------------------------------------------
// loki.write
// ---------------------------------------------------------------------------------------------

type writeArguments struct {
	Endpoints      []endpointBlock   `alloy:"endpoint,block,optional"`
	ExternalLabels map[string]string `alloy:"external_labels,attr,optional"`
	MaxStreams     int               `alloy:"max_streams,attr,optional"`
	WAL            walBlock          `alloy:"wal,block,optional"`
}

type endpointBlock struct {
	Name              string            `alloy:"name,attr,optional"`
	URL               string            `alloy:"url,attr"`
	BatchWait         time.Duration     `alloy:"batch_wait,attr,optional"`
	BatchSize         base2Bytes        `alloy:"batch_size,attr,optional"`
	RemoteTimeout     time.Duration     `alloy:"remote_timeout,attr,optional"`
	Headers           map[string]string `alloy:"headers,attr,optional"`
	MinBackoff        time.Duration     `alloy:"min_backoff_period,attr,optional"`
	MaxBackoff        time.Duration     `alloy:"max_backoff_period,attr,optional"`
	MaxBackoffRetries int               `alloy:"max_backoff_retries,attr,optional"`
	TenantID          string            `alloy:"tenant_id,attr,optional"`
	RetryOnHTTP429    bool              `alloy:"retry_on_http_429,attr,optional"`
	HTTPClientConfig  httpClientConfig  `alloy:",squash"`
	QueueConfig       queueBlock        `alloy:"queue_config,block,optional"`
}

type queueBlock struct {
	Capacity     base2Bytes    `alloy:"capacity,attr,optional"`
	DrainTimeout time.Duration `alloy:"drain_timeout,attr,optional"`
}

type walBlock struct {
	Enabled          bool          `alloy:"enabled,attr,optional"`
	MaxSegmentAge    time.Duration `alloy:"max_segment_age,attr,optional"`
	MinReadFrequency time.Duration `alloy:"min_read_frequency,attr,optional"`
	MaxReadFrequency time.Duration `alloy:"max_read_frequency,attr,optional"`
	DrainTimeout     time.Duration `alloy:"drain_timeout,attr,optional"`
}

// httpClientConfig is common/config's HTTPClientConfig, squashed into the endpoint block.
type httpClientConfig struct {
	BasicAuth       *basicAuthBlock                `alloy:"basic_auth,block,optional"`
	Authorization   *authorizationBlock            `alloy:"authorization,block,optional"`
	OAuth2          *oauth2Block                   `alloy:"oauth2,block,optional"`
	BearerToken     alloytypes.Secret              `alloy:"bearer_token,attr,optional"`
	BearerTokenFile string                         `alloy:"bearer_token_file,attr,optional"`
	Proxy           proxyConfig                    `alloy:",squash"`
	TLSConfig       tlsBlock                       `alloy:"tls_config,block,optional"`
	FollowRedirects bool                           `alloy:"follow_redirects,attr,optional"`
	EnableHTTP2     bool                           `alloy:"enable_http2,attr,optional"`
	HTTPHeaders     map[string][]alloytypes.Secret `alloy:"http_headers,attr,optional"`
}

type basicAuthBlock struct {
	Username     string            `alloy:"username,attr,optional"`
	Password     alloytypes.Secret `alloy:"password,attr,optional"`
	PasswordFile string            `alloy:"password_file,attr,optional"`
}

type authorizationBlock struct {
	Type            string            `alloy:"type,attr,optional"`
	Credentials     alloytypes.Secret `alloy:"credentials,attr,optional"`
	CredentialsFile string            `alloy:"credentials_file,attr,optional"`
}

type proxyConfig struct {
	ProxyURL             string                         `alloy:"proxy_url,attr,optional"`
	NoProxy              string                         `alloy:"no_proxy,attr,optional"`
	ProxyFromEnvironment bool                           `alloy:"proxy_from_environment,attr,optional"`
	ProxyConnectHeader   map[string][]alloytypes.Secret `alloy:"proxy_connect_header,attr,optional"`
}

type tlsBlock struct {
	CA                 string            `alloy:"ca_pem,attr,optional"`
	CAFile             string            `alloy:"ca_file,attr,optional"`
	Cert               string            `alloy:"cert_pem,attr,optional"`
	CertFile           string            `alloy:"cert_file,attr,optional"`
	Key                alloytypes.Secret `alloy:"key_pem,attr,optional"`
	KeyFile            string            `alloy:"key_file,attr,optional"`
	ServerName         string            `alloy:"server_name,attr,optional"`
	InsecureSkipVerify bool              `alloy:"insecure_skip_verify,attr,optional"`
	MinVersion         tlsVersion        `alloy:"min_version,attr,optional"`
}

type oauth2Block struct {
	ClientID         string            `alloy:"client_id,attr,optional"`
	ClientSecret     alloytypes.Secret `alloy:"client_secret,attr,optional"`
	ClientSecretFile string            `alloy:"client_secret_file,attr,optional"`
	Scopes           []string          `alloy:"scopes,attr,optional"`
	TokenURL         string            `alloy:"token_url,attr,optional"`
	EndpointParams   map[string]string `alloy:"endpoint_params,attr,optional"`
	Proxy            proxyConfig       `alloy:",squash"`
	TLSConfig        *tlsBlock         `alloy:"tls_config,block,optional"`
}

// ---------------------------------------------------------------------------------------------
// The registry: component name -> a fresh Arguments value, and the exports other components
// may reference (`<name>.<label>.<export>`).
// ---------------------------------------------------------------------------------------------

type componentModel struct {
	arguments func() any
	exports   func(name string) map[string]any
}

var components = map[string]componentModel{
	"local.file_match": {
		arguments: func() any { return &fileMatchArguments{} },
		exports:   func(string) map[string]any { return map[string]any{"targets": []target{}} },
	},
	"loki.source.file": {
		arguments: func() any { return &sourceFileArguments{} },
		exports:   func(string) map[string]any { return map[string]any{} },
	},
	"loki.process": {
		arguments: func() any { return &processArguments{} },
		exports:   func(name string) map[string]any { return map[string]any{"receiver": logsReceiver{name}} },
	},
	"loki.write": {
		arguments: func() any { return &writeArguments{} },
		exports:   func(name string) map[string]any { return map[string]any{"receiver": logsReceiver{name}} },
	},
}

// matchActions are the actions of stage.match (Alloy refuses others when it builds the stage).
var matchActions = map[string]bool{"": true, "keep": true, "drop": true}

// validate repeats the checks of Alloy's stage constructors that a wrong value would otherwise
// only fail at start-up with.
func validate(arguments any) error {
	process, ok := arguments.(*processArguments)
	if !ok {
		return nil
	}
	return validateStages(process.Stages)
}

func validateStages(stages []stageBlock) error {
	for _, stage := range stages {
		if stage.Match != nil {
			action := stage.Match.Action
			if !matchActions[action] {
				return fmt.Errorf("stage.match: action %q is neither keep nor drop", action)
			}
			if action != "drop" && len(stage.Match.Stages) == 0 {
				return fmt.Errorf("stage.match: action keep needs nested stages")
			}
			if action == "drop" && len(stage.Match.Stages) != 0 {
				return fmt.Errorf("stage.match: action drop takes no nested stages")
			}
			if err := validateStages(stage.Match.Stages); err != nil {
				return err
			}
		}
		if stage.Regex != nil {
			if _, err := regexp.Compile(stage.Regex.Expression); err != nil {
				return fmt.Errorf("stage.regex: expression: %v", err)
			}
		}
	}
	return nil
}
