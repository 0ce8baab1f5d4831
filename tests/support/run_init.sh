# Loads the recording stand-ins and an init script, then calls one of the
# script's functions: sh run_init.sh STUBS INIT FUNCTION [ARGS...]
# shellcheck shell=dash
# shellcheck source=/dev/null
. "$1"
# shellcheck source=/dev/null
. "$2"
shift 2
"$@"
