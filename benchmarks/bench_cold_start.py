"""Cold-start import cost: our app.py against a bare Chalice app that imports boto3.

Each sample is a fresh interpreter that times ``import app`` with time.perf_counter (interpreter
start-up itself is not counted); the best of N samples is reported for each, measured
interleaved in the same run so both see the same machine. Target: ours / bare < 1.5.

Also reported: the modules a first planning cycle goes on to import (what the first invocation
pays on top of the import), and the slowest imports from ``python -X importtime``.

    python benchmarks/bench_cold_start.py [-n 15] [--package build/package-dev]

With --package (a directory written by bench_package.py), the app is imported from the unpacked
deployment.zip and layer as on Lambda, where the code directories are read-only: Python uses the
.pyc files the package carries (infra/package.py adds them) and compiles, without saving, any
module that has none.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BARE_APP = """\
import boto3
from chalice import Chalice

app = Chalice(app_name="bare")


@app.route("/")
def index():
    return {"client": boto3.__name__}
"""

# The modules a planning cycle imports after app.py (see chalicelib.entry.schedules).
FIRST_CYCLE = (
    "chalicelib.workflows.planning, chalicelib.config.bootstrap, chalicelib.adapters.store.dynamodb"
)

TIMER = """\
import sys, time
sys.path[:0] = {paths!r}
start = time.perf_counter()
import app
imported = time.perf_counter()
{extra}
print(imported - start, time.perf_counter() - start)
"""


def sample(paths: list[str], cwd: Path, extra: str = "", bytecode: bool = True) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BURST_ASSURANCE_", "PYTHON"))}
    command = [sys.executable]
    if not bytecode:
        command.append("-B")  # read the package's .pyc files but write none, as on Lambda
    code = TIMER.format(paths=paths, extra=extra)
    done = subprocess.run(
        [*command, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return [float(x) for x in done.stdout.split()]


def unpack(package: Path, into: Path) -> list[str]:
    """Unzip a chalice package (function and layers); the sys.path Lambda would use."""
    for archive in package.glob("*.zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)
    layer = sorted(into.glob("python/lib/python*/site-packages"))
    return [str(into), *map(str, layer)]


def slowest_imports(
    paths: list[str], cwd: Path, top: int, bytecode: bool
) -> list[tuple[float, str]]:
    code = f"import sys; sys.path[:0] = {paths!r}; import app"
    flags = ["-X", "importtime"] if bytecode else ["-B", "-X", "importtime"]
    done = subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if match and len(match.group(2)) <= 4:  # app and the two levels below it
            rows.append((int(match.group(1)) / 1e6, match.group(2) + match.group(3)))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="samples per app (best is kept)")
    parser.add_argument("--package", type=Path, help="a bench_package.py output directory")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        bare_dir = Path(tmp) / "bare"
        bare_dir.mkdir()
        (bare_dir / "app.py").write_text(BARE_APP)
        if args.package:
            ours_paths, ours_cwd = unpack(args.package, Path(tmp) / "task"), Path(tmp) / "task"
            bytecode = False
        else:
            ours_paths, ours_cwd, bytecode = [str(ROOT)], ROOT, True

        ours: list[float] = []
        first: list[float] = []
        bare: list[float] = []
        extra = f"import {FIRST_CYCLE}"
        for _ in range(args.n):
            imported, total = sample(ours_paths, ours_cwd, extra, bytecode)
            ours.append(imported)
            first.append(total)
            bare.append(sample([str(bare_dir)], bare_dir)[0])

        where = f"unpacked {args.package}" if args.package else "repository, .venv"
        print(f"cold import, best of {args.n} fresh interpreters ({where}):")
        print(f"  bare Chalice app + boto3   {min(bare) * 1000:7.1f} ms")
        print(f"  app.py                     {min(ours) * 1000:7.1f} ms")
        print(f"  ratio                      {min(ours) / min(bare):7.2f} x  (target < 1.5 x)")
        print(f"  app.py + first cycle       {min(first) * 1000:7.1f} ms  ({FIRST_CYCLE})")
        print(f"\nslowest imports under app (cumulative, one -X importtime run, {where}):")
        for seconds, name in slowest_imports(ours_paths, ours_cwd, args.top, bytecode):
            print(f"  {seconds * 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
