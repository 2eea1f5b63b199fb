"""The notebooks' saved outputs say nothing about the machine that ran them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|root|home|tmp|Users|var/folders)/")


def _outputs(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    texts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            for value in output.get("data", {}).values():
                texts.append("".join(value) if isinstance(value, list) else str(value))
    return texts


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_saved_outputs_hold_no_machine_paths_and_no_errors(notebook: Path) -> None:
    outputs = _outputs(notebook)
    assert outputs, "the notebook was saved without its outputs"
    for text in outputs:
        assert not MACHINE_PATH.search(text), f"{notebook.name} shows a machine path: {text[:200]!r}"
        assert "Traceback" not in text
