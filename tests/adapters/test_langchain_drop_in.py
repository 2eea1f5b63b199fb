"""``CrossEncoderModel`` is a pydantic model that takes ``HuggingFaceCrossEncoder``'s arguments."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from crossrank import Reranker
from langchain_crossrank import CrossEncoderModel

PAIRS = [
    ("Aerobic exercise lowers blood pressure.", "Regular aerobic exercise lowered resting blood pressure."),
    ("Aerobic exercise lowers blood pressure.", "Bananas are rich in potassium."),
]


def test_huggingface_cross_encoder_arguments_map_to_ours() -> None:
    model = CrossEncoderModel(
        model_name="some/model", model_kwargs={"device": "cpu", "trust_remote_code": True, "max_length": 128}
    )
    assert isinstance(model, BaseModel)
    assert (model.model, model.device, model.trust_remote_code) == ("some/model", "cpu", True)
    assert model.cross_encoder_kwargs == {"max_length": 128}
    assert model.reranker.options["cross_encoder_kwargs"] == {"max_length": 128}
    assert model.model_name == "some/model"


def test_positional_and_keyword_model_are_the_same() -> None:
    assert (
        CrossEncoderModel("some/model").model == CrossEncoderModel(model="some/model").model == "some/model"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "a", "model_name": "b"}, "pass the model as model= or as model_name=, not both."),
        (
            {"device": "cpu", "model_kwargs": {"device": "cuda"}},
            "device is given both as device= and in model_kwargs; pass it once.",
        ),
        (
            {"cross_encoder_kwargs": {"max_length": 64}, "model_kwargs": {"max_length": 128}},
            "pass CrossEncoder arguments as model_kwargs= or cross_encoder_kwargs=, not both.",
        ),
        ({"model_name": "a", "top_n": 3}, "top_n"),
    ],
    ids=["model-twice", "device-twice", "kwargs-twice", "ranking-option"],
)
def test_conflicting_or_unknown_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        CrossEncoderModel(**kwargs)  # type: ignore[arg-type]


def test_assignment_keeps_the_core_in_step_and_rolls_back_a_bad_value() -> None:
    model = CrossEncoderModel("some/model")
    first = model.reranker
    model.max_windows = 2
    assert model.reranker.max_windows == 2
    with pytest.raises(ValueError, match=re.escape("max_windows must be a positive integer, got 0.")):
        model.max_windows = 0
    assert model.max_windows == model.reranker.max_windows == 2
    assert first.max_windows == 16


def test_scores_like_the_core_with_huggingface_names(model_path: str) -> None:
    model = CrossEncoderModel(model_name=model_path, model_kwargs={"device": "cpu"})
    assert model.score(PAIRS) == Reranker(model_path, device="cpu").score_pairs(PAIRS)
