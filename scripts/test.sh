#!/usr/bin/env bash
# The test command: installs what is missing, then runs `deno task test`
# (scripts/test_all.sh: every tier, as CONTRIBUTING.md lists them; root).
# Extra arguments go to every `deno test`.
exec bash "$(dirname "${BASH_SOURCE[0]}")/with_deps.sh" test "$@"
