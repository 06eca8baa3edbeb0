#!/bin/sh
# make demo: the suite's main job on the built-in real sample (placeholder until the tools land).
set -eu
echo "demo: nothing yet"
