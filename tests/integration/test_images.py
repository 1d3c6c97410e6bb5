"""`cascade images` against a real Docker engine: a user's Python service built with no registry.

The local base (the one docker/build-images.sh makes for the bundled images, reused here) has a
pip on PATH; `images wheels` picks, from a folder of wheels, the one built for the *image's*
Python (a wheel for another Python is refused by name); `images build` builds a compose file's
service whose Dockerfile was written for python:3.11-slim, on the local base, and the image runs
the service with its dependency installed from those wheels, no index anywhere.

Needs a Docker engine and the compose images; skipped with the reason otherwise, unless
CASCADE_REQUIRE_DOCKER=1. The wheels are made by the test (a zip with a dist-info), so nothing is
downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import textwrap
import uuid
import zipfile
from pathlib import Path

import pytest

from harness import images
from harness.cli import main
from harness.errors import ProvisionError

from .conftest import skip_module_without_compose

pytestmark = pytest.mark.integration

skip_module_without_compose()

BASE = images.DEFAULT_BASE
EXTRA = ("redis-server",)  # the bundled images' base: made by docker/build-images.sh, reused here


def make_wheel(folder: Path, tag: str, greeting: str) -> Path:
    """A minimal valid wheel of `shopgreet` 1.0 with the given tag (e.g. cp311-cp311-manylinux_2_17_x86_64)."""
    files = {
        "shopgreet/__init__.py": f"def hello():\n    return {greeting!r}\n",
        "shopgreet-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: shopgreet\nVersion: 1.0\n",
        "shopgreet-1.0.dist-info/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n",
    }
    record = [f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(text.encode())}" for name, text in files.items()]
    files["shopgreet-1.0.dist-info/RECORD"] = "\n".join([*record, "shopgreet-1.0.dist-info/RECORD,,", ""])
    path = folder / f"shopgreet-1.0-{tag}.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


@pytest.fixture(scope="module")
def base_and_python():
    tag, _ = images.make_base(EXTRA, BASE)
    return tag, images.image_python(tag)


def test_the_local_base_has_pip_on_path_in_a_venv(base_and_python):
    tag, python = base_and_python
    out = subprocess.run(["docker", "run", "--rm", "--network", "none", tag, "sh", "-c", "command -v pip; command -v python; pip --version"],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[:2] == ["/opt/venv/bin/pip", "/opt/venv/bin/python"]
    assert f"(python {'.'.join(python.split('.')[:2])})" in out


def test_wheels_are_chosen_for_the_images_python_and_another_python_is_refused(tmp_path, base_and_python):
    tag, python = base_and_python
    cp = "cp" + "".join(python.split(".")[:2])
    machine = images.engine_machine()
    links = tmp_path / "links"
    links.mkdir()
    mine = make_wheel(links, f"{cp}-{cp}-manylinux_2_17_{machine}", "for the image")
    make_wheel(links, f"cp39-cp39-manylinux_2_17_{machine}", "for another python")
    req = tmp_path / "requirements.txt"
    req.write_text("shopgreet==1.0\n")
    dest, downloaded = images.wheels(req, tag, tmp_path / "wheels", find_links=[str(links)], no_index=True)
    assert downloaded and sorted(p.name for p in dest.glob("*.whl")) == [mine.name]
    assert images.wheels(req, tag, dest, find_links=[str(links)], no_index=True)[1] is False  # kept

    (links / mine.name).unlink()
    with pytest.raises(ProvisionError, match=rf"pip could not download wheels of .* for Python {python} on {machine}"):
        images.wheels(req, tag, tmp_path / "other", find_links=[str(links)], no_index=True)


def test_a_service_written_for_python_slim_is_built_on_the_local_base_and_runs(tmp_path, base_and_python, capsys):
    tag, python = base_and_python
    cp = "cp" + "".join(python.split(".")[:2])
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links, f"{cp}-{cp}-manylinux_2_17_{images.engine_machine()}", "hello from the shop")
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("shopgreet==1.0\n")
    (app / "Dockerfile").write_text(textwrap.dedent("""\
        ARG BASE=python:3.11-slim
        FROM ${BASE}
        COPY wheels/ /wheels/
        RUN pip install --no-cache-dir --no-index --find-links /wheels -r /wheels/requirements.txt
        USER 65532
        CMD ["python", "-c", "import shopgreet; print(shopgreet.hello())"]
        """))
    image = f"cascade-test/greet-{uuid.uuid4().hex[:8]}:dev"
    (tmp_path / "compose.yaml").write_text(f"services:\n  greet:\n    image: {image}\n    build: ./app\n")
    try:
        assert main(["images", "wheels", "-r", str(app / "requirements.txt"), "--image", tag, "--dest",
                     str(app / "wheels"), "--find-links", str(links), "--no-index"]) == 0
        assert main(["images", "build", "--compose", str(tmp_path / "compose.yaml"), "--bases", "local",
                     "--packages", ",".join(EXTRA), "--tag", tag]) == 0
        assert capsys.readouterr().out.splitlines()[-1] == tag
        out = subprocess.run(["docker", "run", "--rm", "--network", "none", image], capture_output=True, text=True, timeout=60)
        assert (out.returncode, out.stdout) == (0, "hello from the shop\n"), out.stderr
    finally:
        subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True)
