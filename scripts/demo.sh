#!/usr/bin/env bash
# The demo: a wireguard-go server in a network namespace with real clients;
# shows `status`, purges, shows `status` again. Installs what is missing.
# --real waits for the real 180 s threshold.
exec bash "$(dirname "${BASH_SOURCE[0]}")/with_deps.sh" demo "$@"
