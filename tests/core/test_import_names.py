"""The import names are ours: nothing beside a script (a ``shared/`` folder, say) shadows them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

IMPORTS = (
    "import sys\n"
    "from crossrank import Reranker\n"
    "from llama_index.postprocessor.crossrank import CrossEncoderRerank\n"
    "from langchain_crossrank import CrossEncoderCompressor, CrossEncoderModel\n"
    "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
)


def _run_beside(folder: Path) -> subprocess.CompletedProcess[str]:
    script = folder / "my_pipeline.py"
    script.write_text(IMPORTS, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=120
    )


def test_a_script_beside_a_shared_folder_imports_crossrank(tmp_path: Path) -> None:
    # The failure this guards against: `cannot import name 'Reranker' from 'shared'`.
    for name in ("shared", "llama_plugin", "langchain_plugin", "llama_index"):
        (tmp_path / name).mkdir()
    completed = _run_beside(tmp_path)
    assert completed.returncode == 0, completed.stderr[-2000:]
    # Importing the packages loads neither torch nor sentence-transformers.
    assert completed.stdout.split() == ["False", "False"]


def test_the_old_top_level_names_are_gone() -> None:
    code = (
        "import importlib.util\n"
        "print([importlib.util.find_spec(n) is None for n in ('llama_plugin', 'langchain_plugin')])"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=60
    )
    assert completed.stdout.strip() == "[True, True]", completed.stderr
