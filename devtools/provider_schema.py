"""The google provider's real schema, offline, and a check of infra/*.tf against it.

`terraform validate` needs the provider binary from the Terraform registry,
which these machines cannot reach. PyPI carries the same schema:
`cdktn-provider-google` is generated from the provider, one class per
resource with its config struct (required and optional properties, nested
blocks) and every readable attribute (read-only ones included). Version
20.3.1 was generated from google provider 7.46.1, the newest 7.x there,
which `~> 7.0` in infra/versions.tf accepts.

The wheel (~65 MB, pinned by hash in requirements-provider-schema.txt) is
downloaded once per machine, and a compact JSON schema is extracted from
the generated JavaScript and TypeScript declarations beside it into the
user's cache (`~/.cache/genjobs/provider-schema/`, or under
`$XDG_CACHE_HOME`): later checks, from any clone, load only that file. Its
name carries a hash of this module and of the pin, so a change to either
extracts afresh rather than reading a stale schema. Nothing is committed, so
there is nothing to regenerate or to drift from the pin.

Schema of one resource or nested block:
    {"attributes": {name: "required" | "optional" | "computed"},
     "blocks": {name: {"mode": "required" | "optional" | "computed", ...same}}}
"computed" means read-only: it may be referenced but never set.

`check(infra_dir)` reports, per problem, one line naming the file, the
resource and what is wrong: an unknown resource or data source type, an
unknown attribute or block, a read-only attribute that is set, a missing
required attribute or block, a reference to an attribute the type does not
have (`google_cloudfunctions2_function.api.service_config[0].uri`).
`python -m devtools.infra_check schema` runs it on infra/.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

from devtools import REPO_ROOT

REQUIREMENTS = REPO_ROOT / "requirements-provider-schema.txt"
PACKAGE = "cdktn-provider-google"
PACKAGE_VERSION = "20.3.1"
PROVIDER_VERSION = "7.46.1"
# Per user rather than per clone: a fresh clone (CI's) reuses the extraction.
CACHE_DIR = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "genjobs" / "provider-schema"
)
_EXTRACTOR = hashlib.sha256(Path(__file__).read_bytes() + REQUIREMENTS.read_bytes()).hexdigest()
SCHEMA_FILE = CACHE_DIR / f"google-{PROVIDER_VERSION}-{_EXTRACTOR[:16]}.json"

Node = dict[str, Any]

# Meta-arguments Terraform itself handles on every resource / data source.
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider"}
META_BLOCKS = {"lifecycle", "provisioner", "connection"}

# --- extraction from the cdktn package -----------------------------------------

_TOP_LEVEL = re.compile(r"^(?:class|function) (\w+)", re.M)
_HCL_ENTRY = re.compile(
    r"(\w+): \{\s*value: (.*?),\s*isBlock: (true|false),\s*type: \"(\w+)\",", re.S
)
_CHILD_FUNCTION = re.compile(r"(?<![.\w])(\w+)ToHclTerraform\b")
_CAMEL = re.compile(r"(?:struct\.|this\._)(\w+)")
_GETTER = re.compile(r"this\.(?:get\w*Attribute|interpolationForAttribute)\('(\w+)'\)")
_NESTED = re.compile(r"new (cdktn\.)?(\w+)\(this, \"(\w+)\"")
_TF_TYPE = re.compile(r"static tfResourceType = \"(\w+)\";")
_INTERFACE = re.compile(r"^export interface (\w+)\b[^{]*\{(.*?)^\}", re.M | re.S)
_PROPERTY = re.compile(r"^\s+readonly (\w+)(\?)?:", re.M)
_DOC_VERSION = re.compile(r"registry\.terraform\.io/providers/hashicorp/google/([\d.]+)/docs")


def _segments(js: str) -> dict[str, str]:
    """Top-level functions and classes of a compiled module: name -> source text."""
    starts = [(m.start(), m[1]) for m in _TOP_LEVEL.finditer(js)]
    ends = [s for s, _ in starts[1:]] + [len(js)]
    return {name: js[start:end] for (start, name), end in zip(starts, ends, strict=False)}


def _required_properties(dts: str) -> dict[str, dict[str, bool]]:
    """interface name -> {camelCase property: required?}."""
    return {
        m[1]: {p[1]: not p[2] for p in _PROPERTY.finditer(m[2])} for m in _INTERFACE.finditer(dts)
    }


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


class _Module:
    """One generated module (a resource or data source) and the schema it declares."""

    def __init__(self, js: str, dts: str) -> None:
        self.segments = _segments(js)
        self.interfaces = _required_properties(dts)
        # A nested struct is reached both from its parent's config and from
        # its parent's readable attributes: build each once.
        self._nodes: dict[str, Node] = {}

    def _config(self, body: str, interface: str) -> tuple[dict[str, str], dict[str, Node]]:
        required = self.interfaces.get(interface, {})
        attributes: dict[str, str] = {}
        blocks: dict[str, Node] = {}
        section = body.split("const attrs = {", 1)
        if len(section) != 2:
            return attributes, blocks
        # The object literal ends at the first line holding only "};".
        literal = re.split(r"\n\s*\};", section[1], maxsplit=1)[0]
        for entry in _HCL_ENTRY.finditer(literal):
            name, value, is_block = entry[1], entry[2], entry[3] == "true"
            camel = _CAMEL.search(value)
            mode = "required" if camel and required.get(camel[1], False) else "optional"
            child = _CHILD_FUNCTION.search(value)
            if is_block and child:
                struct = child[1][:1].upper() + child[1][1:]
                blocks[name] = {"mode": mode, **self.node(struct)}
            else:
                attributes[name] = mode
        return attributes, blocks

    def _readable(self, class_name: str) -> tuple[set[str], dict[str, Node]]:
        """Attributes a class exposes, and its nested objects (name -> their node)."""
        body = self.segments.get(class_name, "")
        names = set(_GETTER.findall(body))
        nested: dict[str, Node] = {}
        for match in _NESTED.finditer(body):
            library, cls, name = match[1], match[2], match[3]
            if library:  # cdktn.StringMap and friends: a map attribute
                names.add(name)
                continue
            struct = re.sub(r"(OutputReference|List|Map)$", "", cls)
            nested[name] = self.node(struct)
        return names, nested

    def node(self, struct: str) -> Node:
        """The schema node of struct `Foo` (config from fooToHclTerraform, reads from its class)."""
        if struct not in self._nodes:
            body = self.segments.get(f"{_lower_first(struct)}ToHclTerraform", "")
            attributes, blocks = self._config(body, struct)
            readable, nested = self._readable(f"{struct}OutputReference")
            self._nodes[struct] = _merge(attributes, blocks, readable, nested)
        return self._nodes[struct]

    def resource(self) -> tuple[str, str, Node] | None:
        """(kind, terraform type, node) of the module's resource or data source class."""
        for name, body in self.segments.items():
            kind_match = re.match(
                rf"class {name} extends cdktn\.Terraform(Resource|DataSource)", body
            )
            tf_type = _TF_TYPE.search(body)
            if not (kind_match and tf_type):
                continue
            synth = body.split("synthesizeHclAttributes()", 1)
            attributes, blocks = self._config(synth[1] if len(synth) == 2 else "", f"{name}Config")
            readable, nested = self._readable(name)
            kind = "resources" if kind_match[1] == "Resource" else "data_sources"
            return kind, tf_type[1], _merge(attributes, blocks, readable, nested)
        return None


def _merge(
    attributes: dict[str, str],
    blocks: dict[str, Node],
    readable: set[str],
    nested: dict[str, Node],
) -> Node:
    for name in readable - set(attributes) - set(blocks):
        attributes[name] = "computed"
    for name, node in nested.items():
        if name in blocks:
            continue
        if name in attributes:
            # A settable attribute read through a nested object (a map of
            # objects): it stays an attribute.
            continue
        blocks[name] = {"mode": "computed", **node}
    return {"attributes": dict(sorted(attributes.items())), "blocks": dict(sorted(blocks.items()))}


def _package_files(wheel: Path) -> Iterator[tuple[str, str]]:
    """(path, text) of every lib/*/index.js and index.d.ts inside the wheel's jsii tarball."""
    with zipfile.ZipFile(wheel) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".jsii.tgz"))
        tarball = archive.read(member)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for info in tar:
            name = info.name
            if (
                info.isfile()
                and name.startswith("package/lib/")
                and name.endswith(("/index.js", "/index.d.ts"))
            ):
                handle = tar.extractfile(info)
                if handle is not None:
                    yield name, handle.read().decode("utf-8")


def extract(wheel: Path) -> dict[str, Any]:
    """The schema of every resource and data source in the wheel."""
    sources: dict[str, dict[str, str]] = {}
    for name, text in _package_files(wheel):
        directory, file_name = name.rsplit("/", 1)
        sources.setdefault(directory, {})[file_name] = text
    schema: dict[str, Any] = {
        "package": f"{PACKAGE}=={PACKAGE_VERSION}",
        "provider_version": PROVIDER_VERSION,
        "resources": {},
        "data_sources": {},
    }
    versions: set[str] = set()
    for files in sources.values():
        js, dts = files.get("index.js", ""), files.get("index.d.ts", "")
        found = _Module(js, dts).resource()
        if found is None:
            continue
        versions.update(_DOC_VERSION.findall(dts))
        kind, tf_type, node = found
        schema[kind][tf_type] = node
    if versions != {PROVIDER_VERSION}:
        raise RuntimeError(f"{wheel.name} documents provider versions {versions}")
    if len(schema["resources"]) < 500:
        raise RuntimeError(f"only {len(schema['resources'])} resources extracted: format changed?")
    return schema


def download_wheel(directory: Path) -> Path:
    """Download the pinned wheel (hash-checked by pip) into `directory`."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            "--dest",
            str(directory),
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    wheels = sorted(directory.glob(f"cdktn_provider_google-{PACKAGE_VERSION}-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip download left no {PACKAGE} {PACKAGE_VERSION} wheel")
    return wheels[0]


def load_schema(schema_file: Path = SCHEMA_FILE) -> dict[str, Any]:
    """The cached schema; downloaded and extracted on first use (~65 MB, ~15 s)."""
    if not schema_file.is_file():
        print(f"provider schema: extracting google {PROVIDER_VERSION} from {PACKAGE} ...")
        schema_file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=schema_file.parent) as tmp:
            schema = extract(download_wheel(Path(tmp)))
            partial = Path(tmp) / schema_file.name
            partial.write_text(json.dumps(schema, separators=(",", ":")), encoding="utf-8")
            partial.replace(schema_file)
    loaded: dict[str, Any] = json.loads(schema_file.read_text(encoding="utf-8"))
    if loaded.get("package") != f"{PACKAGE}=={PACKAGE_VERSION}":
        raise RuntimeError(f"{schema_file} is not from {PACKAGE}=={PACKAGE_VERSION}; delete it")
    return loaded


# --- checking infra/*.tf ------------------------------------------------------------

_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)
_REFERENCE = re.compile(
    r"(?<![\w.])(data\.)?(google_[a-z0-9_]+)\.([A-Za-z_][\w-]*)((?:\[[^\]]*\]|\.[A-Za-z_]\w*)*)"
)
_STEP = re.compile(r"\[[^\]]*\]|\.([A-Za-z_]\w*)")


def _is_block_value(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _check_body(
    where: str, body: dict[str, Any], node: Node, problems: list[str], top: bool = False
) -> None:
    attributes: dict[str, str] = node["attributes"]
    blocks: dict[str, Node] = node["blocks"]
    present = set(body)
    for dynamic in body.get("dynamic", []) if isinstance(body.get("dynamic"), list) else []:
        for name, spec in dynamic.items():
            present.add(name)
            if name not in blocks:
                problems.append(f"{where}: dynamic block {name!r} is not a block of this type")
                continue
            for content in spec.get("content", []) if isinstance(spec, dict) else []:
                _check_body(f"{where}.{name}", content, blocks[name], problems)
    for key, value in body.items():
        if key == "dynamic" or (top and key in META_ARGUMENTS | META_BLOCKS):
            continue
        if key in blocks:
            block = blocks[key]
            if block["mode"] == "computed":
                problems.append(f"{where}: {key!r} is read-only (computed by the provider)")
            elif not _is_block_value(value):
                problems.append(f"{where}: {key!r} is a block, written as an attribute")
            else:
                for item in value:
                    _check_body(f"{where}.{key}", item, block, problems)
        elif key in attributes:
            if attributes[key] == "computed":
                problems.append(f"{where}: {key!r} is read-only (computed by the provider)")
        else:
            problems.append(f"{where}: unknown attribute or block {key!r}")
    for name, mode in attributes.items():
        if mode == "required" and name not in present:
            problems.append(f"{where}: required attribute {name!r} is missing")
    for name, block in blocks.items():
        if block["mode"] == "required" and name not in present:
            problems.append(f"{where}: required block {name!r} is missing")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _check_reference(
    where: str, text: str, declared: dict[tuple[str, str, str], Node], problems: list[str]
) -> None:
    for match in _REFERENCE.finditer(text):
        kind = "data_sources" if match[1] else "resources"
        node = declared.get((kind, match[2], match[3]))
        if node is None:
            continue  # unknown names are the wiring tests' business
        shown = f"{match[1] or ''}{match[2]}.{match[3]}"
        for step in _STEP.finditer(match[4]):
            name = step[1]
            if name is None:
                continue  # an index: [0], [*], ["key"]
            if name in node["blocks"]:
                node = node["blocks"][name]
                shown += f".{name}"
                continue
            if name not in node["attributes"]:
                problems.append(f"{where}: {shown} has no attribute {name!r} (in {match[0]!r})")
            break  # past an attribute: map keys or object fields, not schema


def check(infra_dir: Path, schema: dict[str, Any] | None = None) -> list[str]:
    """Every mismatch between infra_dir/*.tf and the provider schema, one line each."""
    schema = schema if schema is not None else load_schema()
    parsed = {
        path.name: hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=_OPTIONS)
        for path in sorted(infra_dir.glob("*.tf"))
    }
    problems: list[str] = []
    declared: dict[tuple[str, str, str], Node] = {}
    for file_name, tree in parsed.items():
        for keyword, kind in (("resource", "resources"), ("data", "data_sources")):
            for item in tree.get(keyword, []):
                for tf_type, named in item.items():
                    for name, body in named.items():
                        where = f"{file_name}: {'data.' if kind == 'data_sources' else ''}"
                        where += f"{tf_type}.{name}"
                        node = schema[kind].get(tf_type)
                        if node is None:
                            what = "resource" if kind == "resources" else "data source"
                            problems.append(
                                f"{where}: unknown {what} type {tf_type!r} "
                                f"in google provider {schema['provider_version']}"
                            )
                            continue
                        declared[(kind, tf_type, name)] = node
                        _check_body(where, body, node, problems, top=True)
    for file_name, tree in parsed.items():
        for text in _strings(tree):
            _check_reference(file_name, text, declared, problems)
    return problems
