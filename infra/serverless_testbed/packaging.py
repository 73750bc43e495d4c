"""Lambda deployment packages: zip files built from source folders, deterministically."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

# A fixed timestamp makes the same sources give the same bytes (and the same CodeSha256).
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP = {"__pycache__", ".pytest_cache"}


def zip_files(files: dict[str, bytes | str]) -> bytes:
    """A zip archive holding `files` (archive name -> content), in sorted order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            content = files[name]
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, also when built on Windows: same bytes everywhere
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content.encode() if isinstance(content, str) else content)
    return buffer.getvalue()


def zip_directory(root: Path, extra: dict[str, Path] | None = None) -> bytes:
    """Zip every file under `root` (paths relative to it), plus `extra` archive names -> files."""
    files: dict[str, bytes | str] = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not _SKIP.intersection(path.relative_to(root).parts) and path.suffix != ".pyc"
    }
    for name, path in (extra or {}).items():
        files[name] = path.read_bytes()
    return zip_files(files)


def code_sha256(archive: bytes) -> str:
    """The CodeSha256 AWS reports for a package: base64 of the SHA-256 digest."""
    import base64

    return base64.b64encode(hashlib.sha256(archive).digest()).decode()
