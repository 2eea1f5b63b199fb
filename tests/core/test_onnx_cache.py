"""A damaged or swapped ONNX cache entry is detected when opened and repaired once."""

from __future__ import annotations

import logging
import os
import random
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from crossrank import Reranker
from crossrank.models.onnx_cache import file_digest, publish, verified_model_file

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

KEY = "k" * 64


def _entry(root: Path, payload: bytes = b"onnx-bytes" * 1000, key: str = KEY, variant: str = "fp32") -> Path:
    staging = root / ".staging"
    staging.mkdir(mode=0o700)
    (staging / "model.onnx").write_bytes(payload)
    entry = root / f"model-{variant}-abc"
    publish(staging, entry, {"key": key, "variant": variant})
    return entry


def _overwrite_middle(path: Path, count: int = 300, seed: int = 0) -> None:
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    start = len(data) // 2
    data[start : start + count] = bytes(rng.randrange(256) for _ in range(count))
    path.write_bytes(bytes(data))


def test_a_published_entry_verifies_and_is_readable_by_others(tmp_path: Path) -> None:
    entry = _entry(tmp_path)
    assert verified_model_file(entry, key=KEY, variant="fp32") == entry / "model.onnx"
    assert stat.S_IMODE(entry.stat().st_mode) == 0o755
    assert stat.S_IMODE((entry / "model.onnx").stat().st_mode) == 0o644
    assert stat.S_IMODE((entry / "export.json").stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda entry: _overwrite_middle(entry / "model.onnx"), "the SHA-256 of model.onnx differs"),
        (lambda entry: (entry / "model.onnx").write_bytes(b"short"), "model.onnx has 5 bytes"),
        (lambda entry: (entry / "export.json").unlink(), "export.json is missing or unreadable"),
        (
            lambda entry: (entry / "export.json").write_text("{not json"),
            "export.json is missing or unreadable",
        ),
        (lambda entry: (entry / "model.onnx").unlink(), "model.onnx is missing"),
    ],
    ids=["overwritten", "truncated", "no-info", "garbage-info", "no-model"],
)
def test_a_damaged_entry_is_discarded_with_a_warning_that_says_why(
    tmp_path: Path, damage: object, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    entry = _entry(tmp_path)
    damage(entry)  # type: ignore[operator]
    # Same size and mtime tricks cannot hide it: the cache of verified files is per (size, mtime).
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        assert verified_model_file(entry, key=KEY, variant="fp32") is None
    assert reason in caplog.text
    assert "exporting it again" in caplog.text
    assert not entry.exists()
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_another_variant_in_the_entry_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    entry = _entry(tmp_path, variant="int8")
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        assert verified_model_file(entry, key=KEY, variant="fp32") is None
    assert "describes another model or variant ('int8')" in caplog.text


def test_a_file_swapped_in_with_its_size_is_caught_by_the_digest(tmp_path: Path) -> None:
    entry = _entry(tmp_path, payload=b"a" * 4096)
    before = (entry / "model.onnx").stat()
    (entry / "model.onnx").write_bytes(b"b" * 4096)
    os.utime(entry / "model.onnx", ns=(before.st_atime_ns, before.st_mtime_ns + 1))
    assert verified_model_file(entry, key=KEY, variant="fp32") is None


def test_file_digest_is_sha256(tmp_path: Path) -> None:
    import hashlib

    (tmp_path / "f").write_bytes(b"x" * 3_000_000)
    assert file_digest(tmp_path / "f") == hashlib.sha256(b"x" * 3_000_000).hexdigest()


@pytest.fixture(scope="module")
def exported(cross_encoder: CrossEncoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding the test model's fp32 and int8 exports, made once for this module."""
    root = tmp_path_factory.mktemp("onnx-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("CROSSRANK_CACHE_DIR", str(root))
    try:
        for backend in ("onnx", "onnx-int8"):
            assert Reranker(cross_encoder, backend=backend).backend_in_use == backend  # type: ignore[arg-type]
    finally:
        patch.undo()
    return root / "onnx"


def _fresh_copy(exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    shutil.copytree(exported.parent, tmp_path / "cache")
    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(tmp_path / "cache"))
    entries = {path.name.split("-")[-2]: path for path in (tmp_path / "cache" / "onnx").iterdir()}
    return entries["fp32"], entries["int8"]


PAIRS = [
    ("Aerobic exercise lowers blood pressure.", "Regular aerobic exercise lowered resting blood pressure."),
    ("Aerobic exercise lowers blood pressure.", "Blood pressure cuffs must fit the arm."),
    ("Aerobic exercise lowers blood pressure.", "Bananas are rich in potassium."),
    ("Aerobic exercise lowers blood pressure.", "Exercise and diet in hypertension: a trial."),
]


@pytest.mark.parametrize("damage", ["overwritten", "int8-in-place", "truncated"])
def test_a_damaged_cache_is_repaired_once_and_scores_stay_right(
    cross_encoder: CrossEncoder,
    exported: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    fp32, int8 = _fresh_copy(exported, tmp_path, monkeypatch)
    if damage == "overwritten":
        _overwrite_middle(fp32 / "model.onnx")
    elif damage == "int8-in-place":
        shutil.copyfile(int8 / "model.onnx", fp32 / "model.onnx")
    else:
        (fp32 / "model.onnx").write_bytes((fp32 / "model.onnx").read_bytes()[:1000])
    expected = Reranker(cross_encoder, precision="fp32", score_cache_size=0).score_pairs(PAIRS)

    with caplog.at_level(logging.WARNING, logger="crossrank"):
        repaired = Reranker(cross_encoder, backend="onnx", score_cache_size=0)
        scores = repaired.score_pairs(PAIRS)
    assert repaired.backend_in_use == "onnx"
    assert "is not usable" in caplog.text
    assert scores == pytest.approx(expected, abs=1e-4)

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        again = Reranker(cross_encoder, backend="onnx", score_cache_size=0)
        assert again.score_pairs(PAIRS) == pytest.approx(expected, abs=1e-4)
    assert caplog.text == ""  # repaired once: no warning, no export the second time
