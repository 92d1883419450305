#!/usr/bin/env python3
"""Generates generated.rs, the serde model of Loki's configuration file, from the key listing of
Loki's configuration reference (docs/sources/shared/configuration.md of the Loki release the
stack pins): key names, nesting and value types only, nothing of the prose.

    python3 tests/src/loki_model/generate.py <loki>/docs/sources/shared/configuration.md \
        > tests/src/loki_model/generated.rs && cargo fmt

Every block becomes a struct that rejects unknown keys; `[<block>]` (a block inlined into
another) is copied in, as serde cannot combine `flatten` with `deny_unknown_fields`. The value
types (Text, Int, ByteSize, Duration, ...) and the few blocks the reference only names
(RemoteWriteConfig, RelabelConfig, ...) are written by hand in loki_model.rs."""
import re
import sys

text = open(sys.argv[1]).read()
lines = text.split("\n")

# --- extract blocks -------------------------------------------------------------------------
sections = {}  # name -> list of yaml lines
root = None
i = 0
current = None
while i < len(lines):
    line = lines[i]
    m = re.match(r"^### (\S+)$", line)
    if m:
        current = m.group(1)
        if current.startswith("Supported"):
            current = "__root__"
    if line.startswith("### Supported contents"):
        current = "__root__"
    if line.strip() == "```yaml" and current is not None and current not in sections:
        j = i + 1
        body = []
        while not lines[j].startswith("```"):
            body.append(lines[j])
            j += 1
        # Skip usage examples: the listing is the block of `[key: <type>]` entries.
        if any(re.match(r"^\s*\[", b) for b in body):
            sections[current] = body
        i = j
    i += 1

# --- parse a block into entries ---------------------------------------------------------------
LEAF = re.compile(r"^\[([A-Za-z0-9_]*): <([^>]+)>(.*)\]$")
SQUASH = re.compile(r"^\[<([^>]+)>\]$")
INLINE = re.compile(r"^([A-Za-z0-9_]+):$")


def parse(body):
    """Returns a list of entries: ('leaf', key, type, default) | ('squash', ref) | ('block', key, entries)."""
    items = []
    for raw in body:
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        items.append((indent, raw.strip()))

    def build(pos, indent):
        out = []
        while pos < len(items):
            ind, content = items[pos]
            if ind < indent:
                break
            if ind > indent:
                raise SystemExit(f"unexpected indent at {content!r}")
            m = LEAF.match(content)
            if m:
                default = ""
                d = re.search(r"\| default = (.*)$", m.group(3))
                if d:
                    default = d.group(1)
                out.append(("leaf", m.group(1), m.group(2), default))
                pos += 1
                continue
            m = SQUASH.match(content)
            if m:
                out.append(("squash", m.group(1)))
                pos += 1
                continue
            m = INLINE.match(content)
            if m:
                children, pos = build(pos + 1, indent + 2)
                out.append(("block", m.group(1), children))
                continue
            raise SystemExit(f"cannot parse {content!r}")
        return out, pos

    entries, _ = build(0, 0)
    return entries


parsed = {name: parse(body) for name, body in sections.items()}


def camel(name):
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-]", name) if part)


structs = {}  # rust name -> list of (key, rust type)
order = []
section_struct = {}

for name in parsed:
    section_struct[name] = "LokiConfig" if name == "__root__" else camel(name)

BYTES = re.compile(r"^[0-9]+(\.[0-9]+)?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")

HANDWRITTEN = {
    "relabel_config...": "Vec<RelabelConfig>",
    "RemoteWriteConfig": "RemoteWriteConfig",
    "map of string to RemoteWriteConfig": "BTreeMap<String, RemoteWriteConfig>",
    "list of StreamRetentions": "Vec<StreamRetention>",
    "blocked_query...": "Vec<BlockedQuery>",
    "map of string to list of PriorityStreams": "BTreeMap<String, Vec<PriorityStream>>",
    "list of Labels": "BTreeMap<String, Text>",
    "headers": "BTreeMap<String, Text>",
    "map of string to Time": "BTreeMap<String, Text>",
    "list of period_configs": "Vec<PeriodConfig>",
    "list of attributes_configs": "Vec<AttributesConfig>",
}


def leaf_type(kind, default):
    if kind in HANDWRITTEN:
        return HANDWRITTEN[kind]
    if kind == "string" or kind in ("url", "Regexp", "time"):
        return "Text"
    if kind == "daytime":
        return "DayTime"
    if kind == "int":
        return "ByteSize" if BYTES.match(default.strip()) else "Int"
    if kind == "float":
        return "Float"
    if kind == "boolean":
        return "bool"
    if kind == "duration":
        return "Duration"
    if kind == "list of strings":
        return "StringList"
    if kind == "map of string to string":
        return "BTreeMap<String, Text>"
    if kind == "map of string to list of strings":
        return "BTreeMap<String, Vec<Text>>"
    m = re.match(r"^map of string to (\w+)$", kind)
    if m:
        target = m.group(1)
        named = {
            "NamedAWSStorageConfig": "aws_storage_config",
            "NamedS3StorageConfig": "s3_storage_config",
            "NamedGCSStorageConfig": "gcs_storage_config",
            "NamedAzureStorageConfig": "azure_storage_config",
            "NamedSwiftStorageConfig": "swift_storage_config",
            "NamedFilesystemStorageConfig": "local_storage_config",
        }
        target = named.get(target, target)
        if target in section_struct:
            return f"BTreeMap<String, {section_struct[target]}>"
    if kind in section_struct:
        return section_struct[kind]
    raise SystemExit(f"unknown type {kind!r}")


def flatten(entries):
    """Inline squashed references (serde's flatten cannot be combined with deny_unknown_fields)."""
    out = []
    for entry in entries:
        if entry[0] == "squash":
            out.extend(flatten(parsed[entry[1]]))
        else:
            out.append(entry)
    return out


def emit(struct_name, entries):
    fields = []
    for entry in flatten(entries):
        if entry[0] == "leaf":
            _, key, kind, default = entry
            fields.append((key, leaf_type(kind, default)))
        else:
            _, key, children = entry
            # Artefacts of the reference generator for Prometheus' common HTTP config: a URL
            # (written as a string in YAML) and a map of header names.
            if [c[:2] for c in children] == [("leaf", "url")]:
                fields.append((key, "Text"))
                continue
            if len(children) == 1 and children[0][0] == "leaf" and children[0][1] == "":
                fields.append((key, "BTreeMap<String, HttpHeader>"))
                continue
            child = struct_name + camel(key)
            emit(child, children)
            fields.append((key, child))
    # A key listed twice keeps its first type.
    seen = set()
    unique = []
    for key, kind in fields:
        if key in seen:
            continue
        seen.add(key)
        unique.append((key, kind))
    if struct_name in structs and structs[struct_name] != unique:
        raise SystemExit(f"struct name collision: {struct_name}")
    if struct_name not in structs:
        structs[struct_name] = unique
        order.append(struct_name)


for name, entries in parsed.items():
    emit(section_struct[name], entries)

# Promtail's `server` block is this same server block, inlined, plus Promtail's own keys
# (clients/pkg/promtail/server: external_url, health_check_target, disable, profiling_enabled,
# enable_runtime_reload).
PROMTAIL_SERVER_KEYS = [
    ("leaf", "external_url", "string", ""),
    ("leaf", "health_check_target", "boolean", ""),
    ("leaf", "disable", "boolean", ""),
    ("leaf", "profiling_enabled", "boolean", ""),
    ("leaf", "enable_runtime_reload", "boolean", ""),
]
emit("PromtailServer", parsed["server"] + PROMTAIL_SERVER_KEYS)

KEYWORDS = {"type", "match", "async", "ref", "use", "loop", "move", "self", "static", "struct", "where", "mod", "in", "fn", "impl"}

print("// @generated by generate.py (beside this file) from the key listing of Loki v3.5.7's")
print("// configuration reference: do not edit by hand, regenerate.")
print()
print("use super::*;")
print()
for name in order:
    print("#[derive(Debug, Clone, Default, Deserialize)]")
    print("#[serde(deny_unknown_fields)]")
    print(f"pub struct {name} {{")
    for key, kind in structs[name]:
        field = key.lower()
        if field != key:
            print(f'    #[serde(rename = "{key}")]')
        if field in KEYWORDS:
            field = "r#" + field
        print(f"    pub {field}: Option<{kind}>,")
    print("}")
    print()
