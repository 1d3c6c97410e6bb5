"""Config faults: a bad configuration pushed to a config source (a file, a variable, an etcd key, a config service), as a pure value.

`BadConfig` says *what* to push and to which [config.NAME] (`source=`); the source (I/O,
harness/config/) snapshots the current content first and restores it on revert. A patch is applied to that current
document by `apply_patch`, a pure function:

    current document ──apply_patch(doc, {"limits.rate": "oops", "limits.burst": DELETE})──> new document

Exploration draws bad pushes from the document the config service serves (`bad_configs`), so
they never name a service's keys, by kind:

    | kind            | what it does to the document                                        |
    |-----------------|---------------------------------------------------------------------|
    | malformed       | the document's JSON cut in half                                     |
    | wrong_type      | a leaf set to a value of another JSON type ("oops" for 300)         |
    | missing_section | an object or array removed (the deleted rate-limit config)          |
    | boundary        | a number set to 0, -1 or 10**12; a string set to ""                 |
    | dangling        | a name (a string leaf) replaced by one the document never defines   |
"""

from __future__ import annotations

import copy
import enum
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import InvalidFault, InvalidTopology, UsageError
from .base import DrawContext, FaultKind, Undo, register_fault_kind

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from ..mesh import Mesh

__all__ = [
    "BAD_CONFIG_KINDS", "BadConfig", "DELETE", "MALFORMED_JSON", "UNDEFINED_NAME", "apply_patch", "bad_config_options",
    "bad_configs", "config_leaves",
]  # fmt: skip

MALFORMED_JSON = '{"cascade": {"truncated": ['
_FORMS = ("document", "patch", "raw")


class _Delete(enum.Enum):
    DELETE = "DELETE"

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete.DELETE
"""A patch value meaning: remove the key (or list element) at this path."""


def apply_patch(document: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A new document with each dotted path of `patch` set, or removed where the value is DELETE.

    Paths are applied in order; a decimal segment indexes into a list ("rules.0.action").
    Missing tables on the way to a set are created; deleting something absent, or walking
    through a scalar, raises InvalidFault (a fault that changes nothing would test nothing).
    `document` and `patch` are never mutated.
    """
    if not isinstance(document, Mapping):
        raise InvalidFault(f"apply_patch: the document must be a mapping, got {type(document).__name__}")
    ops = _check_patch(patch, "apply_patch")
    out = _thaw(document)
    for path, value in ops.items():
        keys = path.split(".")
        node: Any = out
        for depth, key in enumerate(keys[:-1]):
            node = _child(node, key, path, ".".join(keys[: depth + 1]), create=value is not DELETE)
        last, where = keys[-1], ".".join(keys[:-1]) or "the document"
        if isinstance(node, list):
            i = _index(node, last, path)
            if value is DELETE:
                del node[i]
            else:
                node[i] = _thaw(value)
        elif value is DELETE:
            if last not in node:
                raise InvalidFault(
                    f"cannot delete {path!r}: {where} has no key {last!r}; keys there are: {', '.join(map(str, node)) or '(none)'}"
                )
            del node[last]
        else:
            node[last] = _thaw(value)
    return out


@register_fault_kind
@dataclass(frozen=True)
class BadConfig(FaultKind):
    """A configuration push: exactly one of a full `document`, a `patch` of the current one, or `raw` text."""

    document: Mapping[str, Any] | None = None
    _: KW_ONLY
    patch: Mapping[str, Any] | None = None
    raw: str | None = None
    name: str = ""
    source: str = ""  # the [config.NAME] it goes to; "" when the topology has exactly one source

    kind: ClassVar[str] = "bad_config"
    category: ClassVar[str] = "config"
    usage: ClassVar[str] = ("path=P [value=V] | document=JSON | patch=OPS | raw=TEXT  (FORM: config:SOURCE, "
                            "document, patch, raw, malformed, wrong_type, missing_section, out_of_range)")

    @classmethod
    def target_word(cls) -> str:
        return "FORM"  # document, patch, raw, malformed, wrong_type, missing_section, out_of_range

    def __post_init__(self) -> None:
        given = [form for form in _FORMS if getattr(self, form) is not None]
        if len(given) != 1:
            raise InvalidFault(
                f"BadConfig takes exactly one of document=, patch=, raw=; got {', '.join(given) or 'none'}"
            )
        if self.document is not None:
            if not isinstance(self.document, Mapping):
                raise InvalidFault(f"BadConfig.document must be a mapping, got {type(self.document).__name__}")
            _check_json(self.document, "BadConfig.document")
            object.__setattr__(self, "document", _thaw(self.document))  # our own copy: the value stays frozen
        if self.patch is not None:
            object.__setattr__(self, "patch", {p: _thaw(v) for p, v in _check_patch(self.patch, "BadConfig.patch").items()})
        if self.raw is not None and not isinstance(self.raw, str):
            raise InvalidFault(f"BadConfig.raw must be a str, got {type(self.raw).__name__}")
        if not isinstance(self.name, str):
            raise InvalidFault(f"BadConfig.name must be a str, got {self.name!r}")
        if not isinstance(self.source, str):
            raise InvalidFault(f"BadConfig.source must be the name of a [config.NAME] table, got {self.source!r}")

    def __hash__(self) -> int:  # the mappings are copies we never mutate; hash their JSON
        return hash(json.dumps(self.params(), sort_keys=True))

    # -- ready-made bad configs, generic over any JSON document ------------

    @classmethod
    def malformed(cls, document: Mapping[str, Any] | None = None, *, source: str = "") -> BadConfig:
        """Truncated JSON: `document` serialised and cut in half, or a fixed truncated text."""
        text = MALFORMED_JSON
        if document is not None:
            if not isinstance(document, Mapping):  # a scalar's JSON cut in half can still be valid JSON
                raise InvalidFault(f"BadConfig.malformed: document must be a mapping, got {type(document).__name__}")
            _check_json(document, "BadConfig.malformed document")
            full = json.dumps(document)
            text = full[: max(1, len(full) // 2)]
        return cls(raw=text, name="malformed", source=source)

    @classmethod
    def wrong_type(cls, path: str, value: Any, *, source: str = "") -> BadConfig:
        """The key at `path` set to `value`, a value of the wrong JSON type for it."""
        return cls(patch={_path(path, "BadConfig.wrong_type"): value}, name=f"wrong_type {path}", source=source)

    @classmethod
    def missing_section(cls, path: str, *, source: str = "") -> BadConfig:
        """The key (or whole section) at `path` removed, like the deleted rate-limit config."""
        return cls(patch={_path(path, "BadConfig.missing_section"): DELETE}, name=f"missing_section {path}", source=source)

    @classmethod
    def out_of_range(cls, path: str, value: Any, *, source: str = "") -> BadConfig:
        """The key at `path` set to a well-typed but out-of-range `value` (negative limit, 0 timeout)."""
        return cls(patch={_path(path, "BadConfig.out_of_range"): value}, name=f"out_of_range {path}", source=source)

    @classmethod
    def from_spec(cls, target: str, **params: Any) -> BadConfig:
        """Build from a form ("document", "patch", "raw") or a preset name, as the CLI and journals do.

        A target `config:NAME` names the source; the form is then `form=` or read from the
        parameters: raw=, document= or patch= as given, path= and value= a patch setting one key,
        path= alone the key removed (missing_section).
        """
        if isinstance(target, str) and target.startswith("config:"):
            source = target[len("config:"):]
            if not source:
                raise InvalidFault("bad_config config:NAME needs the source's name, e.g. config:catalog")
            if params.get("source", source) != source:
                raise InvalidFault(f"bad_config {target} names source {source!r} but source={params['source']!r}")
            params["source"] = source
            form = params.pop("form", None)
            if form is None:
                given = [f for f in _FORMS if f in params]
                if given:
                    form = given[0]
                elif "path" in params and "value" in params:
                    form, params = "patch", {"patch": {params.pop("path"): params.pop("value")}, **params}
                elif "path" in params:
                    form = "missing_section"
                else:
                    raise InvalidFault(f"bad_config {target} needs what to push: path=P value=V (set a key), path=P "
                                       "(remove it), raw=TEXT, document=JSON, patch=OPS, or form=malformed")
            return cls.from_spec(form, **params)
        makers: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {
            "document": (lambda document, name="", source="": cls(document, name=name, source=source), ("document",),
                         ("name", "source")),
            "patch": (lambda patch, name="", source="": cls(patch=_ops_to_patch(patch), name=name, source=source),
                      ("patch",), ("name", "source")),
            "raw": (lambda raw, name="", source="": cls(raw=raw, name=name, source=source), ("raw",), ("name", "source")),
            "malformed": (cls.malformed, (), ("document", "source")),
            "wrong_type": (cls.wrong_type, ("path", "value"), ("source",)),
            "missing_section": (cls.missing_section, ("path",), ("source",)),
            "out_of_range": (cls.out_of_range, ("path", "value"), ("source",)),
        }
        if target not in makers:
            raise InvalidFault(f"bad_config has no form {target!r}; forms are: {', '.join(makers)}")
        make, required, optional = makers[target]
        accepted = required + optional
        for key in params:
            if key not in accepted:
                raise InvalidFault(
                    f"bad_config {target} has no parameter {key!r}; it takes: {', '.join(accepted) or 'no parameters'}"
                )
        for key in required:
            if key not in params:
                raise InvalidFault(f"bad_config {target} needs {key}=")
        return make(**params)

    # -- the common fault protocol -------------------------------------------

    @property
    def form(self) -> str:
        """Which of document, patch or raw this push carries."""
        return next(form for form in _FORMS if getattr(self, form) is not None)

    @property
    def target(self) -> str:
        """`config:NAME` for a push to a named source, else the form (document, patch, raw)."""
        return f"config:{self.source}" if self.source else self.form

    def params(self) -> dict[str, Any]:
        """JSON-able; a patch becomes ordered ["set", path, value] / ["delete", path] operations."""
        if self.patch is not None:
            body: Any = [["delete", p] if v is DELETE else ["set", p, v] for p, v in self.patch.items()]
        else:
            body = getattr(self, self.form)
        return {self.form: body, "name": self.name, **({"source": self.source} if self.source else {})}

    def describe(self) -> str:
        if self.patch is not None:
            summary = "; ".join(f"delete {p}" if v is DELETE else f"set {p}={json.dumps(v)}" for p, v in self.patch.items())
        elif self.document is not None:
            summary = f"document with keys {', '.join(map(str, self.document)) or '(none)'}"
        else:
            summary = f"raw {self.raw!r}"
        line = f"BadConfig({self.name or self.form}{' to ' + self.source if self.source else ''}: {summary})"
        return line if len(line) <= 160 else line[:156] + "...)"

    def validate(self, topology: Any) -> None:
        """The source exists (or is the only one) and can take this form: a patch needs a document to patch."""
        spec = self._spec(topology)
        if spec is None or self.patch is None:
            return
        if spec.kind in ("file", "etcd") and spec.format == "raw":
            raise InvalidFault(f"BadConfig: config.{spec.name} is format = \"raw\", so a patch has no document to "
                               "apply to; push raw= text (or set format = json, yaml or toml in its table)")
        if spec.kind == "env" and set(self.patch) != {spec.var}:
            raise InvalidFault(f"BadConfig: config.{spec.name} is the variable {spec.var}; patch only "
                               f"{{{spec.var!r}: value}}, got {', '.join(map(repr, self.patch))}")

    def _spec(self, topology: Any) -> Any:
        """The [config.X] this push goes to; None for a topology with none (the registered [mesh] config_source)."""
        sources = getattr(topology, "config_sources", None)
        if not sources:
            if self.source:
                raise InvalidFault(f"BadConfig: unknown config source {self.source!r}; this topology declares none "
                                   "(add a [config.NAME] table)")
            return None
        try:
            return topology.config_source_named(self.source or None)
        except InvalidTopology as exc:
            raise InvalidFault(f"BadConfig: {exc}") from None

    def edges(self, topology: object) -> tuple[str, ...]:
        return ()

    def services(self, topology: object) -> tuple[str, ...]:
        return ()

    def targets(self, topology: Any) -> tuple[str, ...]:
        """Who reads the config: its consumers (and, for an HTTP source, the service serving it).

        Every journey that crosses one is in the push's blast radius, unless the source declares
        its `journeys`: then the target is `config:NAME`, and those journeys are the radius.
        """
        spec = self._spec(topology)
        if spec is None:
            return (topology.config_service,) if getattr(topology, "config_service", None) else ()
        if spec.journeys:  # the source declares which journeys depend on it: they alone are in the radius
            return (f"config:{spec.name}",)
        return tuple(sorted({*spec.consumers, *((spec.service,) if spec.service else ())}))

    def holder(self, topology: Any) -> str:
        """The service a push and its revert need running: the http source's service, the etcd service of
        an etcd source in the mesh, the consumer an env source restarts; "" for a file source."""
        spec = self._spec(topology)
        if spec is None:
            return getattr(topology, "config_service", "") or ""
        if spec.kind == "http":
            return spec.service
        if spec.kind == "env":
            return spec.consumers[0]
        if spec.kind == "etcd" and spec.endpoints.startswith("http://{"):
            return spec.endpoints[len("http://{"):-1]
        return ""

    def exclusive_key(self, config_service: str | None = None) -> tuple[str, str]:
        """No two pushes to one source overlap; a push to the config service not a Kill, Pause or Restart of it.

        A push and the rollback that reverts it need the source answering; healed in the other
        order, a first push's rollback would bring the second back.
        """
        if self.source and self.source != config_service:
            return ("config", self.source)
        return ("process", config_service) if config_service else (self.kind, self.target)

    def apply(self, mesh: Mesh) -> Undo:
        """Push the document (a patch is applied to the current one); undo rolls back to the version before, verified."""
        self.validate(mesh.topology)
        client = mesh.config(self.source or None)
        before = client.current()
        render = getattr(client, "render", None)  # a source in its own format (YAML, TOML, a variable)
        raw: Any
        if self.raw is not None:
            raw = self.raw
        elif self.document is not None:
            raw = render(self.document) if render is not None else json.dumps(self.document)
        else:
            if not isinstance(before.document, dict):
                raise InvalidFault(
                    f"BadConfig patch needs the current config to be an object, but version {before.version} is not"
                    + ("" if before.document is not None else " parseable (it may be a bad config already)")
                )
            patched = apply_patch(before.document, self.patch or {})
            raw = render(patched) if render is not None else json.dumps(patched)
        client.push(raw, note=f"cascade: {self.describe()}")

        def undo() -> None:
            client.rollback(before.version, expect_raw=before.raw)

        return undo

    @classmethod
    def draw(cls, ctx: DrawContext) -> SearchStrategy[Any] | None:
        """Bad pushes derived from each source's current content (none without one).

        A source holding a document gets the families of `bad_configs`; one holding text only
        (format = "raw", or content that does not parse) gets that text cut in half. With more
        than one source each push names its own.
        """
        documents = ctx.config_documents
        if not documents:
            if ctx.config_document is None or not ctx.topology.config_service:
                return None
            return bad_configs(ctx.config_document, kinds=ctx.config_kinds or BAD_CONFIG_KINDS)
        from hypothesis import strategies as st

        try:  # unnamed where the name is implied (the only source, or [mesh] config_service's), so
            implied = ctx.topology.config_source_named(None).name  # earlier journals replay as they were
        except InvalidTopology:
            implied = ""
        options = []
        for name, content in sorted(documents.items()):
            source = "" if name == implied else name
            spec = ctx.topology.config_sources.get(name)
            if isinstance(content, Mapping) and content:
                pushes = [p for p in bad_config_options(content, kinds=ctx.config_kinds or BAD_CONFIG_KINDS,
                                                        source=source) if _takes(spec, p)]
                if pushes:
                    options.append(st.sampled_from(pushes))
            elif isinstance(content, str) and content:
                options.append(st.just(cls(raw=content[: max(1, len(content) // 2)], name="truncated", source=source)))
        return st.one_of(options) if options else None


# -- helpers -------------------------------------------------------------------


def _path(path: Any, owner: str) -> str:
    """`path` if it is a string (its dots are checked with the patch); a list or dict cannot be a key."""
    if not isinstance(path, str):
        raise InvalidFault(f"{owner}: path must be a dotted path like 'limits.rate', got {path!r}")
    return path


def _check_patch(patch: Any, owner: str) -> Mapping[str, Any]:
    if not isinstance(patch, Mapping) or not patch:
        raise InvalidFault(f"{owner} must be a non-empty mapping of dotted paths to values, got {patch!r}")
    for path, value in patch.items():
        if not isinstance(path, str) or not path or any(not seg for seg in path.split(".")):
            raise InvalidFault(f"{owner}: {path!r} is not a dotted path like 'limits.rate'")
        if value is not DELETE:
            _check_json(value, f"{owner}[{path!r}]")
    return patch


def _check_json(value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidFault(f"{where}: {value!r} is not valid JSON; push it as raw= text instead")
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidFault(f"{where}: key {k!r} is not a string; JSON keys are strings")
            _check_json(v, f"{where}.{k}")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_json(v, f"{where}[{i}]")
        return
    raise InvalidFault(f"{where}: a {type(value).__name__} is not JSON-able; use raw= for arbitrary text")


def _thaw(value: Any) -> Any:
    """A plain deep copy: mappings become dicts, tuples become lists."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return copy.deepcopy(value)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return {str: "string", int: "number", float: "number"}.get(type(value), type(value).__name__)


def _child(node: Any, key: str, path: str, prefix: str, *, create: bool) -> Any:
    if isinstance(node, list):
        child = node[_index(node, key, path)]
    elif key in node:
        child = node[key]
    elif create:
        child = node[key] = {}
    else:
        raise InvalidFault(f"cannot delete {path!r}: {prefix!r} does not exist")
    if not isinstance(child, (dict, list)):
        raise InvalidFault(f"cannot apply {path!r}: {prefix!r} is a {_json_type(child)}, not an object or array")
    return child


def _index(node: list[Any], key: str, path: str) -> int:
    if not key.isdecimal() or int(key) >= len(node):
        raise InvalidFault(f"cannot apply {path!r}: {key!r} is not an index of an array of {len(node)}")
    return int(key)


def _ops_to_patch(patch: Any) -> Any:
    """Accept the journal's ordered operations as well as a mapping."""
    if isinstance(patch, Sequence) and not isinstance(patch, str):
        out: dict[str, Any] = {}
        for op in patch:
            ok = isinstance(op, Sequence) and not isinstance(op, str) and len(op) in (2, 3) and isinstance(op[1], str)
            if ok and len(op) == 3 and op[0] == "set":
                out[op[1]] = op[2]
            elif ok and len(op) == 2 and op[0] == "delete":
                out[op[1]] = DELETE
            else:
                raise InvalidFault(f"bad_config patch: {op!r} is not ['set', path, value] or ['delete', path]")
        return out
    return patch


# -- how exploration draws bad pushes ------------------------------------------------

BAD_CONFIG_KINDS = ("malformed", "wrong_type", "missing_section", "boundary", "dangling")
UNDEFINED_NAME = "cascade-undefined"


def config_leaves(document: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, value) of `document`, containers before their contents; list items by index.

    Keys containing a dot cannot be written as a dotted patch path, so they are left out.
    """
    items: list[tuple[str, Any]]
    if isinstance(document, Mapping):
        items = [(str(k), v) for k, v in document.items() if "." not in str(k)]
    elif isinstance(document, list):
        items = [(str(i), v) for i, v in enumerate(document)]
    else:
        return
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else key
        yield path, value
        yield from config_leaves(value, path)


_OTHER_TYPES: tuple[Any, ...] = ("oops", 12_345, True, None, [], {})


def _json_kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "other")


def _boundaries(value: Any) -> tuple[Any, ...]:
    if isinstance(value, bool):
        return ()
    if isinstance(value, (int, float)):
        return tuple(v for v in (0, -1, 10**12) if v != value)
    if isinstance(value, str) and value:
        return ("",)
    return ()


def bad_configs(document: Mapping[str, Any], *, kinds: tuple[str, ...] = BAD_CONFIG_KINDS,
                source: str = "") -> st.SearchStrategy[BadConfig]:
    """Bad pushes derived from `document` (the config service's current one), of the given kinds (see the table above)."""
    options = bad_config_options(document, kinds=kinds, source=source)
    from hypothesis import strategies as st  # only when exploring: importing faults stays light

    return st.sampled_from(options)


def bad_config_options(document: Mapping[str, Any], *, kinds: tuple[str, ...] = BAD_CONFIG_KINDS,
                       source: str = "") -> list[BadConfig]:
    """Every bad push `bad_configs` draws from, in order."""
    if not isinstance(document, Mapping) or not document:
        raise UsageError(f"bad_configs needs the current config document as a non-empty JSON object, got {document!r:.80}")
    unknown = [k for k in kinds if k not in BAD_CONFIG_KINDS]
    if unknown or not kinds:
        raise UsageError(f"bad_configs: unknown kind {unknown[0] if unknown else '(none given)'!r}; "
                         f"kinds are: {', '.join(BAD_CONFIG_KINDS)}")
    leaves = list(config_leaves(document))
    by_kind: dict[str, list[BadConfig]] = {
        "malformed": [BadConfig.malformed(document, source=source)],
        "wrong_type": [BadConfig.wrong_type(p, other, source=source) for p, v in leaves
                       for other in _OTHER_TYPES if _json_kind(other) != _json_kind(v)],
        "missing_section": [BadConfig.missing_section(p, source=source) for p, v in leaves if isinstance(v, (dict, list))],
        "boundary": [BadConfig.out_of_range(p, b, source=source) for p, v in leaves for b in _boundaries(v)],
        "dangling": [BadConfig(patch={p: UNDEFINED_NAME}, name=f"dangling {p}", source=source) for p, v in leaves
                     if isinstance(v, str) and v],
    }
    options = [c for k in kinds for c in by_kind[k]]
    if not options:
        raise UsageError(f"bad_configs: the document offers nothing for kinds {', '.join(kinds)}")
    return options


def _takes(spec: Any, push: BadConfig) -> bool:
    """Whether the source can hold what `push` makes: a variable holds text, TOML has no null."""
    if spec is None or push.patch is None:
        return True
    values = [v for v in push.patch.values() if v is not DELETE]
    if spec.kind == "env":
        return all(isinstance(v, (str, int, float, bool)) for v in values)
    if spec.format == "toml":
        return all(v is not None for v in values)
    return True

