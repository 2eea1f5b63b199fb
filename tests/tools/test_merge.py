"""``crossrank merge``: an evaluation run in parts (``--offset``/``--limit``) joins into the whole."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fake_scorer import FakeScorer

from crossrank import Reranker
from crossrank.cli.main import main
from crossrank.evaluation.beir import BeirDataset, BeirDocument
from crossrank.evaluation.evaluator import VARIANTS, evaluate, select_query_ids
from crossrank.evaluation.first_stage import Candidate
from crossrank.evaluation.merge import merge_reports

FILLER = " ".join(f"filler{i}" for i in range(30))
CORPUS = {
    "sky": BeirDocument("sky", "", "blue sky over the sea"),
    "car": BeirDocument("car", "", "a red car in the rain"),
    "apple": BeirDocument("apple", "", f"{FILLER} red apple tree"),
    "sea": BeirDocument("sea", "", f"{FILLER} green sea and blue rain"),
}


class CorpusOrder:
    """Every document, in the corpus's order, with descending scores."""

    name = "fixed"

    def search(self, query: str, k: int) -> list[Candidate]:
        return [Candidate(doc_id, float(len(CORPUS) - rank)) for rank, doc_id in enumerate(CORPUS)][:k]


class LastWordScorer(FakeScorer):
    """A cruder judge for a cascade's coarse stage: counts only the query's last word."""

    def score(self, pairs: Any) -> list[float]:
        self.batches.append([(list(q), list(p)) for q, p in pairs])
        return [float(sum(1 for token in passage if token == query[-1])) for query, passage in pairs]


def dataset() -> BeirDataset:
    queries = {"1": "red apple", "2": "blue sea", "10": "red rain"}
    qrels = {"1": {"apple": 1}, "2": {"sea": 1, "sky": 1}, "10": {"car": 1}}
    return BeirDataset(name="tiny", corpus=CORPUS, queries=queries, qrels=qrels)


def cascade() -> Reranker:
    return Reranker(FakeScorer(), coarse_model=LastWordScorer(), coarse_keep=3, fine_windows_per_document=1)  # type: ignore[arg-type]


def run(query_ids: list[str]) -> dict[str, Any]:
    report = evaluate(dataset(), CorpusOrder(), cascade(), k=4, query_ids=query_ids, single_stage=True)  # type: ignore[arg-type]
    return report.to_json()


def same_numbers(merged: dict[str, Any], whole: dict[str, Any]) -> None:
    assert merged["queries"] == whole["queries"]
    assert merged["recall_at_k_first_stage"] == pytest.approx(whole["recall_at_k_first_stage"])
    for name in VARIANTS:
        got, expected = merged["variants"][name], whole["variants"][name]
        assert set(got) == set(expected)
        for key, value in expected.items():
            if key in {"median_latency_ms", "p95_latency_ms", "pairs_per_s"}:
                assert (got[key] is None) == (value is None)  # timed in both, or in neither
            else:
                assert got[key] == pytest.approx(value), (name, key)
    for got_row, expected_row in zip(merged["per_query"], whole["per_query"], strict=True):
        assert got_row["query_id"] == expected_row["query_id"]
        assert got_row["variants"] == expected_row["variants"]
        assert got_row["pairs"] == expected_row["pairs"]


def test_offset_and_limit_split_the_queries_in_id_order() -> None:
    assert select_query_ids(dataset(), 1) == ["1"]
    assert select_query_ids(dataset(), None, 1) == ["2", "10"]
    assert select_query_ids(dataset(), 1, 2) == ["10"]
    with pytest.raises(ValueError, match=re.escape("offset 3 skips every one of the 3 judged queries.")):
        select_query_ids(dataset(), None, 3)
    with pytest.raises(ValueError, match=re.escape("offset must be a non-negative integer, got -1.")):
        select_query_ids(dataset(), None, -1)


def test_the_parts_of_a_run_merge_into_the_whole_run_single_stage_included() -> None:
    whole = run(select_query_ids(dataset()))
    # Parts given out of order: the merged records come back in query order.
    merged = merge_reports([run(select_query_ids(dataset(), None, 1)), run(select_query_ids(dataset(), 1))])
    same_numbers(merged, whole)
    same_numbers(merged["single_stage"], whole["single_stage"])
    assert merged["untimed"] == whole["untimed"]
    assert merged["parts"] == 2
    # The single stage is timed; its merged latency is recomputed from the per-query records.
    rows = merged["single_stage"]["per_query"]
    assert merged["single_stage"]["variants"]["chunk_max"]["pairs_per_s"] == pytest.approx(
        sum(row["pairs"]["chunk_max"] for row in rows)
        / sum(row["latency_ms"]["chunk_max"] / 1000 for row in rows)
    )
    assert merged["variants"]["chunk_max"]["pairs_per_s"] is None  # the cascade was not timed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda parts: parts.__setitem__(1, run(["2", "1"])), "query '1' is in report 1 and report 2"),
        (lambda parts: parts[1].__setitem__("k", 3), "the reports differ in k (4 vs 3)"),
        (lambda parts: parts[1].pop("per_query"), "report 2 has no per_query records"),
        (lambda parts: parts.pop(), "merging needs at least two reports, got 1."),
        (
            lambda parts: [part.__setitem__("machine", {"cpu_count": n}) for n, part in enumerate(parts)],
            "timed on different machines",
        ),
        (lambda parts: parts[0].pop("single_stage"), "some reports carry a single_stage report"),
    ],
    ids=["overlap", "settings", "no-records", "one-part", "machines", "single-stage"],
)
def test_parts_that_do_not_add_up_are_refused(change: Any, message: str) -> None:
    parts = [run(["1"]), run(["2"])]
    change(parts)
    with pytest.raises(ValueError, match=re.escape(message)):
        merge_reports(parts)


def test_the_command_joins_parts_and_compares_the_cascade_with_its_single_stage_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = []
    for index, query_ids in enumerate((["1", "2"], ["10"])):
        path = tmp_path / f"part{index}.json"
        path.write_text(json.dumps(run(query_ids)))
        paths.append(str(path))
    out = tmp_path / "all.json"
    assert main(["merge", *paths, "--json", str(out), "--quiet", "--samples", "200"]) == 0
    document = json.loads(out.read_text())
    comparison = document["comparison"]
    assert [row["queries"] for row in comparison["variants"]] == [3, 3, 3]
    chunk_max = comparison["variants"][1]
    assert chunk_max["baseline_ndcg"] == pytest.approx(
        document["single_stage"]["variants"]["chunk_max"]["ndcg_at_10"]
    )
    assert chunk_max["candidate_ndcg"] == pytest.approx(document["variants"]["chunk_max"]["ndcg_at_10"])
    assert comparison["baseline_model"].endswith("alone (same run)")
    printed = capsys.readouterr().out
    assert "single stage (the fine model alone): tiny" in printed
    assert "cascade: tiny" in printed
