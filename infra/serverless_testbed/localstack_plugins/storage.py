"""The engine keeps what it stores in its own folder, never in one the machine shares (an
on_infra_start hook).

LocalStack 4.14.0 spools S3 objects into `/tmp/localstack-s3-storage`, a name fixed in its
S3 provider (`DEFAULT_S3_TMP_DIR`), whatever `TMPDIR` says: every engine on the machine
(pytest-xdist's workers each start one) writes and deletes in the same folder, and one
engine's cleanup removed another's object mid-upload (`InternalError: No such file or
directory: '/tmp/localstack-s3-storage/...'`). Inside an engine this project started, the
folder is under the engine's own temporary folder (`TMPDIR`, set by the engine to
`<engine folder>/tmp`), removed with the engine.
"""

from __future__ import annotations

import os
import tempfile
from types import ModuleType

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.imports import after_import
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

S3_PROVIDER_MODULE = "localstack.services.s3.provider"


@hooks.on_infra_start()
@only_in_testbed_engine()  # on in stock mode too: no client can tell, and engines must not share files
def engine_own_storage() -> None:
    after_import(S3_PROVIDER_MODULE, _own_s3_storage)


def _own_s3_storage(module: ModuleType) -> None:
    setattr(module, "DEFAULT_S3_TMP_DIR", os.path.join(tempfile.gettempdir(), "localstack-s3-storage"))  # noqa: B010
