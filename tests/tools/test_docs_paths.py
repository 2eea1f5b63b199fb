"""The docs, notebooks and tests name no place outside the repository.

A path such as ``/work/models/ft-bce-cpu`` or ``/home/me/data`` exists only on the machine that
wrote it: a command or test that reads it fails on a fresh machine. Files in the checkout are
named relative to it (``models/ft-bce-cpu``, ``runs/dense-train.trec``), the test model and data
as ``../shared/...`` beside it, and per-user defaults as ``~/.cache/...``.

What counts: a path that starts at the filesystem root with one of the top-level folders where
machines keep users' and jobs' files (``/work``, ``/home``, ``/root``, ``/tmp``, ``/mnt``,
``/Users``, ...). The leading ``/`` must not continue a word, a relative path, a URL's host or a
variable (``runs/x``, ``../x``, ``https://host/x``, ``$OUT/x``, ``~/x``), so URLs, API routes
(``/v2/rerank``, ``/metrics``) and device files (``/dev/null``) pass. A ``file://`` URL is a path.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Top-level folders that hold machine-specific files (Linux, macOS, containers, Colab, clusters).
MACHINE_ROOTS = (
    "work", "workspace", "home", "root", "tmp", "scratch", "data", "mnt", "media", "srv", "opt",
    "content", "Users", "Volumes", "private", "nfs", "gpfs", "lustre",
    "var/tmp", "var/folders", "var/lib", "dev/shm",
)  # fmt: skip
MACHINE_PATH = re.compile(
    r"(?:(?<=file://)|(?<![\w.~/\\$}-]))"  # a path's start: not inside a word, path, URL or $VAR
    r"/(?:" + "|".join(re.escape(root) for root in MACHINE_ROOTS) + r")(?![\w.-])"  # a whole root
    r"[^\s\"'`()\[\]<>{},;|*]*"  # and the rest of the path
)
# This file names such paths on purpose, as examples.
CHECKED = sorted(
    path
    for pattern in ("README.md", "docs/**/*.md", "notebooks/*.ipynb", "notebooks/*.py", "tests/**/*.py")
    for path in ROOT.glob(pattern)
    if path != Path(__file__).resolve()
)


def machine_paths(lines: list[str]) -> list[tuple[int, str]]:
    """``(line number, path)`` for every absolute path outside the repository in ``lines``."""
    found = []
    for number, line in enumerate(lines, start=1):
        if '"image/' in line:  # a notebook's base64 image, where "/tmp" can occur by chance
            continue
        found.extend((number, match.group()) for match in MACHINE_PATH.finditer(line))
    return found


def test_the_files_checked_include_the_docs_notebooks_and_tests() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in CHECKED}
    assert {"README.md", "docs/training.md", "tests/tools/test_train_cli.py"} <= names
    assert any(name.startswith("notebooks/") and name.endswith(".ipynb") for name in names)


def findings(files: list[Path], root: Path) -> list[str]:
    """``FILE:LINE: PATH`` for every machine path in ``files``, ``FILE`` relative to ``root``."""
    return [
        f"{path.relative_to(root).as_posix()}:{number}: {machine_path}"
        for path in files
        for number, machine_path in machine_paths(path.read_text(encoding="utf-8").splitlines())
    ]


def test_docs_notebooks_and_tests_name_no_path_outside_the_repository() -> None:
    found = findings(CHECKED, ROOT)
    assert not found, (
        "absolute paths outside the repository (name files relative to the checkout, e.g. "
        "models/NAME, runs/NAME.trec, ../shared/...):\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("line", "paths"),
    [
        # docs/training.md before it named paths relative to the checkout
        (
            "crossrank distill DATA --teacher /work/models/ft-bce-cpu --layers 2 \\",
            ["/work/models/ft-bce-cpu"],
        ),
        (
            "    --output /work/models/student-2l-listnet --first-stage run:/work/trec/dense-train.trec \\",
            ["/work/models/student-2l-listnet", "/work/trec/dense-train.trec"],
        ),
        ("- Kept at `/work/models/ft-encoder` on this machine (not committed).", ["/work/models/ft-encoder"]),
        ("`/work/models/`, outside the checkout.)", ["/work/models/"]),
        ('model = CrossEncoder("/home/me/models/x")', ["/home/me/models/x"]),
        ("cache = Path('/root/.cache/sometool')", ["/root/.cache/sometool"]),
        ("--output=/tmp/out.json and (/mnt/data/scifact)", ["/tmp/out.json", "/mnt/data/scifact"]),
        ("open /Users/me/data and file:///data/x.jsonl", ["/Users/me/data", "/data/x.jsonl"]),
        ("export TMPDIR=/var/folders/xy/T and /tmp", ["/var/folders/xy/T", "/tmp"]),
        # relative paths, URLs, routes, device files, variables and home-relative defaults pass
        ("crossrank train ../shared/data/scifact --base ../shared/models/minilm-l6-reranker", []),
        ("--teacher models/ft-bce-cpu --first-stage run:runs/dense-train.trec", []),
        ("`POST /v2/rerank`, `/v1/rerank`, `/rerank`, `GET /health`, `/metrics`, `/info`", []),
        ("https://github.com/org/repo/tmp/x and http://127.0.0.1:8787/work", []),
        ("python x.py > /dev/null 2>&1; cat /dev/stdin", []),
        ("~/.cache/crossrank/onnx, $OUT/tmp/x, ${HOME}/work, $PWD/shared", []),
        ("tests/tmp/x, shared/crossrank/data/x, a.tmp/x, /workers, /homepage, /database", []),
    ],
)
def test_the_pattern_finds_machine_paths_and_only_those(line: str, paths: list[str]) -> None:
    assert [path for _, path in machine_paths([line])] == paths


def test_the_failure_names_file_line_and_path(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "notes.md"
    doc.write_text("# Notes\n\nWeights: `/work/models/x`, runs in `runs/`.\n", encoding="utf-8")
    assert findings([doc], tmp_path) == ["docs/notes.md:3: /work/models/x"]
