# shellcheck shell=bash
# runas.sh: RUNAS, the command prefix that runs larkhook (and the servers
# that start it) as an unprivileged user, since larkhook refuses root, and
# OWNER, that user's name. Sourced by tests/e2e/lib.sh, bench/run.sh and
# bench/lc.sh.
# shellcheck disable=SC2034 # for the scripts that source this file
if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(setpriv --reuid=www-data --regid=www-data --clear-groups)
	OWNER=www-data
else
	RUNAS=()
	OWNER=$(id -un)
fi
