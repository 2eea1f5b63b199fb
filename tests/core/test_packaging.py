"""A regular (non-editable) wheel ships the three import names and nothing that shadows others."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_our_three_packages_and_the_demo_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", str(ROOT),
         "-w", str(tmp_path)],
        check=True, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("crossrank-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {name.split("/")[0] for name in names if not name.startswith("crossrank-")}
    assert packages == {"crossrank", "llama_index", "langchain_crossrank"}
    # LlamaIndex's namespace stays a namespace: an __init__.py there would hide llama_index.core.
    assert "llama_index/__init__.py" not in names
    assert "llama_index/postprocessor/__init__.py" not in names
    for required in (
        "crossrank/__init__.py",
        "crossrank/py.typed",
        "crossrank/samples/corpus.jsonl",
        "crossrank/samples/queries.json",
        "llama_index/postprocessor/crossrank/__init__.py",
        "llama_index/postprocessor/crossrank/py.typed",
        "langchain_crossrank/__init__.py",
        "langchain_crossrank/py.typed",
    ):
        assert required in names, required
    entry_points = zipfile.ZipFile(wheel).read(
        next(name for name in names if name.endswith("entry_points.txt"))
    )
    assert b"crossrank = crossrank.cli.main:main" in entry_points
