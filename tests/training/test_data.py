"""Tests for crossrank.training.data: every accepted form, every refusal, and the helpers."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import pytest

from crossrank.training.data import Judgement, TrainingData, split_dev
from crossrank.training.data_files import load_training_data


def _qid(text: str) -> str:
    return "q-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _did(text: str) -> str:
    return "doc-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _jsonl(path: Path, *lines: object) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def _beir(root: Path, qrels: str, corpus: list[dict[str, object]] | None = None) -> Path:
    root.mkdir()
    docs = corpus or [
        {"_id": "d1", "title": "Owls", "text": "Owls hunt at night."},
        {"_id": "d2", "title": "", "text": "Bats use echoes."},
        {"_id": "d3", "title": "Moths", "text": "Moths fly to lamps."},
    ]
    _jsonl(root / "corpus.jsonl", *docs)
    _jsonl(
        root / "queries.jsonl",
        {"_id": "10", "text": "night hunters"},
        {"_id": "2", "text": "echolocation"},
        {"_id": "b", "text": "insects"},
        {"_id": "a", "text": "unused"},
    )
    (root / "qrels").mkdir()
    (root / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    return root


# --- the four forms -----------------------------------------------------------------------------


def test_beir_directory(tmp_path: Path) -> None:
    root = _beir(tmp_path / "tiny", "10\td1\t2\n10\td2\t0\nb\td3\t1\n2\td2\t1\n")
    data = load_training_data(root)
    # Numeric ids in numeric order, then the others.
    assert [q.query_id for q in data.queries] == ["2", "10", "b"]
    night = data.queries[1]
    assert night.text == "night hunters"
    assert night.judgements == (
        Judgement("d1", "Owls\nOwls hunt at night.", 2.0),
        Judgement("d2", "Bats use echoes.", 0),
    )
    assert [j.document_id for j in night.positives] == ["d1"]
    assert [j.document_id for j in night.negatives] == ["d2"]
    assert data.corpus == {
        "d1": "Owls\nOwls hunt at night.",
        "d2": "Bats use echoes.",
        "d3": "Moths\nMoths fly to lamps.",
    }
    assert (data.num_positives, data.num_negatives, data.max_label) == (3, 1, 2.0)
    assert data.source == str(root)


def test_beir_repeats_and_conflicts_follow_the_same_rules(tmp_path: Path) -> None:
    repeated = load_training_data(_beir(tmp_path / "a", "2\td2\t1\n2\td2\t1\n"))
    assert repeated.duplicates_collapsed == 1
    assert repeated.num_positives == 1
    qrels = tmp_path / "b" / "qrels" / "train.tsv"
    with pytest.raises(
        ValueError, match=rf"{re.escape(repr(str(qrels)))} line 3: .*'d2'.*on line 2.*one label per pair"
    ):
        load_training_data(_beir(tmp_path / "b", "2\td2\t1\n2\td2\t0\n"))


def test_beir_unknown_corpus_id_names_the_qrels_line(tmp_path: Path) -> None:
    root = _beir(tmp_path / "tiny", "2\td2\t1\n\n2\tnope\t1\n")
    with pytest.raises(
        ValueError,
        match=r"train\.tsv' line 4: corpus id 'nope'.*Remove the line or add the document to corpus\.jsonl",
    ):
        load_training_data(root)


def test_beir_empty_texts_are_refused(tmp_path: Path) -> None:
    root = _beir(tmp_path / "a", "2\td1\t1\n", corpus=[{"_id": "d1", "title": " ", "text": ""}])
    with pytest.raises(ValueError, match=r"corpus\.jsonl': document 'd1'.*line 2.*empty text"):
        load_training_data(root)
    root = _beir(tmp_path / "b", "a\td1\t1\n")
    _jsonl(root / "queries.jsonl", {"_id": "a", "text": "  "})
    with pytest.raises(ValueError, match=r"queries\.jsonl': query 'a' has empty text"):
        load_training_data(root)


def test_beir_other_split_and_empty_split(tmp_path: Path) -> None:
    root = _beir(tmp_path / "tiny", "2\td2\t1\n")
    (root / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n")
    with pytest.raises(ValueError, match=r"dev\.tsv' holds no training records"):
        load_training_data(root, split="dev")
    with pytest.raises(FileNotFoundError, match="test"):
        load_training_data(root, split="test")


def test_jsonl_pair_and_triplet_forms_mix(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "train.jsonl",
        {"query": "what glows", "document": "Fireflies glow.", "label": 1},
        "",
        {"query": "what glows", "document": "Rocks sit.", "label": 0.0, "note": "extra keys are fine"},
        {"query": "what hums", "positive": "Bees hum.", "negatives": ["Fish swim.", "Rocks sit."]},
        {"query": "soft", "document": "Maybe.", "label": 0.25},
    )
    data = load_training_data(path)
    assert [q.text for q in data.queries] == ["what glows", "what hums", "soft"]
    assert data.queries[0].query_id == _qid("what glows")
    hums = data.queries[1]
    assert [(j.document_id, j.text, j.label) for j in hums.judgements] == [
        (_did("Bees hum."), "Bees hum.", 1.0),
        (_did("Fish swim."), "Fish swim.", 0.0),
        (_did("Rocks sit."), "Rocks sit.", 0.0),
    ]
    # The same text is the same document across queries.
    assert set(data.corpus) == {
        _did(t) for t in ("Fireflies glow.", "Rocks sit.", "Bees hum.", "Fish swim.", "Maybe.")
    }
    assert data.corpus[_did("Maybe.")] == "Maybe."
    assert (data.num_positives, data.num_negatives, data.max_label, data.duplicates_collapsed) == (
        3,
        3,
        1.0,
        0,
    )
    assert (
        load_training_data(_jsonl(tmp_path / "x.json", {"query": "q", "document": "d", "label": 3})).max_label
        == 3
    )


def test_csv_pair_form_with_bom_quoted_newline_and_numeric_strings(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_bytes(
        '\ufeffQuery, Document ,label\nwhy,"two\nlines",1\n\nwhy,flat,0.5\nhow,plain, 0 \n'.encode()
    )
    data = load_training_data(path)
    assert [q.text for q in data.queries] == ["why", "how"]
    assert [(j.text, j.label) for j in data.queries[0].judgements] == [("two\nlines", 1.0), ("flat", 0.5)]
    assert data.queries[1].judgements[0].label == 0.0


def test_csv_triplet_form_ignores_empty_negative_cells(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("query,positive,negative,negative_2\nq1,good,bad,\nq2,fine, ,\n")
    data = load_training_data(path)
    assert [len(q.negatives) for q in data.queries] == [1, 0]
    assert data.num_positives == 2


def test_sequence_of_tuples_and_dicts(tmp_path: Path) -> None:
    items: list[object] = [
        ("q one", "doc a", 1),
        ("q one", "doc b", 0),
        ("q two", "doc c", ["doc a", "doc d"]),
        {"query": "q two", "positive": "doc e", "negatives": ()},
        {"query": "q three", "document": "doc f", "label": 2.5},
    ]
    before = copy.deepcopy(items)
    data = load_training_data(items)
    assert items == before
    assert data.source == "<sequence>"
    assert [q.query_id for q in data.queries] == [_qid("q one"), _qid("q two"), _qid("q three")]
    assert [len(q.judgements) for q in data.queries] == [2, 4, 1]
    assert len(data.corpus) == 6
    assert data.max_label == 2.5


# --- duplicates and conflicts -------------------------------------------------------------------


def test_identical_records_are_collapsed_and_counted(tmp_path: Path) -> None:
    data = load_training_data(
        [
            ("q", "d", 1),
            ("q", "d", 1.0),
            ("q", "p", ["n", "n"]),
            {"query": "q", "positive": "p", "negatives": []},
        ]
    )
    assert data.duplicates_collapsed == 3
    assert [(j.text, j.label) for j in data.queries[0].judgements] == [("d", 1), ("p", 1), ("n", 0)]
    assert "(3 duplicates collapsed)" in data.describe()


def test_conflicting_labels_name_both_places(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "c.jsonl",
        {"query": "q", "document": "d", "label": 1},
        {"query": "q", "document": "e", "label": 0},
        {"query": "q", "document": "d", "label": 0},
    )
    with pytest.raises(
        ValueError, match=r"c\.jsonl' line 3: .*labelled 0 here but 1 on line 1\. Keep one label per pair"
    ):
        load_training_data(path)
    with pytest.raises(ValueError, match=r"item 1: .*labelled 2 here but 1 on item 0"):
        load_training_data([("q", "d", 1), ("q", "d", 2)])
    # A negative equal to the positive is the same conflict, within one record.
    with pytest.raises(ValueError, match=r"item 0: .*'same'.*labelled 0 here but 1 earlier on this item"):
        load_training_data([("q", "same", ["other", "same"])])
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("query,positive,negative\nq,a,b\nq,b,c\n")
    with pytest.raises(ValueError, match=r"c\.csv' line 3: .*labelled 1 here but 0 on line 2"):
        load_training_data(csv_path)


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"query": "q", "document": "d"}, r"line 2: missing key\(s\) label .*triplet form"),
        ({"query": "q", "positive": "p"}, r"line 2: missing key\(s\) negatives"),
        ({"text": "q"}, r"line 2: missing key\(s\) query, document, label"),
        (
            {"query": "q", "positive": "p", "negatives": [], "label": 1},
            r"line 2: the record mixes keys of both",
        ),
        ("[1, 2]", r"line 2: expected a JSON object, got list"),
        ("{not json", r"line 2: malformed JSON .*one JSON object"),
        ({"query": "  ", "document": "d", "label": 1}, r"line 2: empty text in 'query'.*Give it a text"),
        ({"query": "q", "document": "", "label": 1}, r"line 2: empty text in 'document'"),
        ({"query": "q", "document": 7, "label": 1}, r"line 2: 'document' must be a string, got int 7"),
        (
            {"query": "q", "document": "d", "label": "1"},
            r"line 2: label must be a finite number >= 0, got '1'\. Use 0",
        ),
        ({"query": "q", "document": "d", "label": "yes"}, r"line 2: label .* got 'yes'"),
        ({"query": "q", "document": "d", "label": True}, r"line 2: label .* got True"),
        ({"query": "q", "document": "d", "label": None}, r"line 2: label .* got None"),
        ({"query": "q", "document": "d", "label": -1}, r"line 2: label .* got -1"),
        ('{"query": "q", "document": "d", "label": NaN}', r"line 2: label .* got nan"),
        ('{"query": "q", "document": "d", "label": Infinity}', r"line 2: label .* got inf"),
        ({"query": "q", "positive": "p", "negatives": "n"}, r"line 2: 'negatives' must be a list of strings"),
        (
            {"query": "q", "positive": "p", "negatives": ["n", 3]},
            r"line 2: 'negatives' must be a list of strings",
        ),
        ({"query": "q", "positive": "p", "negatives": ["n", " "]}, r"line 2: empty text in 'document'"),
    ],
)
def test_bad_jsonl_lines(tmp_path: Path, line: object, message: str) -> None:
    path = _jsonl(tmp_path / "bad.jsonl", {"query": "fine", "document": "ok", "label": 1}, line)
    with pytest.raises(ValueError, match=re.escape(repr(str(path))) + " " + message):
        load_training_data(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "query,document\nq,d\n",
            r"line 1: missing column\(s\) label .*query,document,label or query,positive",
        ),
        ("query,positive\nq,p\n", r"line 1: missing column\(s\) negative \(or negative_1"),
        ("query,document,label,negative\n", r"line 1: the header mixes both forms"),
        ("query,query,document,label\n", r"line 1: repeated \['query'\]"),
        ("", r"line 1: missing column\(s\) query, document, label"),
        ("query,document,label\n", r"holds no training records"),
        ("query,document,label\nq,d,1\nq,e,yes\n", r"line 3: label .* got 'yes'"),
        ("query,document,label\nq,d,1\nq,e,\n", r"line 3: label .* got ''"),
        ("query,document,label\nq,d,1\nq,e,nan\n", r"line 3: label .* got 'nan'"),
        ("query,document,label\nq,d,1\nq,e,-0.5\n", r"line 3: label .* got '-0.5'"),
        ('query,document,label\nq,"multi\nline",1\n,e,1\n', r"line 4: empty text in 'query'"),
        ("query,document,label\nq,d,1\nq,e\n", r"line 3: expected 3 cells as in the header, got 2\. Quote"),
        ("query,positive,negative\nq,,n\n", r"line 2: empty text in 'document'"),
    ],
)
def test_bad_csv(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(repr(str(path))) + " " + message):
        load_training_data(path)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            ("q", "d"),
            r"item 1: expected a \(query, document, label\) or \(query, positive, negatives\) tuple",
        ),
        ("q,d,1", r"item 1: expected .* got str"),
        (("q", "d", "1"), r"item 1: label must be a finite number >= 0, got '1'"),
        (("q", "d", float("nan")), r"item 1: label .* got nan"),
        (("q", "", 1), r"item 1: empty text in 'document'"),
        (("q", "p", ["n", None]), r"item 1: 'negatives' must be a list of strings"),
        ({"query": "q", "doc": "d", "label": 1}, r"item 1: missing key\(s\) document"),
    ],
)
def test_bad_sequence_items(item: object, message: str) -> None:
    items = [("fine", "ok", 1), item]
    before = copy.deepcopy(items)
    with pytest.raises(ValueError, match=r"^sequence " + message):
        load_training_data(items)
    assert items == before


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"sequence holds no training records"):
        load_training_data([])
    with pytest.raises(ValueError, match=r"empty\.jsonl' holds no training records"):
        load_training_data(_jsonl(tmp_path / "empty.jsonl", ""))
    with pytest.raises(FileNotFoundError, match=r"training data not found: .*missing\.jsonl.*accepts a BEIR"):
        load_training_data(tmp_path / "missing.jsonl")
    (tmp_path / "data.txt").write_text("q\td\t1\n")
    with pytest.raises(
        ValueError, match=r"data\.txt': unsupported file type '\.txt'\. .*\.jsonl/\.json file, a \.csv"
    ):
        load_training_data(tmp_path / "data.txt")
    (tmp_path / "latin.csv").write_bytes(b"query,document,label\ncaf\xe9,d,1\n")
    with pytest.raises(ValueError, match=r"latin\.csv' is not valid UTF-8"):
        load_training_data(tmp_path / "latin.csv")
    with pytest.raises(TypeError, match="accepts a BEIR directory"):
        load_training_data(42)  # type: ignore[arg-type]


# --- helpers ------------------------------------------------------------------------------------


def _many(count: int) -> TrainingData:
    return load_training_data(
        [(f"query {i}", f"doc {i}", 1) for i in range(count)] + [("query 0", "spare", 0)]
    )


def test_split_dev_is_deterministic_disjoint_and_complete() -> None:
    data = _many(10)
    train, dev = split_dev(data, 0.3, seed=7)
    assert (len(train.queries), len(dev.queries)) == (7, 3)
    train_ids, dev_ids = [q.query_id for q in train.queries], [q.query_id for q in dev.queries]
    assert not set(train_ids) & set(dev_ids)
    assert set(train_ids) | set(dev_ids) == {q.query_id for q in data.queries}
    order = [q.query_id for q in data.queries]
    assert train_ids == [i for i in order if i in train_ids]  # the original order is kept
    assert train.corpus == dev.corpus == data.corpus
    again = split_dev(data, 0.3, seed=7)
    assert [q.query_id for q in again[1].queries] == dev_ids
    assert {tuple(q.query_id for q in split_dev(data, 0.3, seed=s)[1].queries) for s in range(5)} != {
        tuple(dev_ids)
    }


def test_split_dev_bounds() -> None:
    assert len(split_dev(_many(10), 0.01, seed=1)[1].queries) == 1
    assert len(split_dev(_many(10), 0.99, seed=1)[0].queries) == 1
    for fraction in (0.0, 1.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match="fraction must be between 0 and 1"):
            split_dev(_many(3), fraction, seed=1)
    with pytest.raises(ValueError, match="at least 2 queries"):
        split_dev(_many(1), 0.5, seed=1)


def test_select() -> None:
    data = _many(4)
    ids = [data.queries[2].query_id, data.queries[0].query_id]
    chosen = data.select(ids)
    assert [q.query_id for q in chosen.queries] == ids
    assert chosen.corpus is data.corpus
    assert chosen.source == data.source
    with pytest.raises(ValueError, match="unknown query id 'q-nope'"):
        data.select(["q-nope"])
    with pytest.raises(ValueError, match="listed twice"):
        data.select([ids[0], ids[0]])


def test_to_beir_grades() -> None:
    data = load_training_data([("q", "a", 0), ("q", "b", 0.3), ("q", "c", 1), ("q", "d", 2.6), ("r", "a", 1)])
    beir = data.to_beir("dev")
    q, r = _qid("q"), _qid("r")
    assert beir.name == "dev"
    assert beir.queries == {q: "q", r: "r"}
    assert beir.qrels == {q: {_did("a"): 0, _did("b"): 1, _did("c"): 1, _did("d"): 3}, r: {_did("a"): 1}}
    assert beir.corpus[_did("b")].full_text == "b"
    assert beir.corpus[_did("b")].title == ""
    assert set(beir.corpus) == set(data.corpus)


def test_summary_and_describe() -> None:
    data = load_training_data([("q", "a", 1), ("q", "b", 0), ("q", "a", 1), ("r", "c", 1)])
    assert data.summary() == {
        "source": "<sequence>",
        "queries": 2,
        "positives": 2,
        "negatives": 1,
        "duplicates_collapsed": 1,
    }
    assert (
        data.describe()
        == "2 queries, 2 positives, 1 judged negatives (1 duplicates collapsed) from '<sequence>'"
    )
    assert load_training_data([("q", "a", 0)]).max_label == 1.0


# --- the real data ------------------------------------------------------------------------------


def test_scifact_train(data_dir: Path) -> None:
    root = data_dir / "scifact"
    data = load_training_data(root, split="train")
    lines = (root / "qrels" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    relevant = sum(1 for line in lines if line.strip() and int(line.split("\t")[2]) > 0)
    assert len(data.queries) == 809
    assert data.num_positives == relevant
    assert all(j.document_id in data.corpus for q in data.queries for j in q.judgements)
    assert all(j.text == data.corpus[j.document_id] for q in data.queries for j in q.judgements)
    assert data.describe().startswith(f"809 queries, {relevant} positives")
