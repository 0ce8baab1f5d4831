#!/usr/bin/env bash
# The test command: installs what is missing, then runs `deno task test`
# (unit tests, and integration tests against real wireguard-go in network
# namespaces; those need root). Extra arguments go to `deno test`.
exec bash "$(dirname "${BASH_SOURCE[0]}")/with_deps.sh" test "$@"
