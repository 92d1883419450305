//! The layout stage: which ConfigMaps hold the files that grow with the monitors — Prometheus'
//! configuration, the rule files and the probe expectations — decided once, here, for all three,
//! after the components rendered their content and before the workloads that mount them are
//! finished (Prometheus' StatefulSet mounts the rule and scrape ConfigMaps).
//!
//! A component hands over a [`FileSet`]: the files of its main ConfigMap and the one file that
//! grows with the monitors, cut into [`Piece`]s (one per monitor or per service) and able to
//! write itself whole. While the whole file fits one object ([`shard::UNSHARDED_LIMIT`]) the
//! component keeps its single ConfigMap, byte for byte; beyond, the pieces go into shard
//! ConfigMaps by the stable hash of their identity (see [`shard`]), each shard file an envelope
//! of compact JSON (which is YAML) around its pieces.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMapProjection, ProjectedVolumeSource, Volume, VolumeProjection};
use kube::api::{DynamicObject, TypeMeta};

use super::common::metadata;
use super::pod::config_map_volume;
use super::shard::{self, Piece};
use super::{Component, RenderError};
use crate::resolve::ResolvedStack;

/// A component's ConfigMap files before layout.
pub(crate) struct FileSet<'a> {
    pub component: Component,
    /// Name of the main ConfigMap, and the stem of its shards' names.
    pub name: String,
    /// Files of the main ConfigMap besides the growing one.
    pub files: BTreeMap<String, String>,
    /// The file that grows with the monitors; `None`: the files alone, in one ConfigMap.
    pub growing: Option<GrowingFile<'a>>,
}

/// A file that grows with the monitors: whole in the main ConfigMap while it fits, else its
/// pieces in shards.
pub(crate) struct GrowingFile<'a> {
    /// Its name in the main ConfigMap when whole.
    pub name: &'static str,
    /// Its pieces, compact, in order.
    pub pieces: Vec<&'a Piece>,
    pub sizing: Sizing,
    /// Writes the whole file; called only when the pieces' estimate fits.
    pub whole: Box<dyn FnOnce() -> Result<String, RenderError> + 'a>,
    pub shards: ShardFormat<'a>,
}

/// How the whole file is measured against the single-object limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sizing {
    /// Estimated from the pieces (the whole file is `numerator / denominator` times their size)
    /// together with the other files, then written and measured again.
    Measured { numerator: usize, denominator: usize },
    /// Estimated from the pieces alone: the whole file is a fixed multiple of them (pretty JSON
    /// of the same values), and the other files are a few constant bytes.
    Estimated { numerator: usize, denominator: usize },
}

/// How a growing file is cut into shards.
pub(crate) struct ShardFormat<'a> {
    /// Stem of the shard files (`<stem>-0007.<extension>`) and objects (`<name>-<stem>-0007`).
    pub stem: &'static str,
    pub extension: &'static str,
    /// What a shard file starts and ends with around its comma-separated pieces.
    pub head: &'static str,
    pub tail: &'static str,
    /// The main ConfigMap's file, under the growing file's name, that reads the shards
    /// (Prometheus' `scrape_config_files`); `None` where the shards' directory is read as a whole.
    pub index: Option<Box<dyn FnOnce() -> Result<String, RenderError> + 'a>>,
    /// A file of the main ConfigMap that rides in the shards too when the main ConfigMap alone
    /// would outgrow one object.
    pub overflow: Option<Overflow<'a>>,
}

/// A file of the main ConfigMap that can be cut into pieces too.
pub(crate) struct Overflow<'a> {
    /// The file's name in the main ConfigMap.
    pub file: &'static str,
    /// Its pieces; called only when it overflows.
    pub pieces: Box<dyn FnOnce() -> Result<Vec<Piece>, RenderError> + 'a>,
    /// One shard's entry of the overflowing pieces, from the bucket and their texts.
    pub entry: fn(usize, &[&str]) -> String,
    /// Bytes each shard reserves for that entry's own envelope.
    pub reserve: usize,
}

/// A file set laid out: its ConfigMaps by name with their files, the main one first.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConfigMaps {
    pub component: Component,
    pub config_maps: Vec<(String, BTreeMap<String, String>)>,
}

impl ConfigMaps {
    /// One volume with the files of every ConfigMap: the plain ConfigMap volume when there is
    /// one, else a projected volume, so the shards and the file naming them land in one
    /// directory and a reloader watching it sees every change.
    pub(crate) fn volume(&self, volume_name: &str) -> Volume {
        match self.config_maps.as_slice() {
            [(single, _)] => config_map_volume(volume_name, single),
            many => {
                let sources = many
                    .iter()
                    .map(|(name, _)| VolumeProjection {
                        config_map: Some(ConfigMapProjection { name: name.clone(), ..ConfigMapProjection::default() }),
                        ..VolumeProjection::default()
                    })
                    .collect();
                Volume {
                    name: volume_name.to_owned(),
                    projected: Some(ProjectedVolumeSource {
                        sources: Some(sources),
                        ..ProjectedVolumeSource::default()
                    }),
                    ..Volume::default()
                }
            }
        }
    }

    /// The ConfigMap objects.
    pub(crate) fn into_objects(self, stack: &ResolvedStack) -> Vec<DynamicObject> {
        let component = self.component;
        self.config_maps.into_iter().map(|(name, files)| config_map_object(stack, component, name, files)).collect()
    }
}

/// Lays a file set out: one ConfigMap while its files fit one object, else the main ConfigMap
/// and the growing file's shards.
pub(crate) fn lay_out(set: FileSet<'_>) -> Result<ConfigMaps, RenderError> {
    let FileSet { component, name, mut files, growing } = set;
    let Some(growing) = growing else {
        return Ok(ConfigMaps { component, config_maps: vec![(name, files)] });
    };
    let others: usize = files.values().map(String::len).sum();
    let pieces: usize = growing.pieces.iter().map(|piece| piece.text.len()).sum();
    let (counted, measured, estimated) = match growing.sizing {
        Sizing::Measured { numerator, denominator } => (others, true, others + pieces * numerator / denominator),
        Sizing::Estimated { numerator, denominator } => (0, false, pieces * numerator / denominator),
    };
    if estimated <= shard::UNSHARDED_LIMIT {
        let whole = (growing.whole)()?;
        if !measured || counted + whole.len() <= shard::UNSHARDED_LIMIT {
            files.insert(growing.name.to_owned(), whole);
            return Ok(ConfigMaps { component, config_maps: vec![(name, files)] });
        }
    }

    let ShardFormat { stem, extension, head, tail, index, overflow } = growing.shards;
    let mut overflow_pieces = Vec::new();
    let mut overflow_entry = None;
    let mut reserve = 0;
    if let Some(Overflow { file, pieces, entry, reserve: entry_reserve }) = overflow {
        reserve = entry_reserve;
        overflow_entry = Some(entry);
        if others > shard::UNSHARDED_LIMIT && files.remove(file).is_some() {
            overflow_pieces = pieces()?;
        }
    }
    if let Some(index) = index {
        files.insert(growing.name.to_owned(), index()?);
    }
    let all: Vec<&Piece> = growing.pieces.iter().copied().chain(&overflow_pieces).collect();
    let buckets = shard::bucket_count(&all, shard::SHARD_BUDGET, head.len() + tail.len() + reserve);
    let main_buckets = shard::distribute(&growing.pieces, buckets);
    let overflow_buckets = shard::distribute(&overflow_pieces.iter().collect::<Vec<_>>(), buckets);

    let mut config_maps = Vec::with_capacity(buckets + 1);
    config_maps.push((name.clone(), files));
    for (bucket, (members, overflowing)) in main_buckets.into_iter().zip(overflow_buckets).enumerate() {
        let size: usize = members.iter().map(|piece| piece.text.len() + 2).sum();
        let mut text = String::with_capacity(head.len() + size + tail.len());
        text.push_str(head);
        for (position, piece) in members.iter().enumerate() {
            if position > 0 {
                text.push_str(",\n");
            }
            text.push_str(&piece.text);
        }
        if let Some(entry) = overflow_entry
            && !overflowing.is_empty()
        {
            if !members.is_empty() {
                text.push_str(",\n");
            }
            let texts: Vec<&str> = overflowing.iter().map(|piece| piece.text.as_str()).collect();
            text.push_str(&entry(bucket, &texts));
        }
        text.push_str(tail);
        let file = shard::shard_file(stem, bucket, extension);
        config_maps.push((shard::shard_object(&name, stem, bucket), BTreeMap::from([(file, text)])));
    }
    Ok(ConfigMaps { component, config_maps })
}

/// A ConfigMap of the component built directly as a dynamic object, so megabytes of file text
/// are moved in rather than copied through serde.
pub(crate) fn config_map_object(
    stack: &ResolvedStack,
    component: Component,
    name: String,
    files: BTreeMap<String, String>,
) -> DynamicObject {
    let data: serde_json::Map<String, serde_json::Value> =
        files.into_iter().map(|(file, text)| (file, serde_json::Value::String(text))).collect();
    DynamicObject {
        types: Some(TypeMeta { api_version: "v1".to_owned(), kind: "ConfigMap".to_owned() }),
        metadata: metadata(stack, component, name),
        data: serde_json::Value::Object(serde_json::Map::from_iter([(
            "data".to_owned(),
            serde_json::Value::Object(data),
        )])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Environment;
    use crate::render::fixtures::minimal;

    fn pieces(count: usize, size: usize) -> Vec<Piece> {
        (0..count).map(|index| Piece::new(&format!("ns/monitor-{index}"), "x".repeat(size))).collect()
    }

    fn set<'a>(pieces: &'a [Piece], sizing: Sizing, whole: usize, others: usize) -> FileSet<'a> {
        FileSet {
            component: Component::Probes,
            name: "s-probes".to_owned(),
            files: BTreeMap::from([("other.json".to_owned(), "o".repeat(others))]),
            growing: Some(GrowingFile {
                name: "whole.json",
                pieces: pieces.iter().collect(),
                sizing,
                whole: Box::new(move || Ok("w".repeat(whole))),
                shards: ShardFormat {
                    stem: "part",
                    extension: "json",
                    head: "[\n",
                    tail: "\n]\n",
                    index: None,
                    overflow: None,
                },
            }),
        }
    }

    fn files_of(maps: &ConfigMaps) -> Vec<(&str, Vec<&str>)> {
        maps.config_maps
            .iter()
            .map(|(name, files)| (name.as_str(), files.keys().map(String::as_str).collect()))
            .collect()
    }

    const MEASURED: Sizing = Sizing::Measured { numerator: 3, denominator: 2 };
    const ESTIMATED: Sizing = Sizing::Estimated { numerator: 5, denominator: 2 };

    #[test]
    fn small_sets_keep_one_config_map_with_the_whole_file() {
        let pieces = pieces(3, 100);
        let maps = lay_out(set(&pieces, MEASURED, 500, 10)).unwrap();
        assert_eq!(files_of(&maps), [("s-probes", vec!["other.json", "whole.json"])]);
        assert_eq!(maps.config_maps[0].1["whole.json"], "w".repeat(500));
    }

    #[test]
    fn a_measured_whole_file_too_large_once_written_is_sharded() {
        let pieces = pieces(3, 100);
        let too_large = shard::UNSHARDED_LIMIT;
        let maps = lay_out(set(&pieces, MEASURED, too_large, 10)).unwrap();
        assert_eq!(files_of(&maps), [("s-probes", vec!["other.json"]), ("s-probes-part-0000", vec!["part-0000.json"])]);
        let texts: Vec<&str> = pieces.iter().map(|piece| piece.text.as_str()).collect();
        assert_eq!(maps.config_maps[1].1["part-0000.json"], format!("[\n{}\n]\n", texts.join(",\n")));
        // Estimated sizing trusts the estimate and counts only the pieces.
        let maps = lay_out(set(&pieces, ESTIMATED, too_large, too_large)).unwrap();
        assert_eq!(maps.config_maps.len(), 1);
    }

    #[test]
    fn large_sets_shard_every_piece_exactly_once_in_power_of_two_buckets() {
        let pieces: Vec<Piece> =
            (0..400).map(|index| Piece::new(&format!("ns/m-{index}"), format!("\"{index:0>4000}\""))).collect();
        let maps = lay_out(set(&pieces, ESTIMATED, 0, 10)).unwrap();
        assert_eq!(files_of(&maps)[0], ("s-probes", vec!["other.json"]));
        let shards = &maps.config_maps[1..];
        assert!(shards.len().is_power_of_two() && shards.len() > 1, "{}", shards.len());
        let mut seen = Vec::new();
        for (bucket, (name, files)) in shards.iter().enumerate() {
            assert_eq!(name, &shard::shard_object("s-probes", "part", bucket));
            let text = &files[&shard::shard_file("part", bucket, "json")];
            assert!(text.len() <= shard::SHARD_BUDGET, "{}", text.len());
            let parsed: Vec<String> = serde_json::from_str(text).unwrap();
            seen.extend(parsed.iter().map(|value| value.trim_start_matches('0').parse::<usize>().unwrap_or(0)));
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..400).collect::<Vec<_>>());
    }

    #[test]
    fn an_overflowing_file_rides_in_the_shards_only_when_the_main_config_map_is_too_large() {
        let slo = pieces(2, 100);
        let overflow = |others: usize| {
            let mut set = set(&slo, MEASURED, shard::UNSHARDED_LIMIT, others);
            if let Some(growing) = set.growing.as_mut() {
                growing.shards.overflow = Some(Overflow {
                    file: "other.json",
                    pieces: Box::new(|| Ok(vec![Piece::new("rule", "r".to_owned())])),
                    entry: |bucket, texts| format!("<{bucket}:{}>", texts.join("|")),
                    reserve: 8,
                });
            }
            lay_out(set).unwrap()
        };
        let kept = overflow(10);
        assert!(kept.config_maps[0].1.contains_key("other.json"));
        assert!(kept.config_maps[1..].iter().all(|(_, files)| files.values().all(|text| !text.contains(":r>"))));
        let moved = overflow(shard::UNSHARDED_LIMIT + 1);
        assert!(!moved.config_maps[0].1.contains_key("other.json"));
        let buckets = moved.config_maps.len() - 1;
        let bucket = shard::bucket_of(shard::stable_hash("rule"), buckets);
        let text = &moved.config_maps[bucket + 1].1[&shard::shard_file("part", bucket, "json")];
        assert!(text.ends_with(&format!("<{bucket}:r>\n]\n")), "{text}");
    }

    #[test]
    fn the_volume_is_plain_for_one_config_map_and_projected_for_shards() {
        let maps = |count: usize| ConfigMaps {
            component: Component::Prometheus,
            config_maps: (0..count).map(|index| (format!("cm-{index}"), BTreeMap::new())).collect(),
        };
        let single = maps(1).volume("config");
        assert_eq!(single.config_map.map(|source| source.name).as_deref(), Some("cm-0"));
        let projected = maps(3).volume("config").projected.and_then(|projected| projected.sources).unwrap_or_default();
        let names: Vec<_> = projected.into_iter().filter_map(|source| source.config_map.map(|cm| cm.name)).collect();
        assert_eq!(names, ["cm-0", "cm-1", "cm-2"]);
        let objects = maps(2).into_objects(&minimal(Environment::Production));
        assert_eq!(objects[1].metadata.name.as_deref(), Some("cm-1"));
        assert_eq!(objects[1].types.as_ref().map(|types| types.kind.as_str()), Some("ConfigMap"));
    }
}
