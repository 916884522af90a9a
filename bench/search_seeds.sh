#!/bin/sh
# The PNAS-against-random searches of docs/benchmarks.md, resumable on any
# machine: records committed under bench/data/searches/ seed each run, and the
# search itself resumes from what its output directory holds.
#
#   bench/search_seeds.sh run /tmp/s pnas 0 1 2      # one chain of searches
#   bench/search_seeds.sh run /tmp/s random 0 1 2    # a second chain beside it
#   bench/search_seeds.sh run /tmp/s pnas_mlp 0 1 2  # PNAS with mlp_ensemble
#   bench/search_seeds.sh sync /tmp/s                # records back into bench/data
#
# Each chain runs at low priority on one thread, so two chains share the two
# cores without the thread contention of one search on both. One chain alone
# uses both with SEARCH_FLAGS="--executor=local --num_workers=2".
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
records=$here/bench/data/searches

copy_records() {  # from to
  mkdir -p "$2/children" "$2/rounds"
  [ -f "$1/search.json" ] && cp "$1/search.json" "$2/"
  for sub in children rounds; do
    find "$1/$sub" -maxdepth 1 -name '*.json' -exec cp {} "$2/$sub/" \; 2>/dev/null || true
  done
}

# Round 1 trains every one-block cell whatever the predictor, with the child
# seed that is the search's seed, so pnas_mlp_s<seed> starts from the one-block
# children pnas_s<seed> trained instead of training the same 36 again.
copy_one_block_children() {  # from to
  mkdir -p "$2/children"
  grep -l '"num_blocks": 1,' "$1"/children/*.json | xargs -I{} cp {} "$2/children/"
}

case "${1:-}" in
  run)
    work=$2; name=$3; shift 3
    case "$name" in
      # The predictor is pinned, not left to flags/proxy.cfg, so that these
      # runs resume under the settings they were started with.
      pnas) strategy=pnas; predictor=lstm_ensemble ;;
      random) strategy=random; predictor=lstm_ensemble ;;  # unused, recorded
      pnas_mlp) strategy=pnas; predictor=mlp_ensemble ;;
      *) echo "error: unknown search '$name' (pnas, random or pnas_mlp)" >&2
         exit 2 ;;
    esac
    for seed in "$@"; do
      run=${name}_s${seed}
      if [ ! -d "$work/$run" ] && [ -d "$records/$run" ]; then
        copy_records "$records/$run" "$work/$run"
      fi
      if [ "$name" = pnas_mlp ] && [ ! -d "$work/$run" ]; then
        copy_one_block_children "$records/pnas_s$seed" "$work/$run"
      fi
      TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1 \
        nice -n 15 python -m pnas_tf.search --flagfile="$here/flags/proxy.cfg" \
        --seed="$seed" --search_strategy="$strategy" --predictor="$predictor" \
        --output_dir="$work/$run" --export_top=0 ${SEARCH_FLAGS:-}
    done ;;
  sync)
    for dir in "$2"/*_s*; do
      copy_records "$dir" "$records/$(basename "$dir")"
    done ;;
  *)
    sed -n '2,12p' "$0"; exit 2 ;;
esac
