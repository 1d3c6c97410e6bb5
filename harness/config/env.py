"""The "env" config source: one environment variable of one service, applied by restarting that service.

On the local runtime the process is started again with the new value; on compose the container
is recreated from a third compose file the runtime writes (config-env.override.yaml, beside its
override), with `up --no-deps --force-recreate` of that one service.

    [config.pricing_env]
    kind = "env"
    consumers = ["pricing"]
    var = "PRICING_PLAN"

Its document is {VAR: value} (the variable absent: {}), so `BadConfig(patch={"PRICING_PLAN":
"free"}, source="pricing_env")` and `BadConfig(raw="free", source="pricing_env")` push the same
value. A push restarts the consumer with the new value; it has applied it once it is healthy
again, and one that does not come back (it refused the value and exited) shows as behind. The
variable lives only in the mesh's processes, so a crashed runner's bad value ends with its mesh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigPushError, InvalidFault
from ..runtime.runstate import register_reaper
from .base import ConfigVersion, register_config_source
from .stored import StoredSource

if TYPE_CHECKING:
    from ..topology import ConfigSourceSpec
    from .base import Mesh

__all__ = ["EnvSource", "env_source"]

RESOURCE = "config_env"


class EnvSource(StoredSource):
    """A variable of one service; its versions are the values the harness gave it."""

    resource_kind = RESOURCE

    def __init__(self, mesh: Mesh, spec: ConfigSourceSpec) -> None:
        super().__init__(mesh, spec)
        self.service = spec.consumers[0]
        if not hasattr(mesh.runtime, "set_env"):
            raise ConfigPushError(f"config.{spec.name}: the {mesh.runtime.name} runtime cannot change a service's "
                                  "environment; env sources run on the local and compose runtimes")

    def describe(self) -> str:
        return f"{self.spec.var} of {self.service}"

    def _where(self) -> dict[str, Any]:
        return {"service": self.service, "var": self.spec.var}

    def _read(self) -> bytes | None:
        value = self.mesh.runtime.env_value(self.service, self.spec.var)
        return None if value is None else value.encode("utf-8", errors="surrogateescape")

    def _write(self, data: bytes | None) -> None:
        if data is not None and b"\0" in data:
            raise InvalidFault(f"config.{self.spec.name}: an environment variable cannot hold a NUL byte")
        value = None if data is None else data.decode("utf-8", errors="surrogateescape")
        self.mesh.runtime.set_env(self.service, self.spec.var, value)

    def current(self) -> ConfigVersion:
        cur = super().current()
        return ConfigVersion(cur.version, cur.raw, self.document_of(self._versions[-1].data))

    def document_of(self, data: bytes | None) -> dict[str, Any]:
        return {} if data is None else {self.spec.var: data.decode("utf-8", errors="surrogateescape")}

    def render(self, document: Any) -> bytes | None:
        """The variable's value in `document` ({VAR: value}; {} unsets it)."""
        if not isinstance(document, dict) or set(document) - {self.spec.var}:
            extra = sorted(set(document) - {self.spec.var}) if isinstance(document, dict) else [repr(document)]
            raise InvalidFault(f"config.{self.spec.name} holds only {self.spec.var}; cannot set {', '.join(extra)}")
        if self.spec.var not in document:
            return None
        value = document[self.spec.var]
        if not isinstance(value, (str, int, float, bool)):
            raise InvalidFault(f"config.{self.spec.name}: {self.spec.var} must be text, got {value!r}")
        text = value if isinstance(value, str) else ("true" if value is True else "false" if value is False else str(value))
        return text.encode("utf-8", errors="surrogateescape")


def _ended(resource: dict[str, Any]) -> str:
    return f"{resource.get('var')} of {resource.get('service')} (config.{resource.get('source')}) ended with its process"


register_reaper(RESOURCE, _ended)


@register_config_source("env")
def env_source(mesh: Mesh, spec: ConfigSourceSpec | None = None) -> EnvSource:
    """A [config.X] kind = "env" table's source."""
    if spec is None:
        raise ConfigPushError("an env config source is declared in a [config.NAME] table (kind = \"env\", var = ...)")
    return EnvSource(mesh, spec)
