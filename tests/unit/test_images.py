"""`cascade images`: the local base, wheels for an image's own Python, and building a compose file's images (no Docker)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from harness import images
from harness.errors import ProvisionError, UsageError

ROOT = Path(__file__).parents[2]


def test_every_base_has_python_with_pip_and_the_packages_asked_for_once_each():
    assert images.packages_of(["postgresql-15,nginx-light", "nodejs", "nginx-light"]) == (
        "python3", "python3-venv", "ca-certificates", "postgresql-15", "nginx-light", "nodejs")
    with pytest.raises(UsageError, match=r"'Nginx' is not a Debian package name; give names such as"):
        images.packages_of(["Nginx"])
    with pytest.raises(UsageError, match=r"'nodejs;rm' is not a Debian package name"):
        images.packages_of(["nodejs;rm"])


def test_the_tag_and_label_follow_the_packages():
    bare = images.packages_of([])
    assert images.default_tag(bare) == "cascade/base:bookworm"
    shop = images.default_tag(images.packages_of(["postgresql-15,nginx-light,nodejs"]))
    assert shop.startswith("cascade/base:bookworm-") and len(shop.rsplit("-", 1)[1]) == 12
    assert shop == images.default_tag(images.packages_of(["postgresql-15", "nginx-light", "nodejs"]))
    assert images.base_key(bare) == f"bookworm:{images.LAYOUT}:python3,python3-venv,ca-certificates"


def test_mmdebstrap_makes_a_venv_and_takes_security_updates_from_the_same_mirror():
    argv = images.mmdebstrap_argv(images.packages_of(["nodejs"]), "http://mirror.example/debian")
    assert "--include=python3,python3-venv,ca-certificates,nodejs" in argv
    assert '--customize-hook=chroot "$1" python3 -m venv /opt/venv' in argv
    assert argv[-2:] == ["deb http://mirror.example/debian bookworm main",
                         "deb http://mirror.example/debian-security bookworm-security main"]


def test_the_host_mirror_comes_from_apt_sources_of_either_format_never_security(tmp_path):
    d = tmp_path / "etc/apt/sources.list.d"
    d.mkdir(parents=True)
    (d / "debian.sources").write_text("Types: deb\nURIs: http://a.example/debian-security\n\nTypes: deb\n"
                                      "URIs: http://a.example/debian\nSuites: bookworm\n")
    assert images.host_mirror(tmp_path) == "http://a.example/debian"
    (d / "debian.sources").unlink()
    (tmp_path / "etc/apt/sources.list").write_text("# comment\ndeb [arch=amd64] http://x\ndeb http://b.example/debian bookworm main\n")
    assert images.host_mirror(tmp_path) == "http://b.example/debian"
    (tmp_path / "etc/apt/sources.list").write_text("")
    assert images.host_mirror(tmp_path) == ""


def test_pip_downloads_for_the_images_python_not_the_hosts():
    argv = images.pip_download_argv("py", Path("r.txt"), Path("w"), version="3.12.1", machine="aarch64", hashed=False)
    assert argv[argv.index("--python-version") + 1] == "3.12.1"
    assert argv[argv.index("--abi") + 1] == "cp312"
    assert "manylinux_2_17_aarch64" in argv and "--only-binary=:all:" in argv
    assert "--require-hashes" not in argv and "--no-index" not in argv
    locked = images.pip_download_argv("py", Path("r.txt"), Path("w"), version="3.11.2", machine="x86_64", hashed=True,
                                      find_links=["/links"], no_index=True)
    assert {"--require-hashes", "--no-deps", "--no-index"} <= set(locked)
    assert locked[locked.index("--find-links") + 1] == "/links"


class FakeDocker:
    """Answers the docker and pip commands images.py runs; records them."""

    def __init__(self, *, label: str | None = None, python: str = "3.11.2", arch: str = "x86_64"):
        self.label, self.python, self.arch, self.calls = label, python, arch, []

    def __call__(self, argv, **kw):
        self.calls.append(list(argv))
        out, rc = "", 0
        if argv[:3] == ["docker", "image", "inspect"]:
            out, rc = ('{"cascade.base": "%s"}' % self.label, 0) if self.label is not None else ("", 1)
        elif argv[:2] == ["docker", "run"]:
            out = self.python + "\n"
        elif argv[:2] == ["docker", "info"]:
            out = self.arch + "\n"
        elif "pip" in argv:
            dest = Path(argv[argv.index("--dest") + 1])
            (dest / "demo-1.0-py3-none-any.whl").write_bytes(b"")
        return subprocess.CompletedProcess(argv, rc, out, "")


def test_a_base_whose_label_matches_is_reused_without_mmdebstrap():
    packages = images.packages_of(["redis-server"])
    fake = FakeDocker(label=images.base_key(packages))
    assert images.make_base(["redis-server"], "cascade/base:bookworm", run=fake) == ("cascade/base:bookworm", False)
    assert all(c[0] == "docker" for c in fake.calls)


def test_wheels_are_kept_until_the_requirements_or_the_images_python_change(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("demo==1.0\n")
    fake = FakeDocker()
    assert images.wheels(req, "img", tmp_path / "w", run=fake)[1] is True
    assert (tmp_path / "w" / "requirements.txt").read_text() == "demo==1.0\n"
    assert images.wheels(req, "img", tmp_path / "w", run=fake)[1] is False
    assert images.wheels(req, "img", tmp_path / "w", run=FakeDocker(python="3.12.0"))[1] is True
    with pytest.raises(UsageError, match="no requirements file at"):
        images.wheels(tmp_path / "nope.txt", "img", tmp_path / "w", run=fake)


def test_an_image_without_python_and_an_unknown_engine_are_named():
    class NoPython(FakeDocker):
        def __call__(self, argv, **kw):
            if argv[:2] == ["docker", "run"]:
                return subprocess.CompletedProcess(argv, 127, "", "exec: python3: not found")
            return super().__call__(argv, **kw)

    with pytest.raises(UsageError, match=r"image 'nginx:1.27' has no python3 .* give a Python base: cascade/base:bookworm"):
        images.image_python("nginx:1.27", NoPython())
    with pytest.raises(ProvisionError, match=r"architecture 's390x'"):
        images.engine_machine(FakeDocker(arch="s390x"))


def test_the_example_systems_dockerfiles_each_take_their_official_base_as_build_argument():
    plan = images.plan_build(ROOT / "examples" / "shop" / "compose.yaml")
    assert {b.service: b.default_base for b in plan.services} == {
        "db": "postgres:15-bookworm", "front": "nginx:1.27-bookworm", "storefront": "node:20-bookworm-slim",
        "orders": "gcr.io/distroless/static-debian12:nonroot", "pricing": "gcr.io/distroless/static-debian12:nonroot"}


def test_a_dockerfile_with_a_fixed_base_is_refused_with_the_fix(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM node:20-slim\nCOPY . /app\n")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: .\n")
    with pytest.raises(UsageError, match=r"Dockerfile does not take its base as a build argument; start it with "
                                         r"`ARG BASE=<the official image"):
        images.plan_build(tmp_path / "compose.yaml")
    (tmp_path / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\n")  # no default: no official base to fall back on
    with pytest.raises(UsageError, match="does not take its base"):
        images.plan_build(tmp_path / "compose.yaml")
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        # syntax comment
        ARG BASE=python:3.11-slim
        FROM $BASE AS run
        """))
    assert images.plan_build(tmp_path / "compose.yaml").official == ("python:3.11-slim",)


def test_compose_files_with_nothing_to_build_or_a_missing_dockerfile_are_named(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  redis: {image: redis:7}\n")
    with pytest.raises(UsageError, match="has no service with a `build:` section"):
        images.plan_build(tmp_path / "compose.yaml")
    (tmp_path / "compose.yaml").write_text("services:\n  web: {build: {context: app, dockerfile: web.Dockerfile}}\n")
    with pytest.raises(UsageError, match=r"service 'web' of .*: no Dockerfile at .*app/web.Dockerfile"):
        images.plan_build(tmp_path / "compose.yaml")
    with pytest.raises(UsageError, match="no compose file at"):
        images.plan_build(tmp_path / "missing.yaml")
    with pytest.raises(UsageError, match=r"--bases 'cloud': use auto, official or local"):
        images.build(tmp_path / "compose.yaml", bases="cloud")
