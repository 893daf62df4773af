#!/bin/sh
# Runs every benchmark and prints one markdown table.  Each figure stands
# beside a baseline measured in the same run; nothing here is a test.
set -eu
B=${1:-build-bench}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| measure | securechat | baseline (same run) | ratio | target | met |"
echo "|---|---|---|---|---|---|"
"$B/bench_mesh" "$B/securechat-node" "$tmp"
"$B/bench_discovery" "$B/securechat-node" "$tmp"
"$B/bench_links" "$B/securechat-node" "$tmp"
"$B/bench_files" "$B/securechat-node" "$tmp"
"$B/bench_video" "$B/securechat-node" "$tmp"
"$B/bench_hostile" "$B/securechat-node" "$tmp"
# securechat-tracker and sc-tracker-client are taken from beside the node
"$B/bench_tracker" "$B/securechat-node" "$tmp"
