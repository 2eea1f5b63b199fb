"""A small real ``crossrank tune`` on SciFact, and its profile loaded everywhere a reranker is made."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from crossrank import ProfileMismatchWarning, Reranker, read_profile
from crossrank.cli.args import model_and_options
from crossrank.cli.main import build_parser, main
from crossrank.models.cpu import cpu_signature

QUERY = "Aerobic exercise lowers blood pressure in adults with hypertension."
DOCUMENTS = [
    "Bananas are a source of potassium.",
    "In a trial of adults with hypertension, twelve weeks of aerobic training lowered resting "
    "systolic blood pressure compared with usual care.",
    "Resistance training improved grip strength in older adults.",
    "Blood pressure was not changed by a low-salt diet in this small cohort.",
]


@pytest.fixture(scope="module")
def tuned(
    data_dir: Path, model_path: str, onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A tune of 4 queries x 10 BM25 candidates over PyTorch, ONNX Runtime and its int8 (module-wide)."""
    out = tmp_path_factory.mktemp("tune")
    argv = [
        "tune", str(data_dir / "scifact"), "--model", model_path, "--queries", "4", "--k", "10",
        "--backends", "torch,onnx,onnx-int8", "--min-queries", "2", "--latency-queries", "2",
        "--max-loss", "0.05",
        "--output", str(out / "profile.json"), "--json", str(out / "tune.json"),
        "--plot", str(out / "frontier.png"), "--quiet",
    ]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        # The session's export cache: ONNX exports are built once per session, never in ~/.cache.
        patch.setenv("CROSSRANK_CACHE_DIR", str(onnx_cache))
        assert main(argv) == 0
    return out


def test_tune_writes_a_profile_with_the_choice_the_machine_and_the_frontier(tuned: Path) -> None:
    profile = read_profile(tuned / "profile.json")
    document = json.loads((tuned / "tune.json").read_text())
    names = [result["configuration"]["name"] for result in document["search"]["results"]]
    assert names[0] == "reference: torch fp32, every candidate"
    assert {"onnx, 10 candidates", "onnx-int8, 10 candidates"} <= set(names)
    assert document["choice"]["chosen"] in names
    # Exact ONNX Runtime ranks as the reference: after 2 timed queries (its ranking checked
    # equal to the derived one on each) it is derived; int8 over every candidate always runs.
    results = {row["configuration"]["name"]: row for row in document["search"]["results"]}
    onnx, int8 = results["onnx, 10 candidates"], results["onnx-int8, 10 candidates"]
    if onnx["pruned"] is None:
        assert (onnx["derived_after"], onnx["timed_queries"], onnx["queries"]) == (2, 2, 4)
    assert int8["derived_after"] is None
    assert int8["timed_queries"] == int8["queries"]
    assert profile.options["backend"] in {"torch", "onnx", "onnx-int8"}
    assert dict(profile.machine) | {"threads": None} == {**cpu_signature(), "threads": None}
    assert profile.tuned_on["k"] == 10
    assert profile.tuned_on["queries"] == 4
    assert profile.tuned_on["latency_queries"] == 2
    assert profile.tuned_on["quality"] == "NDCG@10"
    assert profile.tuned_on["goal"] == {"max_loss": 0.05}
    # The chosen one kept the ranking within the asked loss, and the numbers say so.
    assert profile.measured["difference"] >= -0.05
    assert 0.0 <= profile.reference["quality"] <= 1.0
    assert len(profile.frontier) == len(names)
    assert any(row["on_frontier"] for row in profile.frontier)
    assert profile.reason
    assert (tuned / "frontier.png").stat().st_size > 1000


def _core_order(profile_path: Path) -> list[int]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProfileMismatchWarning)  # tuned here, for this model
        reranker = Reranker.from_profile(profile_path, top_n=3)
    return [result.index for result in reranker.rerank(QUERY, DOCUMENTS)]


def test_the_core_and_both_adapters_load_the_profile_and_rank_alike(tuned: Path, onnx_cache: Path) -> None:
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, TextNode

    from langchain_crossrank import CrossEncoderCompressor
    from llama_index.postprocessor.crossrank import CrossEncoderRerank

    path = tuned / "profile.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSRANK_CACHE_DIR", str(onnx_cache))
        order = _core_order(path)
        assert order[0] == 1
        rerank = CrossEncoderRerank.from_profile(path, top_n=3)
        nodes = [NodeWithScore(node=TextNode(text=text, id_=f"n{i}")) for i, text in enumerate(DOCUMENTS)]
        ranked = rerank.postprocess_nodes(nodes, query_str=QUERY)
        assert [node.node.node_id for node in ranked] == [f"n{i}" for i in order]
        compressor = CrossEncoderCompressor.from_profile(path, top_n=3)
        documents = [Document(page_content=text, metadata={"i": i}) for i, text in enumerate(DOCUMENTS)]
        compressed = compressor.compress_documents(documents, QUERY)
        assert [document.metadata["i"] for document in compressed] == order
        assert rerank.backend == compressor.backend == read_profile(path).options["backend"]


def test_serve_and_eval_take_the_profile_with_typed_flags_winning(tuned: Path) -> None:
    path = str(tuned / "profile.json")
    chosen = read_profile(path).options
    argv = ["serve", "--profile", path, "--max-windows", "3"]
    args = build_parser().parse_args(argv)
    args.argv = argv
    model, options = model_and_options(args)
    assert model == read_profile(path).model
    assert options["max_windows"] == 3
    assert options["backend"] == chosen["backend"]
    assert options.get("rerank_depth") == chosen.get("rerank_depth")


def test_eval_with_the_profile_measures_unseen_queries_at_the_tuned_k(
    tuned: Path, data_dir: Path, onnx_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tuned / "eval.json"
    argv = [
        "eval", str(data_dir / "scifact"), "--profile", str(tuned / "profile.json"),
        "--first-stage", "bm25", "--offset", "4", "--limit", "2", "--reuse-scores", "--json", str(out),
    ]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSRANK_CACHE_DIR", str(onnx_cache))
        assert main(argv) == 0
    report: dict[str, Any] = json.loads(out.read_text())
    assert report["k"] == 10
    assert "the candidates per query the profile was tuned with" in capsys.readouterr().err
    chosen = read_profile(tuned / "profile.json").options
    assert report["options"]["backend"] == chosen["backend"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-loss", "-0.1"], "--max-loss must be a finite number >= 0, got -0.1"),
        (["--budget-ms", "0"], "--budget-ms must be a finite number > 0, got 0.0"),
        (["--max-loss", "nan"], "--max-loss must be a finite number >= 0, got nan"),
    ],
)
def test_a_bad_goal_is_refused_before_anything_loads(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["tune", str(tmp_path / "no-data"), "--output", str(tmp_path / "p.json"), *extra]
    assert main(argv) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def test_the_two_goals_exclude_each_other(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["tune", str(tmp_path), "--output", "p.json", "--max-loss", "0.01", "--budget-ms", "50"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_missing_data_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", str(tmp_path / "nope"), "--output", str(tmp_path / "p.json")]) == 1
    assert "no data at" in capsys.readouterr().err
