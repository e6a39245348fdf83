#!/bin/bash
# depl's main job on this machine, as a user would type it: build testapp,
# install it, look at its preview URLs, promote it, look at the base domain.
set -euo pipefail
config=${1:-depl.yml}
depl() { node "$(dirname "$0")/../bin/depl.js" -c "$config" "$@"; }
domain=$(sed -n 's/^domain: *//p' "$config")

depl buildinst | tee /tmp/depl-demo.out
version=$(sed -n 's/^Version \(.*\) is successfully installed.*/\1/p' /tmp/depl-demo.out)

echo "--- preview: http://$version.$domain/"
curl -fsS "http://$version.$domain/"
echo "--- preview of a subdomain: http://$version.foo.$domain/"
curl -fsS "http://$version.foo.$domain/"

depl promote "$version"
echo "--- live: http://$domain/"
curl -fsS "http://$domain/"
depl list
