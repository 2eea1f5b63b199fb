"""How well a student keeps its teacher's top 10: recall of the teacher's top 10 in the student's top 30.

Reads two ``crossrank eval --json`` reports over the same queries and first stage (the
teacher's and the student's) and prints, per reranking variant, the mean share of the
teacher's top 10 that the student ranks within its own top 30, with NDCG@10 of both.

    python benchmarks/student_agreement.py teacher.json student.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from crossrank.evaluation.metrics import top_k_agreement


def main(teacher_path: str, student_path: str) -> int:
    teacher = json.loads(Path(teacher_path).read_text(encoding="utf-8"))
    student = json.loads(Path(student_path).read_text(encoding="utf-8"))
    for key in ("dataset", "split", "first_stage", "k", "long"):
        if teacher[key] != student[key]:
            raise SystemExit(f"the reports differ in {key}: {teacher[key]!r} vs {student[key]!r}")
    by_query = {row["query_id"]: row for row in student["per_query"]}
    missing = [row["query_id"] for row in teacher["per_query"] if row["query_id"] not in by_query]
    if missing:
        raise SystemExit(f"{len(missing)} of the teacher's queries are not in the student's report")
    print(
        f"{teacher['dataset']} {teacher['split']}, {teacher['first_stage']} top-{teacher['k']}, "
        f"{len(teacher['per_query'])} queries; teacher {teacher['model']}, student {student['model']}"
    )
    print("| variant | teacher NDCG@10 | student NDCG@10 | recall of teacher top 10 in student top 30 |")
    print("| --- | ---: | ---: | ---: |")
    for variant in ("chunk_max", "chunk_max_rrf"):
        shares = [
            top_k_agreement(
                row["variants"][variant]["top_30"], by_query[row["query_id"]]["variants"][variant]["top_30"]
            )
            for row in teacher["per_query"]
        ]
        print(
            f"| {variant} | {teacher['variants'][variant]['ndcg_at_10']:.4f} | "
            f"{student['variants'][variant]['ndcg_at_10']:.4f} | {sum(shares) / len(shares):.4f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
