#!/usr/bin/env bash
# Fails when a translatable string of the app has no zh_CN translation (or
# only a fuzzy one): the catalog is merged against a template freshly
# extracted from po/POTFILES.in, as `ninja vivarium-update-po` would.
#
# usage: check-po-complete.sh SOURCE_ROOT LANG
set -euo pipefail
src=$1
lang=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$src"
grep -v '^#' po/POTFILES.in | sed '/^$/d' >"$work/files"
# The keywords of meson's 'glib' gettext preset, plus the extra one in po/meson.build.
xgettext --from-code=UTF-8 --add-comments=Translators: --files-from="$work/files" \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --output="$work/template.pot"
msgmerge --quiet --no-fuzzy-matching "po/$lang.po" "$work/template.pot" -o "$work/merged.po"
stats=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "$work/merged.po" 2>&1)
echo "$lang: $stats"
if grep -qE 'untranslated|fuzzy' <<<"$stats"; then
  echo "po/$lang.po is incomplete; translate these (and drop any 'fuzzy' flag):"
  msgattrib --untranslated "$work/merged.po"
  msgattrib --only-fuzzy "$work/merged.po"
  exit 1
fi
