"""How big is what Lambda gets? Packages the app as for CloudFormation and reports the sizes.

Runs infra/package.py (``chalice package`` with the merge template) into a directory, then
prints the size of deployment.zip (target: under 15 MiB) and of the dependency layer when
``automatic_layer`` is on, their sum (target: at most 30 MB, 30,000,000 bytes), and the largest
contributors, zipped and unzipped. ``--check`` exits 1 when a target is missed.

    python benchmarks/bench_package.py [--stage dev] [--out build/package-dev] [--top 12] [--check]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_BYTES = 15 * 1024 * 1024
TOTAL_TARGET_BYTES = 30 * 1000 * 1000
MB = 1024 * 1024
SITE_PACKAGES = re.compile(r"^python/lib/python[0-9.]+/site-packages/")


def package(stage: str, out: Path) -> str:
    if out.exists():
        shutil.rmtree(out)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BURST_ASSURANCE_")}
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1"))
    command = [sys.executable, "infra/package.py", "--stage", stage]
    command += ["--merge-template", "infra/template.json", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"packaging failed:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def contributor(path: str) -> str:
    """The package or top-level module a zip entry belongs to (a .dist-info joins its package)."""
    parts = SITE_PACKAGES.sub("", path).split("/")
    top = parts[0] if parts[0] != "__pycache__" else parts[-1].split(".")[0]
    if top.endswith((".dist-info", ".libs")):
        top = top.split("-")[0].removesuffix(".libs")
    return top.removesuffix(".py")


def sizes(archive: Path) -> tuple[Counter[str], Counter[str]]:
    zipped: Counter[str] = Counter()
    unzipped: Counter[str] = Counter()
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            zipped[contributor(info.filename)] += info.compress_size
            unzipped[contributor(info.filename)] += info.file_size
    return zipped, unzipped


def missing_requirements(out: Path) -> list[str]:
    """Requirements with no .dist-info in any of the package's zips."""
    shipped = set()
    for archive in out.glob("*.zip"):
        with zipfile.ZipFile(archive) as z:
            for path in z.namelist():
                shipped |= {p.split("-")[0].lower() for p in path.split("/") if ".dist-info" in p}
    required = [
        re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower().replace("-", "_")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    ]
    return [name for name in required if name not in shipped]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--out", type=Path, help="default: build/package-<stage>")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    out = (args.out or ROOT / "build" / f"package-{args.stage}").resolve()

    package(args.stage, out)
    missing = missing_requirements(out)
    if missing:
        # Chalice only warns (and only when it builds, not when it reuses its cache).
        print(f"WARNING: not in the package (no Lambda-compatible wheel?): {', '.join(missing)}")

    total_zipped: Counter[str] = Counter()
    total_unzipped: Counter[str] = Counter()
    total_bytes = 0
    for archive in sorted(out.glob("*.zip")):
        zipped, unzipped = sizes(archive)
        total_zipped += zipped
        total_unzipped += unzipped
        size = archive.stat().st_size
        total_bytes += size
        verdict = ""
        if archive.name == "deployment.zip":
            verdict = "  (target < 15 MB: " + ("met)" if size < TARGET_BYTES else "MISSED)")
        print(
            f"{archive.name:24s} {size / MB:7.2f} MB zipped "
            f"{sum(unzipped.values()) / MB:7.2f} MB unzipped{verdict}"
        )
    met = (
        total_bytes <= TOTAL_TARGET_BYTES and (out / "deployment.zip").stat().st_size < TARGET_BYTES
    )
    print(
        f"{'function + layers':24s} {total_bytes / MB:7.2f} MB zipped "
        f"{sum(total_unzipped.values()) / MB:7.2f} MB unzipped (Lambda limit: 250 MB unzipped)"
    )
    print(
        f"{'':24s} {total_bytes / 1e6:7.2f} decimal MB zipped (target <= 30 MB: "
        + ("met)" if total_bytes <= TOTAL_TARGET_BYTES else "MISSED)")
    )
    print(f"\nlargest contributors (of function + layers), MB:\n{'':28s}zipped  unzipped")
    for name, size in total_zipped.most_common(args.top):
        print(f"  {name:26s} {size / MB:6.2f}  {total_unzipped[name] / MB:8.2f}")
    print(f"\npackage in {out}")
    if args.check and not met:
        sys.exit(1)


if __name__ == "__main__":
    main()
