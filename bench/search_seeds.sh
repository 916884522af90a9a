#!/bin/sh
# The PNAS-against-random searches of docs/benchmarks.md, resumable on any
# machine: records committed under bench/data/searches/ seed each run, and the
# search itself resumes from what its output directory holds.
#
#   bench/search_seeds.sh run /tmp/s pnas 0 1 2      # one chain of searches
#   bench/search_seeds.sh run /tmp/s random 0 1 2    # a second chain beside it
#   bench/search_seeds.sh sync /tmp/s                # records back into bench/data
#
# Each chain runs at low priority on one thread, so two chains share the two
# cores without the thread contention of one search on both.
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

case "${1:-}" in
  run)
    work=$2; strategy=$3; shift 3
    for seed in "$@"; do
      name=${strategy}_s${seed}
      if [ ! -d "$work/$name" ] && [ -d "$records/$name" ]; then
        copy_records "$records/$name" "$work/$name"
      fi
      TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1 \
        nice -n 15 python -m pnas_tf.search --flagfile="$here/flags/proxy.cfg" \
        --seed="$seed" --search_strategy="$strategy" \
        --output_dir="$work/$name" --export_top=0
    done ;;
  sync)
    for dir in "$2"/*_s*; do
      copy_records "$dir" "$records/$(basename "$dir")"
    done ;;
  *)
    sed -n '2,12p' "$0"; exit 2 ;;
esac
