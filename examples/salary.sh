#!/bin/sh
# salary.sh: larkhook hook for compensation.archive.changed_v1 (an
# employee's salary archive was created, changed or removed).
#
# The event names the archive, not the amounts: LARK_EVENT_OPERATE_TYPE,
# LARK_EVENT_EMPLOYMENT_ID, LARK_EVENT_EFFECTIVE_DATE, LARK_EVENT_BEFORE_TID
# and LARK_EVENT_AFTER_TID. Fetch the archive with your app's token if you
# need the figures. Try it without Feishu:  larkhook run event.json
#
# Exit 0: done. Exit 100: never retry. Anything else: retried later.
set -eu
umask 077	# what is written here is HR data: owner only

if [ -z "${LARK_ID:-}" ]; then
	echo "salary.sh: run by larkhook (try: larkhook run event.json)" >&2
	exit 100
fi
if [ -z "${LARK_EVENT_EMPLOYMENT_ID:-}" ]; then
	echo "salary.sh: event $LARK_ID names no employment; not retrying" >&2
	exit 100
fi

# Feishu delivers at least once: a redelivery after a lost answer runs this
# again with the same LARK_ID. Keyed on it, a second run changes nothing.
mkdir -p changes
record="changes/salary.$LARK_ID.env"
if [ -e "$record" ]; then
	echo "salary change $LARK_ID already handled"
	exit 0
fi

# Your action goes here, for example:
#   curl -fsS --max-time 20 "$HR_API_BASE/salary-changed" \
#       --data-urlencode "employment=$LARK_EVENT_EMPLOYMENT_ID" \
#       --data-urlencode "archive=$LARK_EVENT_AFTER_TID"
# A non-zero exit (curl -f on an HTTP error) makes larkhook retry later.

# Keep what this run received. Written aside, then renamed: a run killed
# halfway leaves no record and is retried.
env | grep '^LARK_' | sort >"$record.tmp"
mv "$record.tmp" "$record"
# What a hook prints goes to larkhook's log: ids only, no HR data.
echo "salary change $LARK_ID handled"
