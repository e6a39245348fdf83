#!/bin/sh
# Makes this machine as a fresh one is to CI, for a figure worth quoting: every
# container and image of depl's (apps, base image, test hosts, build layers),
# the test hosts' volumes and network, depl's registry data, the apps' roots and
# programs, node_modules and npm's cache. Debian's packages stay installed. It
# removes every depl app on this machine: for test machines only.
set -u
cd "$(dirname "$0")/.."
echo "fresh: removing depl's programs, containers, images, registry data and caches" >&2
# An engine still shutting down (stopped just before) would refuse the removals: wait for it, then start one.
n=60; while [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null && ! docker info >/dev/null 2>&1 && [ $n -gt 0 ]; do n=$((n - 1)); sleep 1; done
docker info >/dev/null 2>&1 || scripts/services.sh start docker
if supervisorctl pid >/dev/null 2>&1; then
  for f in /etc/supervisor/conf.d/depl-*.conf; do [ -e "$f" ] || [ -L "$f" ] || continue; rm -f "$f"; done
  supervisorctl update >/dev/null 2>&1 || true
fi
docker ps -aq --filter label=depl.app | xargs -r docker rm -f >/dev/null
docker ps -aq --filter ancestor=depl-testhost:bookworm | xargs -r docker rm -f -v >/dev/null
docker volume ls -q | grep -E '^depl-.*-docker$' | xargs -r docker volume rm >/dev/null 2>&1 || true
docker network rm depl-testnet >/dev/null 2>&1 || true
# depl's images: apps (labelled), the base image, the test host, copies pulled from depl's registry; then the
# build stages' layers they leave dangling.
{
  docker images -q --filter label=depl.app
  docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | awk '$1 ~ /^(depl-base|depl-testhost|127\.0\.0\.1:[0-9]+\/)/ { print $2 }'
} | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
for i in 1 2 3; do docker image prune -f >/dev/null 2>&1 || true; done
echo "fresh: images left: $(docker images -q | wc -l) (none of them depl's unless listed: $(docker images --format '{{.Repository}}' | grep -cE '^(depl-|prep)' || true))" >&2
rm -f /etc/nginx/conf.d/depl-*.conf
nginx -t >/dev/null 2>&1 && nginx -s reload >/dev/null 2>&1 || true
rm -rf /srv/depl /srv/depl-* /var/lib/depl-registry/* /root/.npm node_modules dist test-artifacts
scripts/services.sh stop
# What scripts/services.sh did not start (started by hand or by an earlier session) is stopped too: CI starts them.
supervisorctl shutdown >/dev/null 2>&1 || true
nginx -s quit >/dev/null 2>&1 || true
[ -s /run/depl-registry.pid ] && kill "$(cat /run/depl-registry.pid)" 2>/dev/null
[ -s /var/run/docker.pid ] && kill "$(cat /var/run/docker.pid)" 2>/dev/null
n=60; while [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null && [ $n -gt 0 ]; do n=$((n - 1)); sleep 1; done
echo "fresh: done" >&2
