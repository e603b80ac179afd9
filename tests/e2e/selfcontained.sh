#!/bin/bash
# selfcontained.sh: the repository explains itself. Checked over every
# tracked file (git ls-files; every file when there is no git):
#  - none cites one of the requirement documents the project started from,
#    which live outside the repository (changelogs excepted: they record
#    history);
#  - every doc/NAME.md a file names exists;
#  - every "NAME.md §N.M" names a section doc/NAME.md has (a heading
#    "## N.M ..."), and a bare "§N.M" inside doc/N-*.md one of its own;
#  - every relative link of a Markdown file resolves.
# The checks first run on a small tree made to break each rule, so the
# suite fails when a check stops finding anything.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d /tmp/larkhook-selfcontained.XXXXXX)
trap 'rm -rf "$T"' EXIT

ok() { echo "ok - $1"; }
fail() { echo "FAIL - $1${2:+: $2}"; }

# Spelled in pieces so this file does not match itself.
s=SP
OUTSIDE="${s}EC|PROTO""COL\\.md|\\.\\./sha""red"

# files DIR: the tracked files of DIR, one per line, relative to DIR; not
# this file, whose test tree below breaks every rule on purpose.
files() {
	if git -C "$1" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$1" ls-files
	else
		(cd "$1" && find . -type f ! -path './.git/*' | sed 's|^\./||')
	fi | grep -vx 'tests/e2e/selfcontained\.sh'
}

# The checks print one line per problem, "FILE:LINE: what", nothing when
# the tree at $1 is clean.
outside_citations() {
	local d=$1
	files "$d" | grep -viE '(^|/)(changelog|news)[^/]*$' |
		(cd "$d" && xargs -r -d '\n' grep -nIE "$OUTSIDE" -- 2>/dev/null) |
		sed 's/$/  (cites a document outside the repository)/'
}

doc_paths() {
	local d=$1 f ref
	files "$d" | while read -r f; do
		[ -f "$d/$f" ] || continue
		grep -noIE 'doc/[A-Za-z0-9_.-]+\.md' "$d/$f" 2>/dev/null | while IFS=: read -r line ref; do
			[ -f "$d/$ref" ] || echo "$f:$line: $ref does not exist"
		done
	done
}

sections() {
	local d=$1 f line ref name sec n
	files "$d" | while read -r f; do
		[ -f "$d/$f" ] || continue
		grep -noIE '[0-9]+-[a-z0-9-]+\.md\)? §[0-9]+(\.[0-9]+)*' "$d/$f" 2>/dev/null |
			while IFS=: read -r line ref; do
				name=${ref%%.md*}.md
				sec=${ref##*§}
				if [ ! -f "$d/doc/$name" ]; then
					echo "$f:$line: doc/$name does not exist"
				elif ! grep -qE "^#+ ${sec//./\\.}( |$)" "$d/doc/$name"; then
					echo "$f:$line: doc/$name has no section $sec"
				fi
			done
		case $f in
		doc/[0-9]*-*.md) ;;
		*) continue ;;
		esac
		n=${f#doc/}
		n=${n%%-*}
		# "§N.M" of the file's own number, not right after a file name
		grep -noE '(^|[^)a-z.] ?)§'"$n"'(\.[0-9]+)*' "$d/$f" | while IFS=: read -r line ref; do
			sec=${ref##*§}
			grep -qE "^#+ ${sec//./\\.}( |$)" "$d/$f" || echo "$f:$line: no section $sec here"
		done
	done
}

links() {
	local d=$1 f line target dir
	files "$d" | grep -E '\.md$' | while read -r f; do
		[ -f "$d/$f" ] || continue
		dir=$(dirname "$f")
		grep -noE '\]\([^)#[:space:]]+' "$d/$f" | while IFS=: read -r line target; do
			target=${target#](}
			case $target in
			*://* | mailto:*) continue ;;
			esac
			[ -e "$d/$dir/$target" ] || echo "$f:$line: the link $target leads nowhere"
		done
	done
}

check_all() {
	outside_citations "$1"
	doc_paths "$1"
	sections "$1"
	links "$1"
}

# --- the checks find what they are for -------------------------------------------
B=$T/broken
mkdir -p "$B/doc" "$B/src"
printf '# 1. One\n\n## 1.1 Here\n\nSee §1.1, and §1.9.\n' >"$B/doc/1-one.md"
printf '/* the contract is in %s section 2 */\n' "${s}EC" >"$B/src/a.c"
printf '# %s\n' "see ../sha""red/vectors" >"$B/src/b.sh"
printf '/* doc/1-one.md §1.1 holds, doc/1-one.md §1.2 does not; doc/2-two.md */\n' >"$B/src/c.c"
printf '[one](doc/1-one.md), [none](doc/nowhere.md)\n' >"$B/README.md"
printf 'fixed what %s said\n' "PROTO""COL.md" >"$B/ChangeLog"
found=$(check_all "$B")
want="src/a.c:1: src/b.sh:1: src/c.c:1: doc/2-two.md README.md:1: doc/nowhere.md src/c.c:1: doc/1-one.md has no section 1.2 doc/1-one.md:5: no section 1.9 README.md:1: the link doc/nowhere.md"
missing=
for w in $want; do
	case $found in *"$w"*) ;; *) missing="$missing $w" ;; esac
done
if [ -z "$missing" ]; then ok "the checks find each kind of broken pointer"; else fail "the checks missed:$missing" "$found"; fi
case $found in
*ChangeLog*) fail "a changelog is exempt" "$found" ;;
*"section 1.1"*) fail "an existing section is accepted" "$found" ;;
*) ok "a changelog and existing sections pass" ;;
esac

# --- the repository itself ---------------------------------------------------------
r=$(outside_citations "$ROOT")
if [ -z "$r" ]; then ok "no tracked file cites a document outside the repository"; else fail "outside citations" "$r"; fi
r=$(doc_paths "$ROOT")
if [ -z "$r" ]; then ok "every doc/*.md a tracked file names exists"; else fail "missing doc files" "$r"; fi
r=$(sections "$ROOT")
if [ -z "$r" ]; then ok "every cited doc section exists"; else fail "missing doc sections" "$r"; fi
r=$(links "$ROOT")
if [ -z "$r" ]; then ok "every relative Markdown link resolves"; else fail "broken links" "$r"; fi
for f in 1-flow.md 2-config.md 3-hooks.md 4-spool.md 5-guarantees.md 6-hostile.md \
	7-feishu.md 8-performance.md; do
	if [ -s "$ROOT/doc/$f" ] && grep -q "($f)" "$ROOT/doc/README.md"; then
		ok "doc/$f is there and the index links it"
	else
		fail "doc/$f is missing or not linked from doc/README.md"
	fi
done
