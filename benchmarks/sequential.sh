#!/bin/bash
# crun's headline benchmark: N containers one after another, each a foreground `run` of the bundle.
#   sequential.sh RUNTIME ROOT BUNDLE ID N
set -e
rt=$1 root=$2 bundle=$3 id=$4 n=$5
for ((i = 0; i < n; i++)); do
    "$rt" --root "$root" run --bundle "$bundle" "$id-$i"
done
