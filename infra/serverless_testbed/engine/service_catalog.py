"""LocalStack's service catalog, built once per machine and shared by every embedded engine.

The catalog indexes the operations of every AWS service LocalStack routes requests to. The
LocalStack image ships it prebuilt (in /usr/lib/localstack); a LocalStack run from the
Python package builds it on its first request unless its cache holds one: 2.4 s, and about
350 MB that stay in the engine's process. Every embedded engine has a cache of its own, so
every engine paid both. Now it is built once per LocalStack and botocore version, in a
process of its own, beside the shared packages (`shared_lib_dir`), and each engine finds it
where the image keeps its prebuilt one: `<FILESYSTEM_ROOT>/usr/lib/localstack`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from pathlib import Path

from serverless_testbed.settings import LOCALSTACK_VERSION

LOG = logging.getLogger(__name__)
BUILD_TIMEOUT_S = 120
_BUILD = "import sys; from localstack.aws.spec import build_service_index_cache; build_service_index_cache(sys.argv[1])"


def catalog_name(botocore_version: str, localstack_version: str = LOCALSTACK_VERSION) -> str:
    """The file name LocalStack looks for (localstack.aws.spec._get_catalog_filename), for the
    engine environment's botocore."""
    return f"service-catalog-{localstack_version.replace('.', '_')}-{botocore_version.replace('.', '_')}.dill"


def shared_catalog(directory: Path, python: Path, botocore_version: str) -> Path | None:
    """The catalog in `directory`, built there first by `python` (the engine's) if missing;
    None (with a warning) when it cannot be built: the engine then builds its own, as LocalStack does."""
    path = directory / catalog_name(botocore_version)
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    os.close(fd)
    try:
        with tempfile.TemporaryDirectory(prefix="testbed-catalog-") as home:
            # A clean environment: LocalStack reads its settings from the environment as it is imported.
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": home, "TMPDIR": home}
            built = subprocess.run(
                [str(python), "-c", _BUILD, partial],
                env=env,
                cwd=home,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
                check=False,
            )
        if built.returncode != 0:
            LOG.warning("could not build LocalStack's service catalog in %s:\n%s", directory, built.stderr[-2000:])
            return None
        os.replace(partial, path)  # whole or not at all: engines starting meanwhile never see half a file
        return path
    except (OSError, subprocess.TimeoutExpired) as err:
        LOG.warning("could not build LocalStack's service catalog in %s: %s", directory, err)
        return None
    finally:
        Path(partial).unlink(missing_ok=True)


def link_catalog(filesystem_root: Path, catalog: Path) -> None:
    """Make `catalog` the prebuilt catalog of the engine whose FILESYSTEM_ROOT is `filesystem_root`."""
    static_libs = filesystem_root / "usr/lib/localstack"
    static_libs.mkdir(parents=True, exist_ok=True)
    (static_libs / catalog.name).symlink_to(catalog)
