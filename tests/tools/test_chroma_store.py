"""The Chroma store is reused while the corpus is unchanged and rebuilt when it changes."""

from pathlib import Path

from crossrank.evaluation.chroma_store import chroma_client, ensure_collection, query_collection

IDS = ["kettle", "tide", "violin"]
TEXTS = [
    "An electric kettle switches off when a bimetallic strip bends at boiling point.",
    "Tides rise and fall twice a day because of the Moon's gravity.",
    "A violin's strings are tuned in fifths: G, D, A and E.",
]


def test_collection_is_reused_then_rebuilt_when_the_corpus_changes(tmp_path: Path) -> None:
    client = chroma_client(path=str(tmp_path))
    first = ensure_collection(client, "docs", ids=IDS, texts=TEXTS, metadatas=[{"n": i} for i in range(3)])
    again = ensure_collection(client, "docs", ids=IDS, texts=TEXTS, metadatas=[{"n": i} for i in range(3)])
    assert again.id == first.id

    changed = ensure_collection(
        client,
        "docs",
        ids=IDS,
        texts=[*TEXTS[:2], "Cellos are tuned C G D A."],
        metadatas=[{"n": i} for i in range(3)],
    )
    assert changed.id != first.id
    reset = ensure_collection(
        client,
        "docs",
        ids=IDS,
        texts=[*TEXTS[:2], "Cellos are tuned C G D A."],
        metadatas=[{"n": i} for i in range(3)],
        reset=True,
    )
    assert reset.id != changed.id
    assert reset.count() == 3


def test_query_returns_ranked_hits_with_text_and_metadata(tmp_path: Path) -> None:
    client = chroma_client(path=str(tmp_path))
    collection = ensure_collection(
        client, "docs", ids=IDS, texts=TEXTS, metadatas=[{"n": i} for i in range(3)]
    )
    hits = query_collection(collection, "why does the sea level change with the moon", 3)
    assert [hit.rank for hit in hits] == [1, 2, 3]
    assert hits[0].id == "tide"
    assert hits[0].text == TEXTS[1]
    assert hits[0].metadata == {"n": 1}
    assert hits[0].distance <= hits[1].distance <= hits[2].distance


def test_the_embedder_is_known_by_its_files_not_its_path(tmp_path: Path) -> None:
    import shutil

    from crossrank.evaluation.chroma_store import embedding_model_identity
    from crossrank.evaluation.embeddings import offline_embedding_model_path

    # The same model in two virtualenvs lives at two paths: one index serves both.
    original = Path(offline_embedding_model_path())
    copy = tmp_path / "elsewhere" / "model"
    shutil.copytree(original, copy)
    assert embedding_model_identity(str(copy)) == embedding_model_identity(str(original))
    assert embedding_model_identity(str(copy)).startswith("sha256:")
    # Different weights at the same path are a different model.
    weights = copy / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    assert embedding_model_identity(str(copy)) != embedding_model_identity(str(original))
    assert embedding_model_identity("sentence-transformers/all-MiniLM-L6-v2") == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )
