"""The Allure HTML generator: installed once from the npm registry into Cascade's cache, run on the machine's Java.

    find_generator()   ~/.cache/cascade/allure/<version>/node_modules/.bin/allure, installed on first use
                       with `npm install --prefix` (needs npm); every later use is offline
    generate(results, out)   `allure generate RESULTS -o OUT --clean` (needs Java 8+); returns OUT/index.html
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
from pathlib import Path
from typing import Callable, Mapping

from ..errors import ProvisionError, UsageError
from ..paths import cache_dir
from ..runtime.provision import run_tool

__all__ = ["ALLURE_VERSION", "allure_cache", "find_generator", "generate"]

ALLURE_VERSION = "2.46.1"  # npm package allure-commandline
_INSTALL_TIMEOUT_S = 600.0
_GENERATE_TIMEOUT_S = 600.0

Log = Callable[[str], None]


def allure_cache(env: Mapping[str, str] | None = None) -> Path:
    """Where the pinned allure-commandline lives once installed."""
    return cache_dir(env) / "allure" / ALLURE_VERSION


def find_generator(*, env: Mapping[str, str] | None = None, log: Log | None = None) -> Path:
    """The `allure` launcher of the pinned version, installed with npm into the cache if it is not there yet."""
    env = dict(os.environ) if env is None else dict(env)
    dest = allure_cache(env)
    launcher = dest / "node_modules" / ".bin" / "allure"
    if launcher.exists():
        return launcher
    npm = shutil.which("npm", path=env.get("PATH"))
    if npm is None:
        raise ProvisionError(
            f"npm not found: the Allure generator (npm package allure-commandline {ALLURE_VERSION}) is installed with "
            f"it once into {dest}; install Node.js and npm (apt-get install npm) and run again"
        )
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{ALLURE_VERSION}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second install at the same time waits, then finds it done
        if not launcher.exists():
            if log is not None:
                log(f"installing allure-commandline {ALLURE_VERSION} with npm into {dest} (once)")
            run_tool([npm, "install", "--prefix", str(dest), "--no-audit", "--no-fund", "--no-save",
                      f"allure-commandline@{ALLURE_VERSION}"], env=env, timeout_s=_INSTALL_TIMEOUT_S,
                     remedy="check that the npm registry is reachable (npm config get registry)")
    if not launcher.exists():
        raise ProvisionError(f"npm install finished but left no {launcher}; remove {dest} and run again")
    return launcher


def generate(results: Path, out: Path, *, single_file: bool = False, env: Mapping[str, str] | None = None,
             log: Log | None = None) -> Path:
    """Build the HTML report of the Allure `results` into `out` (replaced); returns its index.html."""
    env = dict(os.environ) if env is None else dict(env)
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise UsageError(f"no Allure results in {results}: run pytest with --alluredir {results} first, "
                         "or point --results at the directory it wrote")
    java_home = env.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").exists()) and shutil.which("java", path=env.get("PATH")) is None:
        raise ProvisionError("java not found: the Allure generator runs on Java 8 or newer; "
                             "install it (apt-get install openjdk-17-jre-headless) or set JAVA_HOME")
    launcher = find_generator(env=env, log=log)
    argv = [str(launcher), "generate", str(results), "-o", str(out), "--clean", *(["--single-file"] if single_file else [])]
    run_tool(argv, env=env, timeout_s=_GENERATE_TIMEOUT_S, remedy=f"check the results in {results}")
    index = out / "index.html"
    if not index.exists():
        raise ProvisionError(f"`{shlex.join(argv)}` finished but wrote no {index}")
    return index


