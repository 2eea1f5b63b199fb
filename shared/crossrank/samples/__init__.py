"""Text written for crossrank: the demo's sample corpus and built-in queries (data files only).

``corpus.jsonl`` holds the documents and ``queries.json`` the queries with graded labels;
:mod:`crossrank.demo.sample_corpus` loads them for the demo, and static int8 quantization
calibrates on their (query, document) pairs (:mod:`crossrank.models.onnx_static_quantize`).
No code lives here, so every room may read these files.
"""

__all__: list[str] = []
