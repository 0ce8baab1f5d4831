# Recording stand-ins for the OpenWrt shell functions an init script calls
# (procd.sh, functions.sh, logger), written for the tests; OpenWrt's own
# files are not used. Each call is appended to $RECORD as one line: the
# function name and its arguments, separated by tabs.
# shellcheck shell=dash

record() {
	printf '%s' "$1" >>"$RECORD"
	shift
	for arg in "$@"; do printf '\t%s' "$arg" >>"$RECORD"; done
	printf '\n' >>"$RECORD"
}

procd_open_instance() { record procd_open_instance "$@"; }
procd_set_param() { record procd_set_param "$@"; }
procd_close_instance() { record procd_close_instance "$@"; }
procd_add_reload_trigger() { record procd_add_reload_trigger "$@"; }
procd_add_validation() { record procd_add_validation "$@"; }
logger() { record logger "$@"; }

# uci_load_validate PACKAGE TYPE SECTION CALLBACK SPEC...
# Records its arguments, sets each option from $FIXTURE (lines name=value)
# or from the spec's default, then calls CALLBACK SECTION $VALIDATE_RC, as
# the real one does after running validate_data.
uci_load_validate() {
	_section=$3
	_callback=$4
	record uci_load_validate "$@"
	shift 4
	for _spec in "$@"; do
		_name=${_spec%%:*}
		_rest=${_spec#*:}
		case $_rest in
		*:*) _default=${_rest##*:} ;;
		*) _default= ;;
		esac
		_value=$(sed -n "s/^$_name=//p" "$FIXTURE")
		[ -n "$_value" ] || _value=$_default
		eval "$_name=\$_value"
	done
	"$_callback" "$_section" "${VALIDATE_RC:-0}"
}
