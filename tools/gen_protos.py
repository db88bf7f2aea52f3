"""Compile protos/ into meshpilot/api/ with grpcio-tools.

    python tools/gen_protos.py          # regenerate
    python tools/gen_protos.py --check  # fail (exit 1) if meshpilot/api is stale

Generated code is never edited by hand; the check runs in `make test`.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import pathlib
import shutil
import sys
import tempfile

import grpc_tools
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
API = ROOT / "meshpilot" / "api"
HEADER = "# Generated from protos/ by tools/gen_protos.py. DO NOT EDIT.\n"


def generate(out: pathlib.Path) -> None:
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = ["protoc", f"-I{PROTOS}", f"-I{include}", f"--python_out={out}", f"--pyi_out={out}"]
    if protoc.main([*args, *sources]) != 0:
        raise SystemExit("protoc failed")
    api = out / "meshpilot" / "api"
    for d in [api, *[p for p in api.rglob("*") if p.is_dir()]]:
        (d / "__init__.py").write_text(HEADER)
    (api / "py.typed").write_text("")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp)
        generate(out)
        fresh = out / "meshpilot" / "api"
        if ns.check:
            stale = _differences(fresh, API)
            if stale:
                print("meshpilot/api is stale; run `make protos`. Differs:", *stale, sep="\n  ")
                return 1
            print("meshpilot/api is up to date")
            return 0
        shutil.rmtree(API, ignore_errors=True)
        shutil.copytree(fresh, API)
    print(f"generated {API.relative_to(ROOT)}")
    return 0


def _differences(a: pathlib.Path, b: pathlib.Path) -> list[str]:
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    out = [str(p) for p in sorted(files_a ^ files_b)]
    for rel in sorted(files_a & files_b):
        if not filecmp.cmp(a / rel, b / rel, shallow=False):
            out.append(str(rel))
    return out


if __name__ == "__main__":
    sys.exit(main())
