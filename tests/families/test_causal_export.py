"""Causal-LM rerankers on ONNX Runtime and OpenVINO: the LogitScore graph, and nothing vocabulary-wide.

The export (crossrank.models.causal_export) is checked against ``CrossEncoder.predict`` for both
causal zoo families (yes/no and single logit), alone and in mixed-length batches; its graph
gives one score per row and computes no tensor of the vocabulary's size; an export that does
not reproduce ``predict`` or a changed file in the cache is never run.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from model_zoo import FAMILIES, Family

from crossrank import ModelLoadError, Reranker
from crossrank.errors import OnnxExportError
from crossrank.models import causal_export, onnx_cache, onnx_export

CAUSAL = [name for name, family in FAMILIES.items() if family.causal]
QUERY = "does regular aerobic exercise lower blood pressure?"
DOCUMENTS = [
    "Aerobic exercise lowered resting blood pressure in adults with hypertension.",
    "No.",
    "A longer trial report: participants walked briskly every day, and their systolic readings fell "
    "modestly; diastolic readings barely moved, and nobody changed medication during the study.",
    "yes",
]
TOLERANCE = 1e-5
# int8 moves scores (sigmoid outputs of the zoo's random models: measured up to 0.15 here);
# past this the graph is wrong, not quantized.
INT8_TOLERANCE = 0.3


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(tmp_path))
    return tmp_path


def _reference(model: Any) -> list[float]:
    return [float(score) for score in model.predict([(QUERY, d) for d in DOCUMENTS], batch_size=2)]


def _scores(reranker: Reranker, documents: list[str] = DOCUMENTS) -> list[float]:
    results = sorted(reranker.rerank(QUERY, documents), key=lambda result: result.index)
    return [result.cross_encoder_score for result in results]


@pytest.mark.parametrize("family", CAUSAL, indirect=True)
@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_export_backends_equal_predict_alone_and_batched(
    family: Family, family_path: Path, family_model: Any, cache_dir: Path, backend: str
) -> None:
    reranker = Reranker(str(family_path), backend=backend, batch_size=8, score_cache_size=0)  # type: ignore[arg-type]
    together = _scores(reranker)
    assert reranker.backend_in_use == backend
    assert together == pytest.approx(_reference(family_model), abs=TOLERANCE)
    alone = [_scores(reranker, [document])[0] for document in DOCUMENTS]
    assert alone == pytest.approx(together, abs=TOLERANCE)


@pytest.mark.parametrize("family", CAUSAL, indirect=True)
def test_the_graph_gives_one_score_per_row_and_no_vocabulary_logits(
    family: Family, family_model: Any, tmp_path: Path
) -> None:
    import onnx

    path = tmp_path / "model.onnx"
    onnx_export.export_unfused(family_model, path)
    vocabulary = int(family_model[0].auto_model.get_output_embeddings().weight.shape[0])
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    (output,) = model.graph.output
    dims = [dim.dim_value or dim.dim_param for dim in output.type.tensor_type.shape.dim]
    assert output.name == "scores"
    assert dims[1:] == [1]  # one score per row
    assert isinstance(dims[0], str)  # of a dynamic batch
    assert [value.name for value in model.graph.input] == ["input_ids", "attention_mask"]
    shapes = {value.name: value.type.tensor_type.shape.dim for value in model.graph.value_info}
    for node in model.graph.node:
        if node.op_type in ("MatMul", "Gemm"):
            widths = [dim.dim_value for dim in shapes.get(node.output[0], [])]
            assert vocabulary not in widths, node.name
    # The LM head is in the graph only as its true/false rows: a (hidden, rows) constant.
    hidden = int(family_model[0].auto_model.config.hidden_size)
    rows = len([token for token in family.logit_tokens or () if token is not None])
    constants = [tuple(tensor.dims) for tensor in model.graph.initializer]
    constants += [
        tuple(attribute.t.dims)
        for node in model.graph.node
        if node.op_type == "Constant"
        for attribute in node.attribute
        if attribute.name == "value"
    ]
    assert (hidden, rows) in constants or (rows, hidden) in constants, constants


@pytest.mark.parametrize("family", ["qwen3-reranker"], indirect=True)
def test_a_graph_with_vocabulary_wide_logits_is_refused(
    family_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    def naive(cross_encoder: Any, input_names: tuple[str, ...]) -> Any:
        """The LM's full logits at every position, then the two tokens: what the export must not do."""
        language_model = cross_encoder[0].auto_model
        true, false = causal_export._logit_tokens(cross_encoder) or [0, None]

        class Naive(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.language_model = language_model

            def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
                logits = self.language_model(input_ids=input_ids, attention_mask=attention_mask).logits
                last = (attention_mask.sum(dim=1) - 1).view(-1, 1, 1).expand(-1, 1, logits.shape[-1])
                picked = logits.gather(1, last).squeeze(1)
                return (picked[:, true] - picked[:, false]).unsqueeze(1)

        return Naive().eval()

    monkeypatch.setattr(causal_export, "_causal_module", naive)
    with pytest.raises(OnnxExportError, match="vocabulary-sized dimension"):
        onnx_export.export_unfused(family_model, tmp_path / "model.onnx")


@pytest.mark.parametrize("family", ["qwen3-reranker"], indirect=True)
def test_an_export_with_the_wrong_true_token_is_refused(
    family_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = causal_export._causal_module

    def wrong_token(cross_encoder: Any, input_names: tuple[str, ...]) -> Any:
        scoring = next(module for module in cross_encoder if type(module).__name__ == "LogitScore")
        scoring.true_token_id = int(scoring.true_token_id) + 1  # the copy the exporter traces
        return real(cross_encoder, input_names)

    monkeypatch.setattr(causal_export, "_causal_module", wrong_token)
    reranker = Reranker(str(family_path), backend="onnx", score_cache_size=0)
    with pytest.raises(ModelLoadError, match=r"differs from CrossEncoder\.predict"):
        reranker.rerank(QUERY, DOCUMENTS)
    # Nothing was cached: the next load exports again rather than running the bad graph.
    assert not any(entry.is_dir() for entry in (cache_dir / "onnx").glob("*-fp32-*"))


@pytest.mark.parametrize("family", ["qwen3-reranker"], indirect=True)
def test_a_changed_graph_file_is_not_run(
    family_path: Path, family_model: Any, zoo: dict[str, Path], cache_dir: Path, caplog: Any
) -> None:
    _scores(Reranker(str(family_path), backend="onnx", score_cache_size=0))
    (entry,) = (cache_dir / "onnx").glob("*-fp32-*")
    # Another causal model's graph, same inputs and output, put in place of this one's.
    other = Reranker(str(zoo["causal-single-logit"]), backend="onnx", score_cache_size=0)
    _scores(other)
    (other_entry,) = (cache_dir / "onnx").glob("*single-logit-fp32-*")
    shutil.copyfile(other_entry / "model.onnx", entry / "model.onnx")
    onnx_cache._verified.clear()  # this process verified the file before it changed
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        scores = _scores(Reranker(str(family_path), backend="onnx", score_cache_size=0))
    assert any("not usable" in record.getMessage() for record in caplog.records)
    assert scores == pytest.approx(_reference(family_model), abs=TOLERANCE)


@pytest.mark.parametrize("family", CAUSAL, indirect=True)
def test_the_cache_key_tells_the_causal_graph_apart(family: Family, load_zoo_model: Any) -> None:
    model = load_zoo_model(family.name)
    scoring = next(module for module in model if type(module).__name__ == "LogitScore")
    fingerprint = causal_export.causal_graph_fingerprint(model)
    assert fingerprint["graph"] == causal_export.CAUSAL_GRAPH
    assert fingerprint["logit_tokens"] == [scoring.true_token_id, scoring.false_token_id]
    key = onnx_export._cache_key(model, "fp32")
    scoring.true_token_id = int(scoring.true_token_id) + 1  # same weights, another true token
    assert onnx_export._cache_key(model, "fp32") != key


def test_a_sequence_classifier_has_no_causal_fingerprint(load_zoo_model: Any) -> None:
    assert causal_export.causal_graph_fingerprint(load_zoo_model("qwen3-seq-cls-template")) == {}


@pytest.mark.parametrize("family", CAUSAL, indirect=True)
def test_the_lower_precisions(family: Family, family_path: Path, family_model: Any, cache_dir: Path) -> None:
    expected = _reference(family_model)
    for backend, tolerance in (("onnx-int8", INT8_TOLERANCE), ("openvino-bf16", 0.05)):
        reranker = Reranker(str(family_path), backend=backend, batch_size=8, score_cache_size=0)  # type: ignore[arg-type]
        together = _scores(reranker)
        assert reranker.backend_in_use == backend
        assert together == pytest.approx(expected, abs=tolerance), backend
        alone = [_scores(reranker, [document])[0] for document in DOCUMENTS]
        assert alone == pytest.approx(together, abs=1e-6 if backend == "onnx-int8" else 0.01), backend
    with pytest.raises(ModelLoadError, match="chat template"):
        Reranker(str(family_path), backend="openvino-int8").rerank(QUERY, DOCUMENTS)


@pytest.mark.parametrize("family", ["qwen3-reranker"], indirect=True)
def test_an_instruction_scores_as_predict_with_that_prompt(
    family_path: Path, family_model: Any, cache_dir: Path
) -> None:
    instruction = "Given a health question, find abstracts that answer it"
    reranker = Reranker(str(family_path), backend="onnx", instruction=instruction, score_cache_size=0)
    expected = family_model.predict([(QUERY, d) for d in DOCUMENTS], prompt=instruction, batch_size=2)
    assert _scores(reranker) == pytest.approx([float(s) for s in expected], abs=TOLERANCE)
