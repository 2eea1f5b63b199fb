"""Pure logic of the training room: settings, mining, examples, layers, cards (no model)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from crossrank.evaluation.first_stage import Candidate
from crossrank.training.attention_dropout import (
    attention_dropout_set,
    attention_dropouts,
    check_attention_dropout,
)
from crossrank.training.data import TrainingData
from crossrank.training.data_files import load_training_data
from crossrank.training.dev_evaluator import FrozenFirstStage
from crossrank.training.distill import choose_layers
from crossrank.training.examples import build_examples
from crossrank.training.fit import cpu_has_bf16, latest_checkpoint, use_bf16
from crossrank.training.mining import mine_hard_negatives
from crossrank.training.model_card import TrainingReport, render_model_card, write_model_card
from crossrank.training.pipeline import check_output_dir
from crossrank.training.settings import TRAINING_FLAGS, TrainingSettings

ROWS = [
    ("how do owls hunt", "Owls hunt at night with silent wings.", 1),
    ("how do owls hunt", "Owls sleep in hollow trees by day.", 0),
    ("why do bats use echoes", "Bats find insects by the echoes of their calls.", 2),
    ("why do bats use echoes", "Bats roost upside down in caves.", 0),
]
CORPUS_EXTRA = [
    ("moths and lamps", "Moths circle bright lamps at night.", 1),
    ("river otters", "Otters dive for fish in cold rivers.", 1),
]


class ListedFirstStage:
    """Returns the corpus in a fixed order for every query (judged documents included)."""

    name = "bm25"

    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.calls: list[tuple[str, int]] = []

    def search(self, query: str, k: int) -> list[Candidate]:
        self.calls.append((query, k))
        return [Candidate(doc_id=doc_id, score=float(-rank)) for rank, doc_id in enumerate(self.order[:k])]


@pytest.fixture
def data() -> TrainingData:
    return load_training_data(ROWS + CORPUS_EXTRA)


def _corpus_order(data: TrainingData) -> list[str]:
    # Judged positives first: mining must skip them, not take them as negatives.
    positives = [j.document_id for q in data.queries for j in q.positives]
    return positives + [doc_id for doc_id in data.corpus if doc_id not in positives]


def test_settings_refuse_bad_values_with_the_field_named() -> None:
    with pytest.raises(ValueError, match=r"negatives_to_rank .* must not be below negatives_from_rank"):
        TrainingSettings(negatives_from_rank=10, negatives_to_rank=5)
    with pytest.raises(ValueError, match="holds fewer than negatives=8"):
        TrainingSettings(negatives=8, negatives_from_rank=1, negatives_to_rank=4)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        TrainingSettings(learning_rate=0.0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got True"):
        TrainingSettings(batch_size=True)
    with pytest.raises(ValueError, match="first_stage must be one of"):
        TrainingSettings(first_stage="splade")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"precision must be one of \('auto', 'fp32', 'bf16'\), got 'fp16'"):
        TrainingSettings(precision="fp16")  # type: ignore[arg-type]
    assert TrainingSettings().replace(negatives=2).negatives == 2


def _tiny_bert() -> Any:
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        attention_probs_dropout_prob=0.1, hidden_dropout_prob=0.2,
    )  # fmt: skip
    config.num_labels = 1
    return BertForSequenceClassification(config)


def test_attention_dropout_is_set_for_the_run_and_restored() -> None:
    import torch

    model = _tiny_bert()
    found = attention_dropouts(model)
    assert len(found) == 2  # one per layer: the attention probabilities only
    hidden = [m for m in model.modules() if isinstance(m, torch.nn.Dropout) and m not in found]
    assert hidden
    assert all(m.p == 0.2 for m in hidden)
    with attention_dropout_set(model, 0.0) as changed:
        assert changed == 2
        assert all(m.p == 0.0 for m in found)
        assert all(m.p == 0.2 for m in hidden)  # hidden-state dropout stays
    assert all(m.p == 0.1 for m in found)
    assert model.config.attention_probs_dropout_prob == 0.1  # the saved config never changes
    with attention_dropout_set(model, None) as changed:
        assert changed == 0
    with pytest.raises(ValueError, match="has no attention dropout crossrank recognises"):
        check_attention_dropout(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1)), 0.0)
    assert check_attention_dropout(torch.nn.Linear(2, 2), None) == []
    with pytest.raises(ValueError, match=r"attention_dropout must be in \[0.0, 0.9\], got 1.0"):
        TrainingSettings(attention_dropout=1.0)


def test_bf16_hardware_is_read_from_the_cpu_flags() -> None:
    zen4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16 avx512vl\n"
    sapphire = "flags\t\t: avx512f amx_bf16 amx_tile amx_int8\n"
    older = "flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\nbugs\t\t: avx512_bf16\n"
    assert cpu_has_bf16(zen4)
    assert cpu_has_bf16(sapphire)
    assert not cpu_has_bf16(older)  # only the flags line counts
    assert not cpu_has_bf16("")


@pytest.mark.parametrize("native_bf16", [True, False], ids=["bf16-cpu", "no-bf16-cpu"])
def test_bf16_training_on_a_cpu_warns_only_without_native_bf16(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, native_bf16: bool
) -> None:
    import torch

    from crossrank.training import fit

    # Both answers on any machine: the CPU's flags and the GPU's absence are faked.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(fit, "cpu_has_bf16", lambda cpuinfo=None: native_bf16)
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        assert use_bf16("bf16") is True  # honoured either way: emulated bf16 is correct, only slower
        assert use_bf16("auto") is False
    warned = [r for r in caplog.records if "precision bf16 on a CPU without" in r.getMessage()]
    assert len(warned) == (0 if native_bf16 else 1)


def test_precision_auto_keeps_a_cpu_in_fp32_and_bf16_is_honoured() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("checks the CPU rule; this machine has a GPU")
    assert use_bf16("fp32") is False
    assert use_bf16("auto") is False  # a CPU recipe's numbers do not change under the default
    assert use_bf16("bf16") is True
    with pytest.raises(ValueError, match="got 'fp16'"):
        use_bf16("fp16")


def test_every_setting_has_a_flag_with_its_default_and_help() -> None:
    for name, flag in TRAINING_FLAGS.items():
        assert flag["flag"] == "--" + name.replace("_", "-")
        assert flag["default"] == getattr(TrainingSettings(), name)
        assert flag["help"]


def test_mining_never_takes_a_judged_document(data: TrainingData) -> None:
    stage = ListedFirstStage(_corpus_order(data))
    settings = TrainingSettings(negatives=2, negatives_from_rank=1, negatives_to_rank=6)
    mined, report = mine_hard_negatives(data, stage, settings)
    for item in mined:
        judged = {j.document_id for j in item.query.judgements}
        assert len(item.mined) == 2
        assert not judged & {j.document_id for j in item.mined}
        assert all(j.label == 0.0 for j in item.mined)
    # Every query's own judgements sit in its top 6 and were skipped, and so counted.
    assert report.skipped_judged >= sum(len(q.judgements) for q in data.queries)
    assert report.mined == 2 * len(data.queries)
    assert report.queries_short == 0


def test_mining_rank_range_and_short_queries_are_reported(data: TrainingData) -> None:
    order = _corpus_order(data)
    stage = ListedFirstStage(order)
    settings = TrainingSettings(negatives=3, negatives_from_rank=5, negatives_to_rank=7)
    mined, report = mine_hard_negatives(data, stage, settings)
    allowed = set(order[4:7])
    for item in mined:
        assert {j.document_id for j in item.mined} <= allowed
    assert stage.calls[0][1] == 7
    assert report.queries_short == sum(len(item.mined) < 3 for item in mined) > 0
    assert report.rank_range == (5, 7)


def test_false_negative_guard_skips_candidates_near_the_positive(data: TrainingData) -> None:
    stage = ListedFirstStage(_corpus_order(data))
    suspicious = {data.corpus[doc_id] for doc_id in list(data.corpus)[:2]}

    def guard(query: str, texts: list[str]) -> list[float]:
        # Positives score 0.9; two corpus documents look just as relevant; the rest 0.1.
        positives = {j.text for q in data.queries for j in q.positives if q.text == query}
        return [0.9 if text in positives or text in suspicious else 0.1 for text in texts]

    settings = TrainingSettings(negatives=2, negatives_to_rank=6, false_negative_margin=0.2)
    mined, report = mine_hard_negatives(data, stage, settings, guard=guard)
    for item in mined:
        assert not suspicious & {j.text for j in item.mined}
        assert all(item.guard_scores[j.document_id] == 0.1 for j in item.mined)
    assert report.skipped_by_guard > 0
    unguarded, _ = mine_hard_negatives(data, stage, settings.replace(false_negative_margin=None))
    assert any(suspicious & {j.text for j in item.mined} for item in unguarded)
    with pytest.raises(ValueError, match="no guard model"):
        mine_hard_negatives(data, stage, settings)


def test_examples_have_the_layout_of_each_loss(data: TrainingData) -> None:
    stage = ListedFirstStage(_corpus_order(data))
    mined, _ = mine_hard_negatives(data, stage, TrainingSettings(negatives=2, negatives_to_rank=8))
    bce = build_examples("bce", mined, data, negatives=2, seed=1)
    assert list(bce.columns) == ["query", "document", "label"]
    assert set(bce.columns["label"]) <= {0.0, 0.5, 1.0}  # grade 1 of top grade 2 -> 0.5
    assert 1.0 in bce.columns["label"]
    assert bce.rows == sum(len(q.judgements) for q in data.queries) + sum(len(m.mined) for m in mined)
    mnrl = build_examples("mnrl", mined, data, negatives=3, seed=1)
    assert list(mnrl.columns) == ["query", "positive", "negative_1", "negative_2", "negative_3"]
    assert mnrl.rows == data.num_positives
    lists = build_examples("lambda", mined, data, negatives=2, seed=1)
    pairs = zip(lists.columns["documents"], lists.columns["label"], strict=True)
    assert all(len(docs) == len(labels) for docs, labels in pairs)
    teacher = {
        (m.query.query_id, j.document_id): float(i)
        for m in mined
        for i, j in enumerate(m.query.judgements + m.mined)
    }
    mse = build_examples("mse", mined, data, negatives=2, seed=1, teacher_scores=teacher)
    assert mse.rows == bce.rows
    assert mse.columns["label"] != bce.columns["label"]
    margin = build_examples("margin_mse", mined, data, negatives=2, seed=1, teacher_scores=teacher)
    assert all(len(labels) == 3 for labels in margin.columns["label"])
    listnet = build_examples("listnet", mined, data, negatives=2, seed=1, teacher_scores=teacher)
    assert list(listnet.columns) == ["query", "documents", "label"]
    assert listnet.pairs == mse.rows  # every teacher-scored pair, grouped by query
    for query, docs, labels in zip(*listnet.columns.values(), strict=True):
        item = next(m for m in mined if m.query.text == query)
        judgements = item.query.judgements + item.mined
        assert docs == [j.text for j in judgements]
        assert labels == [teacher[(item.query.query_id, j.document_id)] for j in judgements]
    with pytest.raises(ValueError, match="distills a teacher"):
        build_examples("listnet", mined, data, negatives=2, seed=1)
    with pytest.raises(ValueError, match="distills a teacher"):
        build_examples("mse", mined, data, negatives=2, seed=1)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        build_examples("hinge", mined, data, negatives=2, seed=1)


def test_mnrl_tops_up_short_rows_with_random_unjudged_documents_and_says_so(data: TrainingData) -> None:
    mined, _ = mine_hard_negatives(data, ListedFirstStage([]), TrainingSettings(negatives=0))
    examples = build_examples("mnrl", mined, data, negatives=2, seed=3)
    assert examples.random_fill > 0
    again = build_examples("mnrl", mined, data, negatives=2, seed=3)
    assert again.columns == examples.columns
    for row in range(examples.rows):
        query = examples.columns["query"][row]
        judged_positive = {j.text for q in data.queries if q.text == query for j in q.positives}
        negatives = {examples.columns[f"negative_{i}"][row] for i in (1, 2)}
        assert not negatives & judged_positive


@pytest.mark.parametrize(
    ("total", "keep", "how", "expected"),
    [(6, 2, "spaced", [0, 5]), (6, 3, "spaced", [0, 2, 5]), (6, 2, "first", [0, 1]), (12, 1, "spaced", [11])],
)
def test_student_layers(total: int, keep: int, how: str, expected: list[int]) -> None:
    assert choose_layers(total, keep, how) == expected


def test_student_layers_refuse_impossible_counts() -> None:
    with pytest.raises(ValueError, match="between 1 and 5"):
        choose_layers(6, 6)
    with pytest.raises(ValueError, match="'first' or 'spaced'"):
        choose_layers(6, 2, "random")


def test_frozen_first_stage_searches_once() -> None:
    stage = ListedFirstStage(["a", "b", "c"])
    frozen = FrozenFirstStage(stage, ["q1", "q2"], k=2)
    assert [c.doc_id for c in frozen.search("q1", 2)] == ["a", "b"]
    frozen.search("q2", 1)
    assert len(stage.calls) == 2
    with pytest.raises(KeyError, match="top 2 of its own queries"):
        frozen.search("q3", 2)


def test_output_dir_and_checkpoint_checks(tmp_path: Path) -> None:
    check_output_dir(tmp_path / "new", resume=False)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "config.json").write_text("{}")
    with pytest.raises(FileExistsError, match=r"not empty.*--resume"):
        check_output_dir(tmp_path / "used", resume=False)
    checkpoints = tmp_path / "checkpoints"
    assert latest_checkpoint(checkpoints) is None
    for step in (5, 40, 12):
        (checkpoints / f"checkpoint-{step}").mkdir(parents=True)
    assert latest_checkpoint(checkpoints) == checkpoints / "checkpoint-40"


def test_model_card_states_the_run(tmp_path: Path) -> None:
    report = TrainingReport(
        kind="train",
        output_dir=str(tmp_path),
        base="base-model",
        started_from="cross-encoder",
        loss={"name": "bce", "class": "BinaryCrossEntropyLoss"},
        data={
            "source": "data.jsonl",
            "queries": 3,
            "positives": 4,
            "negatives": 1,
            "duplicates_collapsed": 2,
        },
        dev={"source": "split 'dev'", "queries": 2, "k": 10, "first_stage": "bm25"},
        mining={
            "first_stage": "bm25",
            "rank_range": [1, 50],
            "requested_per_query": 4,
            "mined": 12,
            "skipped_judged": 3,
            "false_negative_margin": 0.1,
            "skipped_by_guard": 2,
        },
        examples={"rows": 17, "pairs": 17, "random_fill": 0, "skipped_queries": 0},
        settings=TrainingSettings().to_json(),
        steps=7,
        epochs=1.0,
        train_seconds=12.0,
        total_seconds=30.0,
        dev_before={"ndcg@10": 0.25, "ndcg@10_rrf": 0.3},
        dev_after={"ndcg@10": 0.5, "ndcg@10_rrf": 0.55},
        command="crossrank train data.jsonl --base base-model --output out",
        versions={"crossrank": "0.1.0"},
    )
    text = render_model_card(report)
    assert "crossrank train data.jsonl --base base-model --output out" in text
    assert "3 queries, 4 positives, 1 judged negatives, 2 duplicates collapsed" in text
    assert "margin 0.1: 2 skipped" in text
    assert "| ndcg@10 | 0.2500 | 0.5000 |" in text
    assert "7 steps" in text
    assert "12 s training" in text
    write_model_card(report, tmp_path)
    assert TrainingReport.read(tmp_path).to_json() == report.to_json()
    assert (tmp_path / "README.md").read_text().startswith("---\nlibrary_name: sentence-transformers")
