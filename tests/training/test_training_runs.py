"""Real, tiny training runs: the test model fine-tuned and distilled on a SciFact train subset.

Each run takes seconds on two cores (16 queries, 128-token pairs, a dozen steps), yet the
whole path is real: BM25 mining over the SciFact corpus, ``CrossEncoderTrainer``, dev
evaluation through crossrank's evaluator, the best checkpoint, saving and loading back.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from crossrank import Reranker
from crossrank.training import (
    TrainingData,
    TrainingSettings,
    distill_reranker,
    load_training_data,
    train_reranker,
)
from crossrank.training.fit import make_loss

pytestmark = pytest.mark.slow

TINY = TrainingSettings(
    max_queries=16,
    negatives=3,
    negatives_to_rank=20,
    batch_size=8,
    epochs=2,
    max_length=128,
    learning_rate=1e-4,
    dev_k=5,
    dev_max_queries=4,
)
PROBE_PAIRS = [
    ("Which animal hunts at night?", "Owls are nocturnal birds of prey that hunt small mammals in the dark."),
    ("Which animal hunts at night?", "The recipe calls for two cups of flour and a pinch of salt."),
]


@pytest.fixture(scope="module")
def scifact_train(data_dir: Path) -> TrainingData:
    return load_training_data(data_dir / "scifact", split="train")


@pytest.fixture(scope="module")
def fine_tuned(model_path: str, scifact_train: TrainingData, tmp_path_factory: pytest.TempPathFactory) -> Any:
    output = tmp_path_factory.mktemp("fine-tuned") / "model"
    report = train_reranker(
        scifact_train,
        base=model_path,
        output_dir=output,
        settings=TINY,
        dev_fraction=0.05,
        show_progress=False,
        command="pytest fine-tune",
    )
    return output, report


def test_fine_tuning_lowers_the_loss_and_the_model_loads_everywhere(
    fine_tuned: Any, model_path: str, scifact_train: TrainingData
) -> None:
    output, report = fine_tuned
    assert report.steps > 0
    assert report.data["queries"] == 16
    assert report.mining["mined"] > 0
    assert report.dev_before is not None
    assert report.dev_after is not None
    # Training loss over the run's own examples: the first logged steps against the last.
    losses = [record["loss"] for record in report.losses]
    assert len(losses) >= 4
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    # The saved model loads through crossrank, and its scores moved away from the base's.
    tuned = Reranker(str(output), backend="torch")
    base = Reranker(model_path, backend="torch")
    tuned_scores = tuned.score_pairs(PROBE_PAIRS)
    assert all(isinstance(score, float) and math.isfinite(score) for score in tuned_scores)
    assert tuned_scores != base.score_pairs(PROBE_PAIRS)
    assert tuned.scorer.max_length == base.scorer.max_length  # the reranking window is the model's own
    from sentence_transformers import CrossEncoder

    assert CrossEncoder(str(output), device="cpu").predict(PROBE_PAIRS).shape == (2,)


def test_the_trained_model_loads_in_both_adapters(fine_tuned: Any) -> None:
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from langchain_crossrank import CrossEncoderCompressor
    from llama_index.postprocessor.crossrank import CrossEncoderRerank

    output, _ = fine_tuned
    nodes = [NodeWithScore(node=TextNode(text=text), score=0.0) for _, text in PROBE_PAIRS]
    ranked = CrossEncoderRerank(model=str(output), top_n=2, backend="torch").postprocess_nodes(
        nodes, QueryBundle(PROBE_PAIRS[0][0])
    )
    assert len(ranked) == 2
    documents = [Document(page_content=text) for _, text in PROBE_PAIRS]
    compressed = CrossEncoderCompressor(model=str(output), top_n=1, backend="torch").compress_documents(
        documents, PROBE_PAIRS[0][0]
    )
    assert len(compressed) == 1


def test_the_model_card_records_the_run(fine_tuned: Any) -> None:
    output, report = fine_tuned
    card = (output / "README.md").read_text(encoding="utf-8")
    assert "pytest fine-tune" in card
    assert f"{report.steps} steps" in card
    assert "16 queries" in card
    assert "| ndcg@10 |" in card
    # The saved model is the best dev checkpoint, whose metrics the trainer already measured.
    assert report.best_checkpoint is not None
    assert f"Best dev checkpoint: `{Path(report.best_checkpoint).name}`" in card
    saved = json.loads((output / "training_report.json").read_text(encoding="utf-8"))
    assert saved["dev_after"] == report.dev_after
    assert saved["versions"]["sentence-transformers"]


def test_a_fixed_seed_gives_the_same_model_twice(
    model_path: str, scifact_train: TrainingData, tmp_path: Path
) -> None:
    settings = TINY.replace(max_queries=6, max_steps=3, seed=7)
    scores = []
    for name in ("first", "second"):
        train_reranker(
            scifact_train,
            base=model_path,
            output_dir=tmp_path / name,
            settings=settings,
            dev_fraction=None,
            show_progress=False,
        )
        scores.append(Reranker(str(tmp_path / name), backend="torch").score_pairs(PROBE_PAIRS))
    assert scores[0] == scores[1]
    other = settings.replace(seed=8)
    train_reranker(
        scifact_train,
        base=model_path,
        output_dir=tmp_path / "other",
        settings=other,
        dev_fraction=None,
        show_progress=False,
    )
    assert Reranker(str(tmp_path / "other"), backend="torch").score_pairs(PROBE_PAIRS) != scores[0]


def test_the_fast_cpu_recipe_trains_and_records_its_precision(
    model_path: str, scifact_train: TrainingData, tmp_path: Path
) -> None:
    settings = TINY.replace(max_queries=6, max_steps=3, seed=7)
    scores = {}
    for precision in ("fp32", "bf16"):
        # bf16 with the attention dropout off: the fast recipe on a CPU (docs/training.md).
        fast = {"precision": precision, "attention_dropout": 0.0 if precision == "bf16" else None}
        report = train_reranker(
            scifact_train,
            base=model_path,
            output_dir=tmp_path / precision,
            settings=settings.replace(**fast),
            dev_fraction=None,
            show_progress=False,
        )
        assert report.steps == 3
        assert all(math.isfinite(record["loss"]) for record in report.losses)
        saved = json.loads((tmp_path / precision / "training_report.json").read_text(encoding="utf-8"))
        assert saved["settings"]["precision"] == precision
        arithmetic = "bf16 mixed precision" if precision == "bf16" else "fp32"
        assert saved["extra"]["arithmetic"] == arithmetic
        card = (tmp_path / precision / "README.md").read_text(encoding="utf-8")
        assert f"- Arithmetic: {arithmetic}" in card
        assert saved["settings"]["attention_dropout"] == fast["attention_dropout"]
        config = json.loads((tmp_path / precision / "config.json").read_text(encoding="utf-8"))
        assert config["attention_probs_dropout_prob"] == 0.1  # the saved model's own value
        scores[precision] = Reranker(str(tmp_path / precision), backend="torch").score_pairs(PROBE_PAIRS)
    # Same seed and data: the fast recipe moves the weights differently from the fp32 one (the
    # options really change the arithmetic), yet both models still put the relevant text first.
    assert scores["bf16"] != scores["fp32"]
    assert all(pair[0] > pair[1] for pair in scores.values())


def test_a_stopped_run_resumes_from_its_checkpoint(
    model_path: str, scifact_train: TrainingData, tmp_path: Path
) -> None:
    output = tmp_path / "resumed"
    short = TINY.replace(max_queries=6, max_steps=2, dev_max_queries=None)
    first = train_reranker(
        scifact_train,
        base=model_path,
        output_dir=output,
        settings=short,
        dev_fraction=None,
        show_progress=False,
    )
    assert first.steps == 2
    with pytest.raises(FileExistsError, match="--resume"):
        train_reranker(
            scifact_train,
            base=model_path,
            output_dir=output,
            settings=short,
            dev_fraction=None,
            show_progress=False,
        )
    resumed = train_reranker(
        scifact_train,
        base=model_path,
        output_dir=output,
        settings=short.replace(max_steps=4),
        dev_fraction=None,
        resume=True,
        show_progress=False,
    )
    assert resumed.steps == 4
    assert resumed.extra["resumed_from"].endswith("checkpoint-2")
    card = (output / "README.md").read_text(encoding="utf-8")
    assert "(this run only: it resumed a stopped one, whose time is not counted)" in card


def test_distilling_a_two_layer_student(model_path: str, scifact_train: TrainingData, tmp_path: Path) -> None:
    output = tmp_path / "student"
    report = distill_reranker(
        scifact_train,
        teacher=model_path,
        layers=2,
        output_dir=output,
        settings=TINY.replace(max_steps=6),
        dev_fraction=0.05,
        show_progress=False,
    )
    assert report.kind == "distill"
    assert "2 of the teacher's 6 layers" in report.started_from
    assert report.extra["teacher_dev"]["ndcg@10"] >= 0.0
    config = json.loads((output / "config.json").read_text(encoding="utf-8"))
    assert config["num_hidden_layers"] == 2
    student = Reranker(str(output), backend="torch")
    scores = student.score_pairs(PROBE_PAIRS)
    assert all(0.0 <= score <= 1.0 for score in scores)  # the teacher's sigmoid is kept


def test_a_plain_encoder_gets_a_new_head_and_refuses_the_guard(
    scifact_train: TrainingData, tmp_path: Path
) -> None:
    from crossrank.evaluation.embeddings import offline_embedding_model_path

    encoder = offline_embedding_model_path()
    with pytest.raises(ValueError, match="plain encoder"):
        train_reranker(
            scifact_train,
            base=encoder,
            output_dir=tmp_path / "guarded",
            settings=TINY.replace(false_negative_margin=0.1),
            dev_fraction=None,
            show_progress=False,
        )
    report = train_reranker(
        scifact_train,
        base=encoder,
        output_dir=tmp_path / "head",
        settings=TINY.replace(max_steps=2, max_queries=4),
        dev_fraction=None,
        show_progress=False,
    )
    assert report.started_from == "encoder with a new one-logit head"
    assert len(Reranker(str(tmp_path / "head"), backend="torch").score_pairs(PROBE_PAIRS)) == 2


def test_bce_weighs_positives_by_the_negative_ratio(cross_encoder: Any) -> None:
    loss = make_loss("bce", cross_encoder, negatives_per_positive=4.0)
    assert float(loss.pos_weight) == 4.0
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("hinge", cross_encoder, negatives_per_positive=1.0)


@pytest.mark.parametrize(
    ("kind", "loss"),
    [("train", "mnrl"), ("train", "lambda"), ("distill", "margin_mse"), ("distill", "listnet")],
)
def test_every_loss_trains_for_real(
    kind: str, loss: str, model_path: str, scifact_train: TrainingData, tmp_path: Path
) -> None:
    settings = TINY.replace(max_queries=8, max_steps=2, batch_size=4)
    common: dict[str, Any] = {"output_dir": tmp_path / loss, "loss": loss, "settings": settings}
    if kind == "train":
        report = train_reranker(
            scifact_train, base=model_path, dev_fraction=None, show_progress=False, **common
        )
    else:
        report = distill_reranker(
            scifact_train, teacher=model_path, layers=1, dev_fraction=None, show_progress=False, **common
        )
    assert report.steps == 2
    assert report.loss["name"] == loss
    assert all(math.isfinite(record["loss"]) for record in report.losses)
    assert len(Reranker(str(tmp_path / loss), backend="torch").score_pairs(PROBE_PAIRS)) == 2


def test_mined_negatives_of_real_data_are_never_judged_positives(scifact_train: TrainingData) -> None:
    from crossrank.training.mining import build_mining_first_stage, mine_hard_negatives

    data = scifact_train.select([query.query_id for query in scifact_train.queries[:40]])
    stage = build_mining_first_stage(data, "bm25")
    settings = TrainingSettings(negatives=10, negatives_to_rank=30)
    mined, report = mine_hard_negatives(data, stage, settings)
    for item in mined:
        positives = {judgement.document_id for judgement in item.query.positives}
        assert not positives & {judgement.document_id for judgement in item.mined}
        assert len(item.mined) == 10
    # BM25 ranks many positives inside the range: the exclusion had work to do.
    assert report.skipped_judged > 10
