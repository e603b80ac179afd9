#!/bin/sh
# review.sh: larkhook hook for performance.review_data.changed_v2 (a
# performance review moved a stage). The config says each = items, so this
# runs once per element of event.items, with that element in LARK_ITEM_*:
# LARK_ITEM_USER_ID_OPEN_ID, LARK_ITEM_SEMESTER_ID, LARK_ITEM_ACTIVITY_ID,
# LARK_ITEM_STAGE_CHANGES_COUNT and LARK_ITEM_STAGE_CHANGES_<i>_STAGE_ID /
# _STAGE_TYPE. LARK_EACH_INDEX is the element's index, LARK_EACH_COUNT how
# many there are.
#
# It fetches the review data of that reviewee, semester and stages through
# larkhook's OpenAPI access (POST /open-apis/performance/v2/review_datas/query,
# scope performance:performance:readonly; doc/9-openapi.md), keeping to the
# API's limit of 20 requests a minute across every run of this hook, and
# keeps it in changes/ (0600). Without app_id in the config it records the
# event's ids only. Try it:  larkhook run examples/review.json
#
# Exit 0: done. Exit 100: never retry. Anything else: retried later.
set -eu
umask 077	# review data: owner only

if [ -z "${LARK_ID:-}" ] || [ -z "${LARK_EACH_INDEX:-}" ] || [ -z "${LARKHOOK:-}" ]; then
	echo "review.sh: run by larkhook with each = items (try: larkhook run examples/review.json)" >&2
	exit 100
fi
semester=${LARK_ITEM_SEMESTER_ID:-}
reviewee=${LARK_ITEM_USER_ID_OPEN_ID:-}
# the ids go into a JSON body: only the characters Feishu's ids have
case "$semester" in '' | *[!0-9]*) semester=bad ;; *) ;; esac
case "$reviewee" in '' | *[!A-Za-z0-9_]*) reviewee=bad ;; *) ;; esac
if [ "$semester" = bad ] || [ "$reviewee" = bad ]; then
	echo "review.sh: item $LARK_EACH_INDEX of $LARK_ID has no usable semester or reviewee id; not retrying" >&2
	exit 100
fi

# At least once: the same event and item may come again; keyed on both
# (hashed: an id from the network never names a file), a second run changes
# nothing.
mkdir -p changes
key=$(printf %s "$LARK_ID" | sha256sum | cut -c1-64)
record="changes/review.$key.$LARK_EACH_INDEX"
if [ -e "$record.env" ]; then
	echo "review item $LARK_EACH_INDEX of $LARK_ID already handled"
	exit 0
fi

# The stages this item moved through, in order: their ids for the query,
# their types for your action below.
stages=
types=
id=
type=
i=0
while [ "$i" -lt "${LARK_ITEM_STAGE_CHANGES_COUNT:-0}" ]; do
	eval "id=\${LARK_ITEM_STAGE_CHANGES_${i}_STAGE_ID:-} type=\${LARK_ITEM_STAGE_CHANGES_${i}_STAGE_TYPE:-}"
	case "$id" in '' | *[!0-9]*) ;; *) stages="$stages${stages:+,}\"$id\"" ;; esac
	types="$types${types:+ }$type"
	i=$((i + 1))
done

# 20 requests a minute for the whole app: one call every 3 s at most, the
# time of the last one kept beside the records, under a lock, so parallel
# runs (concurrency > 1) keep the pace too.
pace() {
	last=$(cat changes/.review-last 2>/dev/null || echo 0)
	now=$(date +%s)
	case "$last" in '' | *[!0-9]*) last=0 ;; *) ;; esac
	if [ $((last + 3)) -gt "$now" ]; then sleep $((last + 3 - now)); fi
	date +%s >changes/.review-last
}
if command -v flock >/dev/null; then
	exec 9>changes/.review-lock
	flock 9
	pace
	flock -u 9
else
	pace
fi

summary="ids only (set app_id and app_secret_file to fetch the review data)"
rc=0
"$LARKHOOK" api POST "/open-apis/performance/v2/review_datas/query?user_id_type=open_id" \
	"{\"semester_ids\":[\"$semester\"],\"reviewee_user_ids\":[\"$reviewee\"],\"stage_ids\":[$stages]}" \
	>"$record.json.tmp" 2>"$record.err" || rc=$?
if [ "$rc" -ne 0 ] && grep -q 'has no app_id' "$record.err"; then
	rm -f "$record.json.tmp"
elif [ "$rc" -ne 0 ]; then
	# 75 or a code: larkhook already waited out a rate limit; retried later
	echo "review.sh: review data query for item $LARK_EACH_INDEX of $LARK_ID failed (exit $rc):" \
		"$(sed -n 's/.*"code":\([0-9]*\).*/code \1/p' "$record.json.tmp" | head -n 1)" \
		"$(head -c 300 "$record.err")" >&2
	rm -f "$record.json.tmp" "$record.err"
	exit "$rc"
else
	mv "$record.json.tmp" "$record.json"
	summary="review data fetched"
	if command -v jq >/dev/null; then
		summary=$(jq -r '[.data.datas[]?] as $d
			| "\($d | length) review data set(s), \([$d[].stages[]?] | length) stage(s), \([$d[].stages[]?.records[]?] | length) record(s) fetched"' \
			"$record.json")
	fi
fi
rm -f "$record.err"

# Your action goes here, for example notify the reviewer's manager:
#   curl -fsS --max-time 20 "$HR_API_BASE/review-moved" \
#       --data-urlencode "user=$LARK_ITEM_USER_ID_OPEN_ID" --data-urlencode "stages=$types"

env | grep '^LARK_' | sort >"$record.env.tmp"
mv "$record.env.tmp" "$record.env"
# What a hook prints goes to larkhook's log: ids and counts only.
echo "review item $((LARK_EACH_INDEX + 1)) of $LARK_EACH_COUNT in $LARK_ID handled: $summary"
