#!/bin/sh
# salary.sh: larkhook hook for compensation.archive.changed_v1 (an
# employee's salary archive was created, changed or removed).
#
# The event names the archive, not the amounts: LARK_EVENT_OPERATE_TYPE,
# LARK_EVENT_EMPLOYMENT_ID (a people_corehr_id), LARK_EVENT_EFFECTIVE_DATE,
# LARK_EVENT_BEFORE_TID and LARK_EVENT_AFTER_TID. This hook fetches the
# archive version the event names (and the one before, on a modify) through
# larkhook's own OpenAPI access, keeps it in changes/ (0600: HR data) and
# logs which pay items changed, by id: never a figure. The config needs
# app_id and app_secret_file, and the app the scope
# corehr:compensation_archive_detail:read (doc/9-openapi.md); without
# app_id it records the event's ids only. Try it without Feishu:
#   larkhook run examples/compensation.json
#
# Exit 0: done. Exit 100: never retry. Anything else: retried later.
set -eu
umask 077	# what is written here is HR data: owner only

if [ -z "${LARK_ID:-}" ] || [ -z "${LARKHOOK:-}" ]; then
	echo "salary.sh: run by larkhook (try: larkhook run examples/compensation.json)" >&2
	exit 100
fi
emp=${LARK_EVENT_EMPLOYMENT_ID:-}
after=${LARK_EVENT_AFTER_TID:-}
before=${LARK_EVENT_BEFORE_TID:-}
# the ids go into a JSON body: digits only, or the event is not one to act on
case "$emp:$after:$before" in
*[!0-9:]* | :*)
	echo "salary.sh: event $LARK_ID has no numeric employment / archive ids; not retrying" >&2
	exit 100
	;;
*) ;;
esac

# Feishu delivers at least once: a redelivery after a lost answer runs this
# again with the same LARK_ID. Keyed on it (hashed: an id from the network
# never names a file), a second run changes nothing.
mkdir -p changes
key=$(printf %s "$LARK_ID" | sha256sum | cut -c1-64)
record="changes/salary.$key"
if [ -e "$record.env" ]; then
	echo "salary change $LARK_ID already handled"
	exit 0
fi

summary="archive removed (${LARK_EVENT_OPERATE_TYPE:-delete}): nothing to fetch"
if [ -n "$after" ]; then
	tids="\"$after\""
	[ -n "$before" ] && tids="$tids,\"$before\""
	rc=0
	"$LARKHOOK" api POST "/open-apis/compensation/v1/archives/query?user_id_type=people_corehr_id&page_size=100" \
		"{\"user_id_list\":[\"$emp\"],\"tid_list\":[$tids]}" --all >"$record.json.tmp" 2>"$record.err" || rc=$?
	if [ "$rc" -ne 0 ] && grep -q 'has no app_id' "$record.err"; then
		# no OpenAPI in this config: the event's ids are all there is
		summary="ids only (set app_id and app_secret_file to fetch the archive)"
		rm -f "$record.json.tmp"
	elif [ "$rc" -ne 0 ]; then
		# the reply's code and msg, or larkhook's message; never data
		echo "salary.sh: archive query for $LARK_ID failed (exit $rc):" \
			"$(sed -n 's/.*"code":\([0-9]*\).*"msg":"\([^"]*\)".*/code \1: \2/p' "$record.json.tmp" | head -n 1)" \
			"$(head -c 300 "$record.err")" >&2
		rm -f "$record.json.tmp" "$record.err"
		exit "$rc"
	else
		mv "$record.json.tmp" "$record.json"
		summary="new archive version fetched"
		if command -v jq >/dev/null; then
			# which pay items differ between the two versions: ids and a count
			summary=$(jq -r --arg a "$after" --arg b "$before" '
				def results(x): [x.archive_items[]? | {(.item_id): .item_result}] | add // {};
				(.data.items // []) as $v
				| ([$v[] | select(.tid == $a)][0]) as $new
				| ([$v[] | select(.tid == $b)][0]) as $old
				| if $new == null then "the archive version asked for is not in the reply"
				  else (results($new)) as $n | (results($old // {})) as $o
				  | ([($n | keys[]), ($o | keys[])] | unique | map(select($n[.] != $o[.]))) as $c
				  | "new archive version fetched: \($c | length) pay item(s) changed"
				    + (if ($c | length) > 0 then " (" + ($c | join(" ")) + ")" else "" end)
				  end' "$record.json")
		fi
	fi
	rm -f "$record.err"
fi

# Your action goes here, for example hand the new version to payroll:
#   curl -fsS --max-time 20 "$HR_API_BASE/salary-changed" --data-binary @"$record.json"
# A non-zero exit (curl -f on an HTTP error) makes larkhook retry later.

# Keep what this run received. Written aside, then renamed: a run killed
# halfway leaves no record and is retried.
env | grep '^LARK_' | sort >"$record.env.tmp"
mv "$record.env.tmp" "$record.env"
# What a hook prints goes to larkhook's log: the event id, counts and pay
# item ids; no figure, no field of the event.
echo "salary change $LARK_ID handled: $summary"
