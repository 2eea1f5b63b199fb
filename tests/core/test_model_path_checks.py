"""A local model path that cannot hold a model is refused where the reranker is built.

Before, ``CrossEncoderRerank(model="../shared/models/minilm-l6-rerankr")`` constructed
without complaint and failed on the first call, after 35-44 s. None of these tests
loads a model: the check is a look at the file system.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crossrank import ModelLoadError, Reranker


@pytest.fixture
def models_folder(tmp_path: Path) -> Path:
    """A folder with one directory that looks like a saved model."""
    model = tmp_path / "minilm-l6-reranker"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    return tmp_path


def test_a_typo_in_a_local_path_fails_at_construction_naming_the_near_directory(models_folder: Path) -> None:
    typo = models_folder / "minilm-l6-rerankr"
    with pytest.raises(ModelLoadError) as raised:
        Reranker(str(typo))
    message = str(raised.value)
    assert message.startswith("Point model= (or $CROSSRANK_MODEL) at a directory that holds")
    assert f"{str(typo)!r} does not exist" in message
    assert f"did you mean {str(models_folder / 'minilm-l6-reranker')!r}?" in message


@pytest.mark.parametrize("prefix", ["./", "../", "~/"])
def test_relative_and_home_paths_are_checked_too(prefix: str) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        Reranker(f"{prefix}surely-no-such-model-folder-3f9c")


def test_a_directory_without_config_json_holds_no_model(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model", encoding="utf-8")
    with pytest.raises(ModelLoadError, match=r"holds no model \(no config\.json"):
        Reranker(str(tmp_path))


def test_a_file_is_not_a_model_directory(tmp_path: Path) -> None:
    file = tmp_path / "model.onnx"
    file.write_bytes(b"\0")
    with pytest.raises(ModelLoadError, match="is a file, not a model directory"):
        Reranker(str(file))


def test_the_model_from_the_environment_is_checked_at_construction(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CROSSRANK_MODEL", str(tmp_path / "gone"))
    with pytest.raises(ModelLoadError, match="gone' does not exist"):
        Reranker()


def test_a_typo_in_the_coarse_model_fails_at_construction(models_folder: Path) -> None:
    with pytest.raises(ModelLoadError, match="minilm-l6-rerankr' does not exist"):
        Reranker(
            str(models_folder / "minilm-l6-reranker"), coarse_model=str(models_folder / "minilm-l6-rerankr")
        )


def test_hub_ids_urls_and_a_plausible_directory_are_not_refused(models_folder: Path) -> None:
    for model in (
        "cross-encoder/ms-marco-MiniLM-L6-v2",
        "http://127.0.0.1:9",
        str(models_folder / "minilm-l6-reranker"),
    ):
        assert Reranker(model).model_name == model


def test_the_llama_index_adapter_fails_at_construction(models_folder: Path) -> None:
    from llama_index.postprocessor.crossrank import CrossEncoderRerank

    with pytest.raises(ModelLoadError, match="does not exist"):
        CrossEncoderRerank(model=str(models_folder / "minilm-l6-rerankr"), top_n=1)


def test_the_langchain_adapters_fail_at_construction(models_folder: Path) -> None:
    from langchain_crossrank import CrossEncoderCompressor, CrossEncoderModel

    with pytest.raises(ModelLoadError, match="does not exist"):
        CrossEncoderCompressor(model=str(models_folder / "minilm-l6-rerankr"))
    with pytest.raises(ModelLoadError, match="does not exist"):
        CrossEncoderModel(str(models_folder / "minilm-l6-rerankr"))
