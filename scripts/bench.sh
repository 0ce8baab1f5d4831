#!/usr/bin/env bash
# The benchmark: installs what is missing, then runs `deno task bench`.
# Extra arguments go to scripts/bench.ts (--peers 1000,10000 --runs 5 --parts a,b,d).
exec bash "$(dirname "${BASH_SOURCE[0]}")/with_deps.sh" bench "$@"
