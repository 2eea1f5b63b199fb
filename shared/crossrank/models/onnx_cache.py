"""The ONNX export cache on disk: entries verified when opened, repaired once when damaged.

An entry is a directory holding ``model.onnx`` and ``export.json``. ``export.json``
records the cache key, the variant and the SHA-256 digest and size of ``model.onnx``.
Opening an entry checks all of them, so a truncated, overwritten or swapped file (the
int8 graph in place of the fp32 one, say) is never run: it is moved aside with a
warning that says what was wrong, and the caller exports it again. Entries are
readable by every user of a shared cache directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from crossrank.log import logger

__all__ = ["INFO_FILE", "MODEL_FILE", "file_digest", "publish", "verified_model_file"]

MODEL_FILE = "model.onnx"
INFO_FILE = "export.json"
_CHUNK = 1 << 20
# Entries verified by this process, by (path, size, mtime): a file unchanged since is not hashed again.
_verified: set[tuple[str, int, int]] = set()
_verified_lock = threading.Lock()


def file_digest(path: Path) -> str:
    """The SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verified_model_file(entry: Path, *, key: str, variant: str) -> Path | None:
    """The entry's ``model.onnx`` if the entry is whole and is what ``key`` names, else ``None``.

    An entry that exists but fails a check is moved out of the way (and deleted) with a
    warning, so the caller's fresh export takes its place: a damaged entry is repaired
    once, not fallen back from on every run.

    Args:
        entry: The entry directory.
        key: The cache key the caller computed for its model and variant.
        variant: ``"fp32"`` or ``"int8"``.

    Returns:
        The model file, or ``None`` when there is no usable entry.
    """
    model_file = entry / MODEL_FILE
    if not entry.exists():
        return None
    problem = _problem(entry, model_file, key=key, variant=variant)
    if problem is None:
        return model_file
    logger.warning(
        "crossrank: the cached ONNX model %s is not usable (%s); exporting it again.", entry, problem
    )
    _discard(entry)
    return None


def _problem(entry: Path, model_file: Path, *, key: str, variant: str) -> str | None:
    try:
        info: Any = json.loads((entry / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{INFO_FILE} is missing or unreadable: {exc}"
    if not isinstance(info, dict):
        return f"{INFO_FILE} is not a JSON object"
    if info.get("key") != key or info.get("variant") != variant:
        return f"{INFO_FILE} describes another model or variant ({info.get('variant')!r})"
    try:
        stat = model_file.stat()
    except OSError:
        return f"{MODEL_FILE} is missing"
    signature = (str(model_file), stat.st_size, stat.st_mtime_ns)
    with _verified_lock:
        if signature in _verified:
            return None
    if "sha256" not in info or "size" not in info:
        return f"{INFO_FILE} records no digest of {MODEL_FILE} (an entry from an older crossrank)"
    if stat.st_size != info.get("size"):
        return f"{MODEL_FILE} has {stat.st_size} bytes, {INFO_FILE} recorded {info.get('size')}"
    if file_digest(model_file) != info.get("sha256"):
        return f"the SHA-256 of {MODEL_FILE} differs from the one {INFO_FILE} recorded: the file was changed"
    with _verified_lock:
        _verified.add(signature)
    return None


def _discard(entry: Path) -> None:
    # Rename first (atomic), so no other process opens a half-deleted entry.
    trash = Path(tempfile.mkdtemp(prefix=f".discarded.{entry.name}.", dir=entry.parent))
    try:
        os.replace(entry, trash / entry.name)
    except OSError:
        logger.debug("could not move %s aside", entry, exc_info=True)
    shutil.rmtree(trash, ignore_errors=True)


def publish(staging: Path, entry: Path, info: dict[str, Any]) -> None:
    """Record the model file's digest in ``export.json`` and move the finished entry into place.

    If another process published the same entry first, theirs is kept.

    Args:
        staging: A directory holding the new ``model.onnx``.
        entry: Where the entry goes.
        info: What to record about the export (the key, the variant...).
    """
    model_file = staging / MODEL_FILE
    record = {**info, "size": model_file.stat().st_size, "sha256": file_digest(model_file)}
    (staging / INFO_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    # mkdtemp makes the staging directory private (0700); a shared cache must be readable.
    staging.chmod(0o755)
    for file in staging.iterdir():
        file.chmod(0o644)
    try:
        os.rename(staging, entry)
    except OSError:
        if not (entry / MODEL_FILE).is_file():
            raise
