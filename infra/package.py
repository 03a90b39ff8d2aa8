"""``chalice package`` for this stack: the same command line, plus two things Chalice lacks.

1. The S3 drop. Chalice refuses to package ``@app.on_s3_event`` as CloudFormation: it assumes
   the bucket exists outside the stack, and CloudFormation cannot add a notification to a bucket
   it does not own. Ours is owned by the stack (``ForecastBucket`` in infra/template.json),
   which is the case SAM handles itself. So each S3 subscription becomes a SAM ``S3`` event on
   its function that points at ``ForecastBucket`` and keeps the decorator's events, prefix and
   suffix; SAM then writes the bucket's NotificationConfiguration and the invoke permission.
   The decorator's bucket name is not used: the function learns the stack bucket's name from
   BURST_ASSURANCE_BUCKET (set in infra/template.json).

2. Bytecode. Chalice ships sources only, and Lambda's code directories are read-only, so every
   cold start compiled every module it imported: a cold import took about 0.7 s, against about
   0.22 s with the .pyc files (benchmarks/bench_cold_start.py --package). The zips get
   ``__pycache__/*.pyc``, compiled by this interpreter (the one Chalice takes the Lambda runtime
   from) in unchecked-hash mode: valid whatever the files' timestamps, and the package never
   changes once built. Our code gets bytecode for every module; the layer only for the modules
   the app imports (a probe imports app.py and every chalicelib module from the unpacked
   package): the other countries of holidays, NumPy's unused corners and the rest would
   double their size in the zip for nothing, and compile on first use if ever imported.

3. Weight the app never loads, dropped from the layer (see UNUSED): test suites and type stubs
   shipped inside packages, NumPy's C headers and extension-building tools, and pymongo with
   dnspython, which huaweicloudsdkcore requires for the one module it imports from that
   distribution, ``bson``. The probe above fails the build if the app imports
   anything missing from the package that the Lambda runtime does not provide.

Usage, with the arguments of ``chalice package`` (OUT is a directory; --single-file skips 2)::

    python infra/package.py --stage dev --merge-template infra/template.json build/dev
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import py_compile
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalice.cli import main
from chalice.deploy import models
from chalice.package import SAMTemplateGenerator, UnsupportedFeatureError
from chalice.utils import to_cfn_resource_name

BUCKET_RESOURCE = "ForecastBucket"
# `chalice package` options that take a value; everything else is a flag or the OUT argument.
VALUED_OPTIONS = {"--stage", "--merge-template", "--pkg-format", "--template-format", "--profile"}
LAYER = "layer-deployment.zip"
SITE_PACKAGES = re.compile(r"^python/lib/python[0-9.]+/site-packages/")
# What the layer carries that the app never loads: pymongo comes with huaweicloudsdkcore only for
# its bson package (kept), and brings dnspython; test suites; type stubs; NumPy's C headers and
# its tools for building extensions (distutils, f2py).
UNUSED = re.compile(
    r"^(pymongo|gridfs|dns)/|^(pymongo|dnspython)-[^/]*\.dist-info/"
    r"|^numpy/(distutils|f2py|_core/include)/"
    r"|/tests/|\.pyi$"
)
# What the python3.11 Lambda runtime provides besides the standard library: the probe may find
# these outside the package.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}

PROBE = """\
import importlib, json, pkgutil, sys
started = set(sys.modules)  # the interpreter's own start-up (site, .pth hooks)
sys.path[:0] = {paths!r}
import app, chalicelib
for module in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
    importlib.import_module(module.name)
from chalicelib.domain.workdays import official_year, spring_festival_eve
official_year(2026), spring_festival_eve(2027)
files = {{getattr(m, "__file__", None) for n, m in list(sys.modules.items()) if n not in started}}
print(json.dumps(sorted(f for f in files if f)))
"""


def _s3_event_on_stack_bucket(
    self: SAMTemplateGenerator, resource: models.S3BucketNotification, template: dict[str, Any]
) -> None:
    seen: set[str] = getattr(self, "_burst_assurance_buckets", set())
    seen.add(resource.bucket)
    self._burst_assurance_buckets = seen  # type: ignore[attr-defined]
    if len(seen) > 1:
        raise UnsupportedFeatureError(
            f"S3 events on several buckets ({', '.join(sorted(seen))}); this stack creates one, "
            f"{BUCKET_RESOURCE}"
        )
    function = template["Resources"][to_cfn_resource_name(resource.lambda_function.resource_name)]
    properties: dict[str, Any] = {"Bucket": {"Ref": BUCKET_RESOURCE}, "Events": resource.events}
    rules = [
        {"Name": name, "Value": value}
        for name, value in (("prefix", resource.prefix), ("suffix", resource.suffix))
        if value
    ]
    if rules:
        properties["Filter"] = {"S3Key": {"Rules": rules}}
    event_name = self._register_cfn_resource_name(resource.resource_name)
    function["Properties"].setdefault("Events", {})[event_name] = {
        "Type": "S3",
        "Properties": properties,
    }


generator: Any = SAMTemplateGenerator
generator._generate_s3bucketnotification = _s3_event_on_stack_bucket


def out_directory(arguments: list[str]) -> Path | None:
    """The OUT argument of a `chalice package` command line (None with --single-file)."""
    positional: list[str] = []
    skip = False
    for argument in arguments:
        if skip:
            skip = False
        elif argument == "--single-file":
            return None
        elif argument in VALUED_OPTIONS:
            skip = True
        elif not argument.startswith("-"):
            positional.append(argument)
    return Path(positional[-1]) if positional else None


def add_bytecode(out: Path) -> None:
    """Add unchecked-hash .pyc files next to the modules in the package's zips."""
    runtimes = {
        resource["Properties"].get("Runtime")
        for resource in json.loads((out / "sam.json").read_text())["Resources"].values()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtimes != {ours}:
        print(f"not adding bytecode: the functions run {runtimes}, this is {ours}")
        return
    layer = out / LAYER
    if layer.exists():
        _rewrite(layer, keep=lambda name: not UNUSED.search(SITE_PACKAGES.sub("", name)))
        imported = imported_files(out)
        _add_bytecode_to(layer, wanted=imported.__contains__)
    _add_bytecode_to(out / "deployment.zip", wanted=lambda name: "/tests/" not in name)


def imported_files(out: Path) -> set[str]:
    """The zip paths of the modules the app imports, found by importing it from the unpacked
    package; stops the build if it imports something the package lacks."""
    with tempfile.TemporaryDirectory() as scratch:
        for archive in out.glob("*.zip"):
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(scratch)
        paths = [scratch, *map(str, Path(scratch).glob("python/lib/python*/site-packages"))]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BURST_ASSURANCE_")}
        done = subprocess.run(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "-B", "-c", PROBE.format(paths=paths)],
            cwd=scratch, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            sys.exit(f"the packaged app does not import:\n{done.stderr[-3000:]}")
        files = [Path(f) for f in json.loads(done.stdout)]
        inside = {f.relative_to(scratch).as_posix() for f in files if f.is_relative_to(scratch)}
        _refuse_outside_imports([f for f in files if not f.is_relative_to(scratch)])
    return inside


def _refuse_outside_imports(files: list[Path]) -> None:
    """Modules the probe found in this machine's site-packages, not in the package: on Lambda
    they would be missing (unless the runtime provides them)."""
    missing = {
        f.relative_to(site).parts[0]
        for f in files
        for site in map(Path, sys.path)
        if site.name == "site-packages" and f.is_relative_to(site)
    }
    missing = {name for name in missing if name.removesuffix(".py") not in RUNTIME_PROVIDED}
    if missing:
        sys.exit(f"the app imports what the package lacks: {', '.join(sorted(missing))}")


def _rewrite(archive: Path, keep: Callable[[str], bool]) -> None:
    """``archive`` without the entries ``keep`` refuses."""
    rebuilt = archive.with_suffix(".zip.new")
    with zipfile.ZipFile(archive) as old, zipfile.ZipFile(rebuilt, "w") as new:
        for info in old.infolist():
            if keep(info.filename):
                new.writestr(info, old.read(info))
    rebuilt.replace(archive)


def _add_bytecode_to(archive: Path, wanted: Callable[[str], bool]) -> None:
    rebuilt = archive.with_suffix(".zip.new")
    with (
        tempfile.TemporaryDirectory() as scratch,
        zipfile.ZipFile(archive) as old,
        zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as new,
    ):
        # Bytecode already in the zip came from the machine that packaged: timestamp-checked
        # against sources whose zip timestamps never match (stale: compiled again at every cold
        # start), or left by modules since removed. Only ours goes in.
        for info in old.infolist():
            if "__pycache__/" not in info.filename:  # a copy: writestr moves an info
                new.writestr(copy.copy(info), old.read(info))
        for info in old.infolist():
            if not info.filename.endswith(".py") or not wanted(info.filename):
                continue
            target = importlib.util.cache_from_source(info.filename)
            source = Path(scratch) / "module.py"
            source.write_bytes(old.read(info))
            compiled = Path(scratch) / "module.pyc"
            try:
                py_compile.compile(
                    str(source),
                    cfile=str(compiled),
                    dfile=info.filename,
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
            except py_compile.PyCompileError:
                continue  # not importable by this Python anyway (a template, an old file)
            entry = zipfile.ZipInfo(target, date_time=info.date_time)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            new.writestr(entry, compiled.read_bytes())
    rebuilt.replace(archive)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    sys.argv = ["chalice", "package", *arguments]
    status: str | int | None
    try:
        status = main()
    except SystemExit as exit_:  # click ends by raising SystemExit, even on success
        status = exit_.code
    out = out_directory(arguments)
    if status in (0, None) and out is not None:
        add_bytecode(out)
    sys.exit(status)
