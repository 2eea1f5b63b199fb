"""README.md shows what crossrank really prints: every example's output is checked here.

Each Python example is followed by its expected output; the demo's table, its ``--no-chunk``
claim and its overall line are produced again and compared. Numbers may differ in the last
printed digit across CPUs and backends, so numbers compare within a small tolerance and
everything else exactly.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(
    r"```python\n(.*?)```\n\nOutput \(a test runs the example and compares\):\n\n```text\n(.*?)```",
    README,
    re.DOTALL,
)
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
TOLERANCE = 2e-3
WIFI = "Why does my Wi-Fi slow down whenever the microwave is running?"


def assert_same_output(got: str, expected: str) -> None:
    got_lines, expected_lines = got.strip().splitlines(), expected.strip().splitlines()
    assert len(got_lines) == len(expected_lines), f"got:\n{got}\nexpected:\n{expected}"
    for got_line, expected_line in zip(got_lines, expected_lines, strict=True):
        got_tokens, expected_tokens = got_line.split(), expected_line.split()
        assert len(got_tokens) == len(expected_tokens), f"{got_line!r} != {expected_line!r}"
        for got_token, expected_token in zip(got_tokens, expected_tokens, strict=True):
            if NUMBER.match(expected_token) and NUMBER.match(got_token) and "." in expected_token:
                assert abs(float(got_token) - float(expected_token)) <= TOLERANCE, (got_line, expected_line)
            else:
                assert got_token == expected_token, (got_line, expected_line)


def test_the_readme_opens_with_the_two_commands_then_what_crossrank_is_and_a_quickstart() -> None:
    title, blank, fence, *_ = README.splitlines()
    assert title.startswith("# ")
    assert (blank, fence) == ("", "```bash")
    commands = README.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [command.split("#")[0].split() for command in commands] == [["make", "demo"], ["make", "test"]]
    assert README.index("crossrank is ") < README.index("## Quickstart") < README.index("../shared")
    quickstart = BLOCKS[0]
    assert "Reranker(" in quickstart
    assert len(quickstart.strip().splitlines()) <= 10, quickstart
    assert README.index("## Quickstart") < README.index("## Install")


def test_the_readme_links_to_docs_that_exist() -> None:
    links = re.findall(r"\]\((docs/[^)#]+)", README)
    assert "docs/contributing.md" in links
    assert [link for link in links if not (ROOT / link).is_file()] == []


def test_every_python_example_shows_its_output() -> None:
    assert len(BLOCKS) >= 3
    assert len(EXAMPLES) == len(BLOCKS), "a ```python block in README.md lacks its Output block"


@pytest.mark.parametrize(("block", "expected"), EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_readme_example_prints_what_the_readme_shows(block: str, expected: str, model_path: str) -> None:
    # The examples name ../shared/models/minilm-l6-reranker: the model the tests use.
    if "../shared/models/minilm-l6-reranker" in block and not (ROOT / "../shared/models").exists():
        pytest.skip("the examples' ../shared/models is not beside this checkout")
    completed = subprocess.run(
        [sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert_same_output(completed.stdout, expected)


def _demo(model_path: str, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "crossrank",
        "demo",
        "--model",
        model_path,
        "--persist-dir",
        str(store),
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)


def test_the_demo_output_in_the_readme_is_real(model_path: str, tmp_path: Path) -> None:
    shown = re.search(r"```text\n(Query: Why does my Wi-Fi.*?)```", README, re.DOTALL)
    assert shown is not None
    out = _demo(model_path, tmp_path, "--query", WIFI, "--quiet").stdout
    table = out[out.index("Query: ") :].split("\n\nOverall:")[0]
    assert_same_output(table, shown.group(1))


def test_the_readme_claims_about_no_chunk_and_all_queries_hold(model_path: str, tmp_path: Path) -> None:
    claim = re.search(r"with `--no-chunk` \(first window only\) it comes (\d)(?:st|nd|rd|th), with a "
                      r"cross-encoder score of (\d\.\d+)", README)  # fmt: skip
    assert claim is not None
    truncated = json.loads(
        _demo(model_path, tmp_path, "--query", WIFI, "--no-chunk", "--json", "--quiet").stdout
    )
    row = next(r for r in truncated["queries"][0]["results"] if r["id"] == "long-clinic-it-handbook")
    assert row["rank"] == int(claim.group(1))
    assert abs(row["cross_encoder_score"] - float(claim.group(2))) <= TOLERANCE

    overall = re.search(
        r"`Overall: mean NDCG@5 over 10 built-in queries (\d\.\d+) \(vector\) -> (\d\.\d+)", README
    )
    assert overall is not None
    every = json.loads(_demo(model_path, tmp_path, "--json", "--quiet").stdout)
    assert len(every["queries"]) == 10
    assert abs(every["mean_ndcg"]["vector"] - float(overall.group(1))) <= TOLERANCE
    assert abs(every["mean_ndcg"]["reranked"] - float(overall.group(2))) <= TOLERANCE
