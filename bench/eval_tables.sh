#!/usr/bin/env bash
# Regenerate the tables of docs/benchmarks.md section 1 ("every method, all frames, colour and
# tone") with mefkit eval, one thread, then print them. Finished cells in the report folders
# are reused; cells whose method, weights or metric code changed are recomputed.
#
#   bash bench/eval_tables.sh                 # every registered method
#   METHODS=classic bash bench/eval_tables.sh # only some (comma list, or classic / learned)
#
# DATA (default ../shared/data), OUT (default reports), PYTHON (default python).
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-reports}
METHODS=${METHODS:-all}
PY=${PYTHON:-python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
EVAL() { "$PY" -m mefkit eval "$@" || [ $? -eq 1 ]; }  # exit 1 = some cells failed: still report
EVAL "$DATA/mef_database" --pairs all --methods "$METHODS" -o "$OUT/mef_database_all"
EVAL "$DATA/mefb" --methods "$METHODS" --published -o "$OUT/mefb"
EVAL "$DATA/sice" --methods "$METHODS" -o "$OUT/sice"
for P in dpe_mef holoco_sice hsds_mef; do
  EVAL "$DATA/deep_published" --scenes "${P}_*" --methods "$METHODS" --published --common-scenes \
    -o "$OUT/deep_published/$P"
done
"$PY" bench/eval_combined_table.py "$OUT/mef_database_all" "$OUT/mefb" "$OUT/sice"
for P in dpe_mef holoco_sice hsds_mef; do
  echo; echo "## deep_published/$P"; sed -n '/^| Methods/,/^$/p' "$OUT/deep_published/$P/summary.md" | head -n -1
done
