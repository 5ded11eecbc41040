#!/bin/sh
# Seeds fuzz/corpus/{header,decrypt} with the bodies of the known-answer vector
# files (the text fields before the first blank line stripped).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
for target in header decrypt; do
    mkdir -p "$here/corpus/$target"
    for v in "$here"/../crypto-core/tests/vectors/*.vector; do
        perl -0777 -pe 's/\A.*?\n\n//s' "$v" >"$here/corpus/$target/$(basename "$v" .vector)"
    done
done
