#!/bin/sh
# card.sh: larkhook reply hook for card.action.trigger (someone clicked a
# button on an interactive card). mode = reply: it runs inside the request
# and what it prints, one JSON object, is the answer Feishu shows. Nothing
# is stored or retried; a non-zero exit, a timeout or non-JSON gives 500.
#
# The button's value object arrives flattened: a button declared with
#   "value": {"decision": "approve"}
# gives LARK_EVENT_ACTION_VALUE_DECISION=approve. Who clicked:
# LARK_EVENT_OPERATOR_OPEN_ID.
set -eu

case "${LARK_EVENT_ACTION_VALUE_DECISION:-}" in
approve) kind=success text="Approved" ;;
reject) kind=info text="Rejected" ;;
*) kind=warning text="Unknown action" ;;
esac

# Only fixed strings go into the JSON: nothing from the event needs quoting.
printf '{"toast":{"type":"%s","content":"%s"}}\n' "$kind" "$text"
