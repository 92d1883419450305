//! The scrape jobs: one per ServiceMonitor endpoint, generated the way prometheus-operator
//! generates them, one per enabled component of the stack, and the kubelet's; and the
//! configuration file around them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use super::model::{
    Alerting, AlertmanagerConfig, AttachNode, Authorization, BasicAuthFiles, Exemplars, Global, KubernetesSd,
    Namespaces, PrometheusConfig, Relabel, ScrapeConfig, ScrapeOptions, Storage, Text, TlsFiles, labels, owned_label,
};
use super::mounts::Mounts;
use super::thanos::Thanos;
use super::{REPLICA_LABEL, RULES_DIR, SERVICE_ACCOUNT_DIR};
use crate::api::{Endpoint, ExistingExporter, ScrapeProtocol, SecretOrConfigMap, ServiceMonitorSpec, quantity_as_f64};
use crate::render::common::{object_name, regex_literal};
use crate::render::shard::Piece;
use crate::render::{Component, RenderError, ports};
use crate::resolve::{ResolvedMonitor, ResolvedStack};

/// Prometheus-operator's `sanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes `_`.
fn sanitize_label_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

fn invalid(field: String, message: String) -> RenderError {
    RenderError::invalid(Component::Prometheus, field, message)
}

/// Builds the Prometheus configuration and the Secrets/ConfigMaps its jobs read.
pub(crate) fn config(stack: &ResolvedStack) -> Result<(PrometheusConfig<'_>, Mounts<'_>), RenderError> {
    let mut mounts = Mounts::default();
    let endpoint_count: usize = stack.monitors.iter().map(|monitor| monitor.spec.endpoints.len()).sum();
    let mut scrape_configs = Vec::with_capacity(endpoint_count + 12);
    for monitor in &stack.monitors {
        scrape_configs.extend(monitor_jobs(stack, monitor, &mut mounts)?);
    }
    let mut config = base_config(stack, scrape_configs);
    config.scrape_configs.extend(component_jobs(stack)?);
    config.scrape_configs.extend(kubelet_jobs());
    Ok((config, mounts))
}

/// The scrape jobs of one monitor, one per endpoint, with the files they read recorded.
pub(crate) fn monitor_jobs<'a>(
    stack: &'a ResolvedStack,
    monitor: &'a ResolvedMonitor,
    mounts: &mut Mounts<'a>,
) -> Result<Vec<ScrapeConfig<'a>>, RenderError> {
    monitor.endpoints().map(|(index, endpoint)| monitor_job(stack, monitor, index, endpoint, mounts)).collect()
}

/// One monitor's jobs as a shard piece: compact JSON (which is YAML), one job a line, so a
/// shard of thousands of jobs is written at serde_json's speed and stays readable line by line.
pub(crate) fn monitor_piece(stack: &ResolvedStack, monitor: &ResolvedMonitor) -> Result<Piece, RenderError> {
    let mut mounts = Mounts::default();
    let jobs = monitor_jobs(stack, monitor, &mut mounts)?;
    let mut text = String::with_capacity(jobs.len() * 3072);
    for (position, job) in jobs.iter().enumerate() {
        if position > 0 {
            text.push_str(",\n");
        }
        text.push_str(&to_json_line(&job.job_name, job)?);
    }
    Ok(Piece::new(&monitor.key(), text))
}

fn to_json_line<T: Serialize>(what: &str, value: &T) -> Result<String, RenderError> {
    serde_json::to_string(value).map_err(RenderError::serialize(Component::Prometheus, what))
}

/// The configuration around the given scrape jobs: global settings, rule files, alerting.
pub(crate) fn base_config<'a>(stack: &'a ResolvedStack, scrape_configs: Vec<ScrapeConfig<'a>>) -> PrometheusConfig<'a> {
    let prometheus = &stack.spec.metrics.prometheus;
    let mut external_labels: BTreeMap<Text<'_>, Text<'_>> = prometheus
        .external_labels
        .iter()
        // Prometheus expands `$VAR` in external label values; a user's `$` is literal.
        .map(|(name, value)| {
            let value =
                if value.contains('$') { Cow::Owned(value.replace('$', "$$")) } else { Cow::Borrowed(value.as_str()) };
            (Cow::Borrowed(name.as_str()), value)
        })
        .collect();
    external_labels.entry(Cow::Borrowed(REPLICA_LABEL)).or_insert(Cow::Borrowed("${POD_NAME}"));

    let alerting = Component::Alertmanager.enabled(stack).then(|| Alerting {
        alert_relabel_configs: vec![Relabel {
            source_labels: Cow::Borrowed(&[]),
            separator: None,
            target_label: None,
            regex: Some(Cow::Borrowed(REPLICA_LABEL)),
            modulus: None,
            replacement: None,
            action: "labeldrop",
        }],
        alertmanagers: vec![AlertmanagerConfig {
            // EndpointSlices, like the monitor jobs: the v1 Endpoints API is deprecated since
            // Kubernetes 1.33 and the API server answers every list and watch of it with a warning.
            kubernetes_sd_configs: vec![KubernetesSd {
                role: "endpointslice",
                namespaces: Some(Namespaces { names: vec![Cow::Borrowed(stack.namespace.as_str())] }),
                attach_metadata: None,
            }],
            relabel_configs: vec![
                Relabel::keep(
                    labels!["__meta_kubernetes_service_name"],
                    Cow::Owned(regex_literal(&object_name(stack, Component::Alertmanager)).into_owned()),
                ),
                Relabel::keep(labels!["__meta_kubernetes_endpointslice_port_name"], "http"),
            ],
        }],
    });

    PrometheusConfig {
        global: Global {
            scrape_interval: Cow::Borrowed(prometheus.scrape_interval.as_str()),
            scrape_timeout: Cow::Borrowed(prometheus.scrape_timeout.as_str()),
            evaluation_interval: Cow::Borrowed(prometheus.evaluation_interval.as_str()),
            // With native histograms on, a target exposing both forms would otherwise send only
            // the native one, and every rule reading `_bucket` would go silent.
            always_scrape_classic_histograms: prometheus.native_histograms.then_some(true),
            external_labels,
        },
        rule_files: vec![Cow::Owned(format!("{RULES_DIR}/*.yml"))],
        alerting,
        storage: prometheus
            .exemplars
            .enabled
            .then_some(Storage { exemplars: Exemplars { max_exemplars: prometheus.exemplars.max_exemplars } }),
        scrape_config_files: Vec::new(),
        scrape_configs,
    }
}

/// The scrape job of one ServiceMonitor endpoint, as prometheus-operator generates it
/// (`generateServiceMonitorConfig`, EndpointSlice discovery, relabel selector mechanism).
fn monitor_job<'a>(
    stack: &'a ResolvedStack,
    monitor: &'a ResolvedMonitor,
    index: usize,
    endpoint: &'a Endpoint,
    mounts: &mut Mounts<'a>,
) -> Result<ScrapeConfig<'a>, RenderError> {
    let spec = &monitor.spec;
    let field = |name: &str| format!("ServiceMonitor {}: spec.endpoints[{index}].{name}", monitor.key());
    let spec_field = |name: &str| format!("ServiceMonitor {}: spec.{name}", monitor.key());
    let defaults = &stack.spec.metrics.prometheus;

    // Interval and timeout: the endpoint's, else the stack's; a default timeout longer than the
    // endpoint's interval shrinks to it (what Prometheus does when the timeout is unset).
    let interval = endpoint.interval.as_ref().unwrap_or(&defaults.scrape_interval);
    let interval_ms =
        interval.to_millis().ok_or_else(|| invalid(field("interval"), format!("{interval} is not a duration")))?;
    let timeout = match &endpoint.scrape_timeout {
        Some(timeout) => {
            let timeout_ms = timeout
                .to_millis()
                .ok_or_else(|| invalid(field("scrapeTimeout"), format!("{timeout} is not a duration")))?;
            if timeout_ms > interval_ms {
                return Err(invalid(
                    field("scrapeTimeout"),
                    format!("{timeout} exceeds the scrape interval {interval}"),
                ));
            }
            timeout
        }
        None if defaults.scrape_timeout.to_millis().is_none_or(|timeout_ms| timeout_ms > interval_ms) => interval,
        None => &defaults.scrape_timeout,
    };

    // Prometheus runs in the stack's namespace and can only mount Secrets and ConfigMaps there.
    let mount_check = |name: &str, kind: &str, object: &str| {
        if monitor.namespace == stack.namespace {
            Ok(())
        } else {
            Err(invalid(
                field(name),
                format!(
                    "{kind} {object} is in the monitor's namespace {}, but Prometheus can only mount objects of \
                     the stack's namespace {}",
                    monitor.namespace, stack.namespace
                ),
            ))
        }
    };
    let secret_or_config_map =
        |reference: &'a SecretOrConfigMap, name: &str, mounts: &mut Mounts<'a>| -> Result<String, RenderError> {
            match (&reference.secret, &reference.config_map) {
                (Some(secret), None) => {
                    mount_check(&format!("{name}.secret"), "Secret", &secret.name)?;
                    Ok(mounts.secret(secret))
                }
                (None, Some(config_map)) => {
                    mount_check(&format!("{name}.configMap"), "ConfigMap", &config_map.name)?;
                    Ok(mounts.config_map(config_map))
                }
                _ => Err(invalid(field(name), "set exactly one of secret or configMap".to_owned())),
            }
        };

    let tls_config = match &endpoint.tls_config {
        Some(tls) => {
            let mut files = TlsFiles {
                ca_file: tls.ca_file.as_deref().map(Cow::Borrowed),
                server_name: tls.server_name.as_deref().map(Cow::Borrowed),
                insecure_skip_verify: tls.insecure_skip_verify,
                cert_file: tls.cert_file.clone(),
                key_file: tls.key_file.clone(),
                min_version: tls.min_version,
                max_version: tls.max_version,
            };
            if let Some(ca) = &tls.ca {
                files.ca_file = Some(Cow::Owned(secret_or_config_map(ca, "tlsConfig.ca", mounts)?));
            }
            if let Some(cert) = &tls.cert {
                files.cert_file = Some(secret_or_config_map(cert, "tlsConfig.cert", mounts)?);
            }
            if let Some(key) = &tls.key_secret {
                mount_check("tlsConfig.keySecret", "Secret", &key.name)?;
                files.key_file = Some(mounts.secret(key));
            }
            Some(files)
        }
        None => None,
    };
    // The schema admits at most one of these; each becomes Prometheus' `authorization`.
    let authorization = if let Some(token) = &endpoint.bearer_token_secret {
        mount_check("bearerTokenSecret", "Secret", &token.name)?;
        Some(Authorization::bearer(mounts.secret(token)))
    } else if let Some(file) = &endpoint.bearer_token_file {
        Some(Authorization::bearer(file.as_str()))
    } else if let Some(auth) = &endpoint.authorization {
        let credentials_file = match &auth.credentials {
            Some(secret) => {
                mount_check("authorization.credentials", "Secret", &secret.name)?;
                Some(Cow::Owned(mounts.secret(secret)))
            }
            None => None,
        };
        Some(Authorization { kind: Cow::Borrowed(auth.kind.as_deref().unwrap_or("Bearer")), credentials_file })
    } else {
        None
    };
    let basic_auth = match &endpoint.basic_auth {
        Some(basic) => {
            mount_check("basicAuth.username", "Secret", &basic.username.name)?;
            mount_check("basicAuth.password", "Secret", &basic.password.name)?;
            Some(BasicAuthFiles {
                username_file: mounts.secret(&basic.username),
                password_file: mounts.secret(&basic.password),
            })
        }
        None => None,
    };

    let mut relabelings =
        Vec::with_capacity(16 + spec.target_labels.len() + spec.pod_target_labels.len() + endpoint.relabelings.len());
    relabelings.push(Relabel::copy(labels!["job"], "__tmp_prometheus_job_name"));

    // Keep the Services the selector selects.
    relabelings.extend(selector_relabelings(&spec.selector, "service").map_err(|(position, other)| {
        invalid(
            format!("ServiceMonitor {}: spec.selector.matchExpressions[{position}].operator", monitor.key()),
            format!("unknown operator {other:?}: one of In, NotIn, Exists, DoesNotExist"),
        )
    })?);

    // Keep the endpoint's port.
    if let Some(port) = &endpoint.port {
        relabelings.push(Relabel::keep(labels!["__meta_kubernetes_endpointslice_port_name"], regex_literal(port)));
    } else if let Some(target_port) = &endpoint.target_port {
        relabelings.push(match target_port {
            IntOrString::String(name) => {
                Relabel::keep(labels!["__meta_kubernetes_pod_container_port_name"], regex_literal(name))
            }
            IntOrString::Int(number) => {
                Relabel::keep(labels!["__meta_kubernetes_pod_container_port_number"], number.to_string())
            }
        });
    }

    // Target identity: node or pod from the endpoint's target, namespace, service, pod, container.
    for (regex, label) in [("Node;(.*)", "node"), ("Pod;(.*)", "pod")] {
        relabelings.push(Relabel {
            source_labels: labels![
                "__meta_kubernetes_endpointslice_address_target_kind",
                "__meta_kubernetes_endpointslice_address_target_name",
            ],
            separator: Some(Cow::Borrowed(";")),
            target_label: Some(Cow::Borrowed(label)),
            regex: Some(Cow::Borrowed(regex)),
            modulus: None,
            replacement: Some(Cow::Borrowed("${1}")),
            action: "replace",
        });
    }
    relabelings.push(Relabel::copy(labels!["__meta_kubernetes_namespace"], "namespace"));
    relabelings.push(Relabel::copy(labels!["__meta_kubernetes_service_name"], "service"));
    relabelings.push(Relabel::copy(labels!["__meta_kubernetes_pod_name"], "pod"));
    relabelings.push(Relabel::copy(labels!["__meta_kubernetes_pod_container_name"], "container"));
    if endpoint.filter_running != Some(false) {
        relabelings.push(running_pods_only());
    }

    for label in &spec.target_labels {
        let name = sanitize_label_name(label);
        relabelings.push(Relabel::copy_non_empty(owned_label(format!("__meta_kubernetes_service_label_{name}")), name));
    }
    for label in &spec.pod_target_labels {
        let name = sanitize_label_name(label);
        relabelings.push(Relabel::copy_non_empty(owned_label(format!("__meta_kubernetes_pod_label_{name}")), name));
    }

    // `job`: the Service name, overridden by the jobLabel's value where the Service has it.
    relabelings.push(Relabel {
        replacement: Some(Cow::Borrowed("${1}")),
        ..Relabel::copy(labels!["__meta_kubernetes_service_name"], "job")
    });
    if let Some(job_label) = &spec.job_label {
        relabelings.push(Relabel::copy_non_empty(
            owned_label(format!("__meta_kubernetes_service_label_{}", sanitize_label_name(job_label))),
            "job",
        ));
    }

    // `endpoint`: the port name, else the target port.
    if let Some(port) = &endpoint.port {
        relabelings.push(Relabel::set("endpoint", port.as_str()));
    } else if let Some(target_port) = &endpoint.target_port {
        relabelings.push(Relabel::set(
            "endpoint",
            match target_port {
                IntOrString::String(name) => Cow::Borrowed(name.as_str()),
                IntOrString::Int(number) => Cow::Owned(number.to_string()),
            },
        ));
    }

    // Targets of a database: the `database` label DatabaseDown selects them by.
    if let Some(database) = &spec.database {
        relabelings.push(Relabel::set(DATABASE_LABEL, database.system.as_str()));
    }

    // The user's relabelings come last, so they can rewrite anything generated above.
    relabelings.extend(endpoint.relabelings.iter().map(Relabel::from_spec));

    let mut job = ScrapeConfig::new(
        monitor.job_name(index),
        KubernetesSd {
            role: "endpointslice",
            namespaces: monitor
                .service_namespaces()
                .map(|names| Namespaces { names: names.into_iter().map(Cow::Owned).collect() }),
            attach_metadata: spec
                .attach_metadata
                .and_then(|metadata| metadata.node)
                .filter(|node| *node)
                .map(|node| AttachNode { node }),
        },
        relabelings,
    );
    job.honor_labels = endpoint.honor_labels;
    job.honor_timestamps = endpoint.honor_timestamps;
    job.scrape_interval = Some(Cow::Borrowed(interval.as_str()));
    job.scrape_timeout = Some(Cow::Borrowed(timeout.as_str()));
    job.metrics_path = endpoint.path.as_deref().map(Cow::Borrowed);
    job.scheme = endpoint.scheme.map(|scheme| scheme.as_str());
    job.params = (!endpoint.params.is_empty()).then_some(&endpoint.params);
    job.follow_redirects = endpoint.follow_redirects;
    job.tls_config = tls_config;
    job.authorization = authorization;
    job.basic_auth = basic_auth;
    job.metric_relabel_configs = endpoint.metric_relabelings.iter().map(Relabel::from_spec).collect();
    job.sample_limit = spec.sample_limit;
    job.target_limit = spec.target_limit;
    job.options = options(spec, endpoint).map_err(|(name, message)| invalid(spec_field(name), message))?;
    Ok(job)
}

/// The monitor's and the endpoint's settings written under Prometheus' keys; the error names the
/// spec field (from `spec`) that Prometheus could not take.
fn options<'a>(
    spec: &'a ServiceMonitorSpec,
    endpoint: &'a Endpoint,
) -> Result<ScrapeOptions<'a>, (&'static str, String)> {
    let min_bucket_factor = match &spec.native_histogram_min_bucket_factor {
        Some(quantity) => Some(
            quantity_as_f64(quantity)
                .ok_or_else(|| ("nativeHistogramMinBucketFactor", format!("{quantity:?} is not a decimal number")))?,
        ),
        None => None,
    };
    Ok(ScrapeOptions {
        proxy_url: endpoint.proxy.proxy_url.as_deref().map(Cow::Borrowed),
        no_proxy: endpoint.proxy.no_proxy.as_deref().map(Cow::Borrowed),
        proxy_from_environment: endpoint.proxy.proxy_from_environment,
        enable_http2: endpoint.enable_http2,
        track_timestamps_staleness: endpoint.track_timestamps_staleness,
        scrape_protocols: spec.scrape_protocols.iter().map(|protocol| protocol.as_str()).collect(),
        fallback_scrape_protocol: spec.fallback_scrape_protocol.map(ScrapeProtocol::as_str),
        always_scrape_classic_histograms: spec.scrape_classic_histograms,
        native_histogram_bucket_limit: spec.native_histogram_bucket_limit,
        native_histogram_min_bucket_factor: min_bucket_factor,
        convert_classic_histograms_to_nhcb: spec.convert_classic_histograms_to_nhcb,
        body_size_limit: spec.body_size_limit.as_deref().map(Cow::Borrowed),
        label_limit: spec.label_limit,
        label_name_length_limit: spec.label_name_length_limit,
        label_value_length_limit: spec.label_value_length_limit,
        keep_dropped_targets: spec.keep_dropped_targets,
    })
}

/// Label put on every target of a ServiceMonitor marked as a database (`spec.database.system`).
pub(crate) const DATABASE_LABEL: &str = "database";

/// Keep and drop steps selecting the targets whose Service (`kind` `service`) or pod (`pod`)
/// labels match a label selector, as prometheus-operator writes them; the error is the position
/// and the operator of a match expression with an unknown operator.
fn selector_relabelings<'a>(
    selector: &'a LabelSelector,
    kind: &'static str,
) -> Result<Vec<Relabel<'a>>, (usize, &'a str)> {
    let label_sources = |key: &str| {
        let key = sanitize_label_name(key);
        Cow::Owned(vec![
            Cow::Owned(format!("__meta_kubernetes_{kind}_label_{key}")),
            Cow::Owned(format!("__meta_kubernetes_{kind}_labelpresent_{key}")),
        ])
    };
    let present_source =
        |key: &str| owned_label(format!("__meta_kubernetes_{kind}_labelpresent_{}", sanitize_label_name(key)));
    let mut relabelings = Vec::new();
    for (key, value) in selector.match_labels.iter().flatten() {
        relabelings.push(Relabel::keep(label_sources(key), format!("({});true", regex_literal(value))));
    }
    for (position, expression) in selector.match_expressions.iter().flatten().enumerate() {
        let values =
            || expression.values.iter().flatten().map(|value| regex_literal(value)).collect::<Vec<_>>().join("|");
        relabelings.push(match expression.operator.as_str() {
            "In" => Relabel::keep(label_sources(&expression.key), format!("({});true", values())),
            "NotIn" => Relabel::drop(label_sources(&expression.key), format!("({});true", values())),
            "Exists" => Relabel::keep(present_source(&expression.key), "true"),
            "DoesNotExist" => Relabel::drop(present_source(&expression.key), "true"),
            other => return Err((position, other)),
        });
    }
    Ok(relabelings)
}

/// Drops pods that have finished: their endpoints linger but can never be scraped.
fn running_pods_only<'a>() -> Relabel<'a> {
    Relabel::drop(labels!["__meta_kubernetes_pod_phase"], "(Failed|Succeeded)")
}

/// A job scraping one port of a stack component's pods, found by their labels (pod discovery,
/// so every replica is scraped and DaemonSets without a Service are found too).
fn component_job<'a>(stack: &'a ResolvedStack, job_name: &'static str, app_name: &str, port: u16) -> ScrapeConfig<'a> {
    ScrapeConfig::new(
        job_name,
        KubernetesSd {
            role: "pod",
            namespaces: Some(Namespaces { names: vec![Cow::Borrowed(stack.namespace.as_str())] }),
            attach_metadata: None,
        },
        vec![
            Relabel::keep(
                labels![
                    "__meta_kubernetes_pod_label_app_kubernetes_io_name",
                    "__meta_kubernetes_pod_label_app_kubernetes_io_instance",
                    "__meta_kubernetes_pod_container_port_number",
                ],
                format!("{};{};{port}", regex_literal(app_name), regex_literal(&stack.name)),
            ),
            running_pods_only(),
            Relabel::copy(labels!["__meta_kubernetes_namespace"], "namespace"),
            Relabel::copy(labels!["__meta_kubernetes_pod_name"], "pod"),
            Relabel::copy(labels!["__meta_kubernetes_pod_container_name"], "container"),
        ],
    )
}

/// Jobs for the stack's own enabled components, and the exporters the stack renders or selects.
pub(crate) fn component_jobs(stack: &ResolvedStack) -> Result<Vec<ScrapeConfig<'_>>, RenderError> {
    let prometheus = Component::Prometheus.as_str();
    let mut jobs = vec![component_job(stack, "prometheus", prometheus, ports::PROMETHEUS_HTTP)];
    if stack.spec.metrics.downsampling.enabled {
        jobs.push(component_job(stack, "thanos-sidecar", prometheus, ports::THANOS_SIDECAR_HTTP));
        for thanos in Thanos::ALL {
            jobs.push(component_job(stack, thanos.app_name(), thanos.app_name(), thanos.http_port()));
        }
    }
    let others: [(Component, &'static str, u16); 7] = [
        (Component::Alertmanager, "alertmanager", ports::ALERTMANAGER_HTTP),
        (Component::Loki, "loki", ports::LOKI_HTTP),
        (Component::Promtail, "promtail", ports::PROMTAIL_HTTP),
        (Component::Alloy, "alloy", ports::ALLOY_HTTP),
        (Component::Grafana, "grafana", ports::GRAFANA_HTTP),
        (Component::Jaeger, "jaeger", ports::JAEGER_METRICS),
        // Span metrics (`traces_span_metrics_*`) for the performance budgets.
        (Component::Jaeger, "jaeger-spanmetrics", ports::JAEGER_SPANMETRICS),
    ];
    for (component, job_name, port) in others {
        if component.enabled(stack) {
            jobs.push(component_job(stack, job_name, component.as_str(), port));
        }
    }
    jobs.extend(exporter_jobs(stack)?);
    Ok(jobs)
}

/// Jobs of kube-state-metrics and node-exporter: the stack's own, else the cluster's selected by
/// `existing`, else none.
fn exporter_jobs(stack: &ResolvedStack) -> Result<Vec<ScrapeConfig<'_>>, RenderError> {
    let metrics = &stack.spec.metrics;
    let exporters = [
        (
            Component::KubeStateMetrics,
            "kubeStateMetrics",
            metrics.kube_state_metrics.existing.as_ref(),
            ports::KUBE_STATE_METRICS_HTTP,
        ),
        (Component::NodeExporter, "nodeExporter", metrics.node_exporter.existing.as_ref(), ports::NODE_EXPORTER_HTTP),
    ];
    let mut jobs = Vec::new();
    for (component, field, existing, port) in exporters {
        let job_name = component.as_str();
        let mut job = if component.enabled(stack) {
            component_job(stack, job_name, component.as_str(), port)
        } else if let (true, Some(existing)) = (metrics.enabled, existing) {
            existing_exporter_job(job_name, field, existing)?
        } else {
            continue;
        };
        match component {
            // Its series describe other objects: their namespace, pod and container labels win
            // over the exporter pod's own.
            Component::KubeStateMetrics => job.honor_labels = Some(true),
            // The node it runs on, which its series describe.
            _ => job.relabel_configs.push(Relabel::copy(labels!["__meta_kubernetes_pod_node_name"], "node")),
        }
        jobs.push(job);
    }
    Ok(jobs)
}

/// A job scraping an exporter the cluster already runs: its pods by label, in its namespaces, on
/// the named container port.
fn existing_exporter_job<'a>(
    job_name: &'static str,
    field: &str,
    existing: &'a ExistingExporter,
) -> Result<ScrapeConfig<'a>, RenderError> {
    let namespaces = (!existing.namespaces.is_empty())
        .then(|| Namespaces { names: existing.namespaces.iter().map(|name| Cow::Borrowed(name.as_str())).collect() });
    // The schema admits only the four operators; one it does not know keeps nothing.
    let mut relabelings = selector_relabelings(&existing.selector, "pod").map_err(|(position, other)| {
        invalid(
            format!("spec.metrics.{field}.existing.selector.matchExpressions[{position}].operator"),
            format!("unknown operator {other:?}: one of In, NotIn, Exists, DoesNotExist"),
        )
    })?;
    relabelings.push(Relabel::keep(
        labels!["__meta_kubernetes_pod_container_port_name"],
        regex_literal(&existing.port).into_owned(),
    ));
    relabelings.push(running_pods_only());
    relabelings.push(Relabel::copy(labels!["__meta_kubernetes_namespace"], "namespace"));
    relabelings.push(Relabel::copy(labels!["__meta_kubernetes_pod_name"], "pod"));
    relabelings.push(Relabel::copy(labels!["__meta_kubernetes_pod_container_name"], "container"));
    Ok(ScrapeConfig::new(job_name, KubernetesSd { role: "pod", namespaces, attach_metadata: None }, relabelings))
}

/// The kubelet's own metrics (`kubelet_volume_stats_*`) and cAdvisor's container metrics
/// (`container_cpu_usage_seconds_total`, `container_memory_working_set_bytes`) that the
/// infrastructure alerts read: every node's kubelet over HTTPS with the service-account token.
pub(crate) fn kubelet_jobs<'a>() -> [ScrapeConfig<'a>; 2] {
    let job = |job_name: &'static str, metrics_path: &'static str| {
        let mut job = ScrapeConfig::new(
            job_name,
            KubernetesSd { role: "node", namespaces: None, attach_metadata: None },
            vec![Relabel::copy(labels!["__meta_kubernetes_node_name"], "node")],
        );
        job.metrics_path = Some(Cow::Borrowed(metrics_path));
        job.scheme = Some("https");
        job.tls_config = Some(TlsFiles {
            ca_file: Some(Cow::Owned(format!("{SERVICE_ACCOUNT_DIR}/ca.crt"))),
            ..TlsFiles::default()
        });
        job.authorization = Some(Authorization::bearer(format!("{SERVICE_ACCOUNT_DIR}/token")));
        job
    };
    [job("kubelet", "/metrics"), job("cadvisor", "/metrics/cadvisor")]
}
