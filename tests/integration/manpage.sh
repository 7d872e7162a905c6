#!/usr/bin/env bash
# doc/minivmm.1 against `minivmm --help`: the same options on both sides, each
# key (NAME= in an option's synopsis, e.g. boot= in "--cpus boot=N") of --help
# also in the man page's entry for that option, the exit statuses, the version
# in its header, and formatting without warnings. A failure names each option
# or key missing and from which side. Usage: tests/integration/manpage.sh BUILD
set -u
build=$1
minivmm=$build/minivmm
page=$(cd "$(dirname "$0")/../.." && pwd)/doc/minivmm.1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

if [ ! -x "$minivmm" ] || [ ! -r "$page" ]; then
    echo "not ok setup: $minivmm or $page missing"
    echo "0 passed, 1 failed"
    exit 1
fi

# One line per option, "--name key1 key2 ...", sorted by name.
# --help: option lines are indented two spaces; the keys are in the word after
# the option ("boot=N", "path=FILE[,readonly=on]"), not in the description.
"$minivmm" --help | grep -E '^  --[a-z0-9-]+' |
    awk '{ keys = ""; s = $2
           while (match(s, /[a-z0-9-]+=/)) { keys = keys " " substr(s, RSTART, RLENGTH - 1)
                                             s = substr(s, RSTART + RLENGTH) }
           print $1 keys }' | sort >"$work/help"
# The man page: the line after each ".TP" that starts with a --option (font
# escapes, quotes and "\-" taken out), in the OPTIONS and TESTING OPTIONS sections.
sed -E 's/\\f[BIRP]//g; s/\\-/-/g; s/"//g' "$page" |
    awk '/^\.SH/ { in_opts = ($0 ~ /OPTIONS/) }
         in_opts && prev == ".TP" && $2 ~ /^--/ {
             keys = ""; s = $0; sub(/^[^ ]+ +[^ ]+/, "", s)
             while (match(s, /[a-z0-9-]+=/)) { keys = keys " " substr(s, RSTART, RLENGTH - 1)
                                               s = substr(s, RSTART + RLENGTH) }
             print $2 keys }
         { prev = $0 }' | sort >"$work/man"

if [ ! -s "$work/help" ] || [ ! -s "$work/man" ]; then
    not_ok option_lists "found no options in --help ($(wc -l <"$work/help")) or the man page ($(wc -l <"$work/man"))"
else
    names() { cut -d' ' -f1 "$1"; }
    only_help=$(comm -23 <(names "$work/help") <(names "$work/man") | tr '\n' ' ')
    only_man=$(comm -13 <(names "$work/help") <(names "$work/man") | tr '\n' ' ')
    if [ -z "$only_help$only_man" ]; then
        ok same_options
    else
        not_ok same_options "in --help but not in doc/minivmm.1: [ ${only_help}]; in doc/minivmm.1 but not in --help: [ ${only_man}]"
    fi
    # Keys: for each option on both sides, every key --help shows must be in the man page.
    missing=""
    while read -r opt keys; do
        man_line=$(grep -E "^$opt( |\$)" "$work/man") || continue
        for k in $keys; do
            case " ${man_line#* } " in *" $k "*) ;; *) missing="$missing $opt:$k" ;; esac
        done
    done <"$work/help"
    if [ -z "$missing" ]; then
        ok same_keys
    else
        not_ok same_keys "keys in --help but not in doc/minivmm.1:$missing"
    fi
fi

# Formats without warnings (what lintian's manpage check runs).
if command -v man >/dev/null; then
    LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" \
        >/dev/null 2>"$work/warn"
    if [ -s "$work/warn" ]; then
        not_ok formats "man --warnings: $(head -c 400 "$work/warn")"
    else
        ok formats
    fi
else
    skip formats "man is not installed"
fi

# The exit statuses --help lists are each in the man page's EXIT STATUS.
statuses=$("$minivmm" --help | sed -nE '/^Exit statuses:/,$ s/^  ([0-9]+)  .*/\1/p' | tr '\n' ' ')
exit_section=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$page")
missing=""
for s in $statuses; do
    grep -qxF ".B $s" <<<"$exit_section" || missing="$missing $s"
done
if [ -n "$statuses" ] && [ -z "$missing" ]; then
    ok exit_statuses
else
    not_ok exit_statuses "statuses of --help [ $statuses] missing from EXIT STATUS:${missing:- (none found in --help)}"
fi

# The header names the version --version prints.
version=$("$minivmm" --version | awk '{ print $2 }')
if grep -qE "^\.TH MINIVMM 1 [0-9-]+ \"minivmm $version\"" "$page"; then
    ok version_in_header
else
    not_ok version_in_header "the .TH line does not name minivmm $version: $(grep '^\.TH' "$page")"
fi

summary
