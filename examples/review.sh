#!/bin/sh
# review.sh: larkhook hook for performance.review_data.changed_v2 (a
# performance review moved a stage). The config says each = items, so this
# runs once per element of event.items, with that element in LARK_ITEM_*:
# LARK_ITEM_USER_ID_OPEN_ID, LARK_ITEM_SEMESTER_ID, LARK_ITEM_ACTIVITY_ID,
# LARK_ITEM_STAGE_CHANGES_COUNT and LARK_ITEM_STAGE_CHANGES_<i>_STAGE_TYPE.
# LARK_EACH_INDEX is the element's index, LARK_EACH_COUNT how many there are.
#
# Exit 0: done. Exit 100: never retry. Anything else: retried later.
set -eu
umask 077	# review data: owner only

if [ -z "${LARK_ID:-}" ] || [ -z "${LARK_EACH_INDEX:-}" ]; then
	echo "review.sh: run by larkhook with each = items (try: larkhook run event.json)" >&2
	exit 100
fi

# At least once: the same event and item may come again; keyed on both,
# a second run changes nothing.
mkdir -p changes
record="changes/review.$LARK_ID.$LARK_EACH_INDEX.env"
if [ -e "$record" ]; then
	echo "review item $LARK_EACH_INDEX of $LARK_ID already handled"
	exit 0
fi

# The stages this item moved through, in order, for your action below.
stages=$(env | sed -n 's/^LARK_ITEM_STAGE_CHANGES_\([0-9]*\)_STAGE_TYPE=/\1 /p' |
	sort -n | cut -d' ' -f2- | tr '\n' ' ')
stages=${stages% }

# Your action goes here, for example notify the reviewer's manager:
#   curl -fsS --max-time 20 "$HR_API_BASE/review-moved" \
#       --data-urlencode "user=$LARK_ITEM_USER_ID_OPEN_ID" \
#       --data-urlencode "stages=$stages"

env | grep '^LARK_' | sort >"$record.tmp"
mv "$record.tmp" "$record"
# What a hook prints goes to larkhook's log: ids and counts only.
echo "review item $((LARK_EACH_INDEX + 1)) of $LARK_EACH_COUNT in $LARK_ID handled"
