"""`cascade inject TARGET FAULT [NAME=VALUE...]`: apply one fault, verified, to the mesh `cascade up` started."""

from __future__ import annotations

import argparse
import shlex

from ._common import colour, print_json
from .status import add_topology_option, held_name

__all__ = ["register", "run"]

EXAMPLES = """examples:
  cascade inject 'timeline->media' latency ms=2000
  cascade inject 'timeline->media' latency ms=500 jitter_ms=100 direction=both
  cascade inject 'timeline->redis' down
  cascade inject timeline kill              (also: pause, restart, partition)
  cascade inject missing_section bad_config path=timeouts_ms   (a config push, rolled back by heal)
  cascade inject config:catalog bad_config path=pricing_timeout_ms value=0   (to [config.catalog], restored by heal)
  cascade inject config:site bad_config raw='{not json'
  cascade inject 'catalog->pricing' http_error status=403 body=@error.json   (the callee never sees it)
  cascade inject 'gateway->auth' http_error status=503 percent=30 path=/session/* method=GET
  cascade inject 'gateway->auth' http_error status=500 first=3     (the next 3 requests, then they pass)
  cascade inject 'gateway->timeline' http_delay ms=800 percent=50
  cascade inject 'timeline->media' http_replace status=200 body='<html>oops</html>' 'headers={"content-type": "text/html"}'
"""

AFTER = """
Values are read as JSON when they parse, else as text; body=@FILE reads a file (a .json one
is sent as application/json). TCP faults on an edge also take direction=downstream|upstream|both
and toxicity=0..1 where Toxiproxy has them; HTTP faults (http_*) go on HTTP edges only.
The fault stays until `cascade heal` or `cascade down`.
"""


def kinds_help() -> str:
    """One line per registered fault kind: what it acts on and its parameters (read from the registry)."""
    from ..faults import FAULT_KINDS

    lines = ["fault kinds (FAULT), what they act on, and their parameters:"]
    for name, cls in FAULT_KINDS.items():
        lines.append(f"  {name:<12} {cls.target_word():<8} {cls.usage_line()}".rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..errors import InvalidFault
    from ..faults import parse_fault
    from ..paths import state_dir
    from ._held import call, find_held

    try:  # checked before the mesh is asked
        fault = parse_fault(shlex.join([args.fault, args.target, *args.params]))
    except InvalidFault as exc:  # its example in this command's word order: TARGET first
        raise exc.respelled(lambda kind, target, rest: " ".join(
            w for w in ("cascade inject", shlex.quote(target), kind, rest) if w)) from None
    held, _path = find_held(state_dir(), held_name(args))
    rec = call(held, "inject", kind=fault.kind, target=fault.target, params=fault.params())
    if args.json:
        print_json(rec)
    else:
        target = rec["targets"][0] if rec["targets"] else args.target
        print(colour(f"applied {rec['fault']}", "yellow") + f" (verified); on: {', '.join(rec['targets'])}")
        print(f"undo with: cascade heal {shlex.quote(target)}   (or `cascade heal` for every fault)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    i = sub.add_parser("inject", help="apply a fault to an edge or service of the mesh `cascade up` started",
                       epilog=EXAMPLES + "\n" + kinds_help() + "\n" + AFTER,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("target", metavar="EDGE_OR_SERVICE", help="an edge 'caller->callee' or a service name")
    i.add_argument("fault", metavar="FAULT", help="the fault kind, e.g. latency, down, kill")
    i.add_argument("params", nargs="*", metavar="NAME=VALUE", help="the fault's parameters, e.g. ms=2000")
    add_topology_option(i)
    i.add_argument("--json", action="store_true", help="machine-readable output (the fault's record)")
    i.set_defaults(func=run)
