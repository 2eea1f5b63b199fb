"""What tune measures on (traffic files, BEIR directories) and which configurations apply where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossrank.tuning.configurations import (
    REFERENCE_NAME,
    candidate_depths,
    configuration_options,
    tuning_configurations,
)
from crossrank.tuning.workload import load_workload, traffic_workload


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n")
    return path


def test_traffic_rows_become_queries_cut_to_k(tmp_path: Path) -> None:
    rows = [
        {"query": "q one", "candidates": ["a", "b", "c"]},
        {
            "id": "x7",
            "query": "q two",
            "candidates": [{"id": "d1", "text": "t", "score": 2}, {"id": "d2", "text": "u", "score": 1}],
        },
        {"query": "q three", "candidates": ["z"]},
    ]
    workload = load_workload(_write(tmp_path / "t.jsonl", rows), k=2, queries=2)
    assert [query.query_id for query in workload.queries] == ["line 1", "x7"]
    first, second = workload.queries
    assert (first.doc_ids, first.texts, first.retrieval_scores) == (("0", "1"), ("a", "b"), None)
    assert (second.doc_ids, second.retrieval_scores) == (("d1", "d2"), (2.0, 1.0))
    assert workload.relevance is None
    assert workload.quality_name == "top-10 agreement"
    # Without labels, quality is agreement with the reference ranking.
    quality = workload.quality()
    assert quality("x7", ["d2", "d1"], ["d1", "d2"]) == 1.0
    assert quality("x7", ["d1"], ["d1", "d2"]) == 0.5
    skipped = traffic_workload(tmp_path / "t.jsonl", k=5, queries=5, offset=2)
    assert [query.query for query in skipped.queries] == ["q three"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("not json", ":1: not JSON"),
        ([1], "a row must be"),
        ({"query": " ", "candidates": ["a"]}, "'query' must be a non-empty string"),
        ({"query": "q", "candidates": []}, "'candidates' must be a non-empty list"),
        ({"query": "q", "candidates": [3]}, r"candidates\[0\] must be a string or an object"),
        ({"query": "q", "candidates": [{"id": 1, "text": "a"}, {"id": 1, "text": "b"}]}, "ids repeat"),
        ({"query": "q", "candidates": [{"text": "a", "score": 1}, "b"]}, "to every candidate or to none"),
        (
            {"query": "q", "candidates": [{"text": "a", "score": "high"}]},
            r"candidates\[0\]\.score must be a finite",
        ),
    ],
)
def test_a_bad_traffic_row_is_named_by_line(tmp_path: Path, row: object, message: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(row if isinstance(row, str) else json.dumps(row))
    with pytest.raises(ValueError, match=message) as raised:
        load_workload(path, k=10, queries=5)
    assert f"{path}:1" in str(raised.value)


def test_missing_data_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="a BEIR directory"):
        load_workload(tmp_path / "nothing", k=10, queries=5)


def test_depths_are_k_and_the_shallower_standard_ones() -> None:
    assert candidate_depths(100) == [100, 30, 20, 10]
    assert candidate_depths(50) == [50, 20, 10]
    assert candidate_depths(20) == [20, 10]
    assert candidate_depths(5) == [5]


def test_the_grid_follows_the_cpu_the_extras_and_the_data() -> None:
    plain = tuning_configurations(50, native_bf16=False, windows_over={}, openvino=False)
    names = [configuration.name for configuration in plain]
    assert names[0] == REFERENCE_NAME
    assert len(set(names)) == len(names)
    assert "torch, 50 candidates" not in names  # the reference is torch over every candidate
    assert {"onnx, 50 candidates", "onnx-int8, 10 candidates", "torch, 20 candidates"} <= set(names)
    # bf16 only where the CPU computes it; OpenVINO only when installed.
    assert not any("bf16" in name or "openvino" in name for name in names)
    assert not any("window" in name for name in names)  # abstracts: no caps, no lexical cascade
    exact = {c.name: c.exact for c in plain}
    assert exact["onnx, 20 candidates"]
    assert not exact["onnx-int8, 50 candidates"]
    assert not exact["cascade: onnx-int8 keeps 20 for onnx"]
    depth = next(c for c in plain if c.name == "onnx, 20 candidates")
    assert (depth.candidates, depth.options) == (20, {"backend": "onnx", "rerank_depth": 20})

    rich = tuning_configurations(50, native_bf16=True, windows_over={1: 0.9, 2: 0.5, 4: 0.2}, openvino=True)
    rich_names = {configuration.name for configuration in rich}
    assert {
        "openvino-bf16, 50 candidates",
        "torch-bf16, 10 candidates",
        "openvino-int8, 20 candidates",
    } <= rich_names
    assert {"onnx, at most 4 windows", "lexical window cascade: 2 windows per candidate"} <= rich_names
    bf16 = next(c for c in rich if c.name == "torch-bf16, 20 candidates")
    assert configuration_options(bf16) == {"backend": "torch", "precision": "bf16", "rerank_depth": 20}


def test_a_small_k_has_no_cascade_and_backends_can_be_restricted() -> None:
    small = tuning_configurations(10, native_bf16=False, windows_over={}, openvino=False, backends=["onnx"])
    assert [c.name for c in small] == [REFERENCE_NAME, "onnx, 10 candidates"]
    with pytest.raises(ValueError, match=r"backend\(s\) \['openvino-bf16'\] do not apply here"):
        tuning_configurations(
            10, native_bf16=False, windows_over={}, openvino=True, backends=["openvino-bf16"]
        )


def test_only_the_fastest_exact_backend_is_crossed_with_depths() -> None:
    grid = tuning_configurations(
        50, native_bf16=False, windows_over={}, openvino=True, fastest_exact="openvino"
    )
    names = {configuration.name for configuration in grid}
    assert {"onnx, 50 candidates", "openvino, 50 candidates", "openvino, 10 candidates"} <= names
    assert not {"onnx, 20 candidates", "torch, 20 candidates"} & names
    # Lower precision is crossed with every depth: its loss may differ by depth.
    assert {"onnx-int8, 10 candidates", "openvino-int8, 20 candidates"} <= names
    cascade = next(c for c in grid if c.name.startswith("cascade: onnx-int8"))
    assert cascade.name.endswith("for openvino")
    assert cascade.options["backend"] == "openvino"
