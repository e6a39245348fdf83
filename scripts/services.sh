#!/bin/sh
# Start or stop the services depl needs on this machine: dockerd, nginx,
# supervisord (and sshd for the SSH tests). With systemd running, it is used;
# without it (containers, CI) each daemon is started as a plain process.
# "stop" stops only what "start" started (recorded in $STATE).
# With systemd the services are also enabled, so that a reboot starts them
# (and supervisord the apps' programs); without systemd, nothing starts them
# at boot: see README.md, "Restarts and reboots".
#
#   scripts/services.sh start [docker] [nginx] [supervisor] [ssh] [registry]
# registry: Debian's docker-registry for shipping images to app hosts, with
# depl's own config: 127.0.0.1 only ($DEPL_REGISTRY_PORT, default 5000), no
# auth (hosts reach it through their SSH connection), data in /var/lib/depl-registry.
#   scripts/services.sh stop
#   scripts/services.sh registry-gc
# registry-gc: frees the layers no tag of depl's registry needs any more (depl
# remove and prune delete a version's tag): the registry is stopped for the
# garbage-collect, as its documentation requires, and started again. A push
# meanwhile fails and depl falls back to docker save | docker load.
set -eu
STATE=/run/depl-started-services
action=${1:-start}; [ $# -gt 0 ] && shift
wanted=${*:-docker nginx supervisor}

have_systemd() { [ -d /run/systemd/system ]; }
note_started() { echo "$1" >> "$STATE"; }

wait_for() { # wait_for <seconds> <command...>
  n=$1; shift
  while ! "$@" >/dev/null 2>&1; do
    n=$((n - 1)); [ "$n" -gt 0 ] || { echo "services: timed out waiting for: $*" >&2; return 1; }
    sleep 1
  done
}

start_one() {
  case $1 in
    docker)
      docker info >/dev/null 2>&1 && return 0
      if have_systemd; then systemctl start docker
      else
        mkdir -p /var/log
        nohup dockerd >/var/log/dockerd.log 2>&1 &
        note_started docker
      fi
      wait_for 60 docker info ;;
    nginx)
      [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null && return 0
      if have_systemd; then systemctl start nginx; else nginx; note_started nginx; fi ;;
    supervisor)
      rc=0; supervisorctl status >/dev/null 2>&1 || rc=$?
      # supervisorctl exits 3 when programs are stopped but the daemon answers.
      if [ $rc -eq 0 ] || [ $rc -eq 3 ]; then return 0; fi
      if have_systemd; then systemctl start supervisor
      else supervisord -c /etc/supervisor/supervisord.conf; note_started supervisor; fi
      wait_for 30 test -S /var/run/supervisor.sock ;;
    registry)
      port=${DEPL_REGISTRY_PORT:-5000}
      curl -sf -o /dev/null "http://127.0.0.1:$port/v2/" && return 0
      mkdir -p /etc/depl /var/lib/depl-registry /var/log
      printf '%s\n' 'version: 0.1' 'log: { level: warn, fields: { service: depl-registry } }' \
        'storage: { filesystem: { rootdirectory: /var/lib/depl-registry }, delete: { enabled: true } }' \
        "http: { addr: 127.0.0.1:$port }" > /etc/depl/registry.yml
      if have_systemd; then
        # Debian's own docker-registry unit listens on every address with another config: depl's replaces it.
        systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
        printf '%s\n' '[Unit]' 'Description=depl registry (127.0.0.1 only)' 'After=network.target' '[Service]' \
          'ExecStart=/usr/bin/docker-registry serve /etc/depl/registry.yml' 'Restart=on-failure' '[Install]' 'WantedBy=multi-user.target' \
          > /etc/systemd/system/depl-registry.service
        systemctl daemon-reload
        systemctl start depl-registry
      else
        nohup docker-registry serve /etc/depl/registry.yml >/var/log/depl-registry.log 2>&1 &
        echo $! > /run/depl-registry.pid
        note_started registry
      fi
      wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$port/v2/" ;;
    ssh)
      [ -s /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null && return 0
      mkdir -p /run/sshd
      if have_systemd; then systemctl start ssh; else /usr/sbin/sshd; note_started ssh; fi ;;
    *) echo "services: unknown service $1" >&2; exit 2 ;;
  esac
}

stop_one() {
  case $1 in
    docker)
      # Waits for the engine to exit: a start or a docker command right after must not meet it shutting down.
      if [ -s /var/run/docker.pid ]; then
        pid=$(cat /var/run/docker.pid)
        kill "$pid" 2>/dev/null || true
        n=60; while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do n=$((n - 1)); sleep 1; done
      fi ;;
    nginx) nginx -s quit 2>/dev/null || true ;;
    supervisor) supervisorctl shutdown >/dev/null 2>&1 || true ;;
    ssh) [ -s /run/sshd.pid ] && kill "$(cat /run/sshd.pid)" 2>/dev/null || true ;;
    registry) [ -s /run/depl-registry.pid ] && kill "$(cat /run/depl-registry.pid)" 2>/dev/null || true ;;
  esac
}

case $action in
  start)
    for s in $wanted; do
      start_one "$s"
      # Unit names as Debian's packages call them: docker, nginx, supervisor, ssh; depl's registry is depl-registry.
      if have_systemd; then systemctl enable -q "$([ "$s" = registry ] && echo depl-registry || echo "$s")"; fi
    done ;;
  registry-gc)
    [ -f /etc/depl/registry.yml ] || { echo "services: no depl registry here (make setup_deploy starts it)" >&2; exit 2; }
    port=${DEPL_REGISTRY_PORT:-5000}
    before=$(du -sk /var/lib/depl-registry | cut -f1)
    running=0; curl -sf -o /dev/null "http://127.0.0.1:$port/v2/" && running=1
    if [ $running = 1 ]; then
      if have_systemd; then systemctl stop depl-registry
      else
        pid=$(cat /run/depl-registry.pid 2>/dev/null || pgrep -f 'docker-registry serve /etc/depl/registry.yml' || true)
        [ -n "$pid" ] && kill $pid
        n=30; while [ -n "$pid" ] && kill -0 $pid 2>/dev/null; do n=$((n - 1)); [ $n -gt 0 ] || { echo "services: the registry did not stop" >&2; exit 1; }; sleep 1; done
      fi
    fi
    rc=0; docker-registry garbage-collect --delete-untagged /etc/depl/registry.yml >/var/log/depl-registry-gc.log 2>&1 || rc=$?
    if [ $running = 1 ]; then
      if have_systemd; then systemctl start depl-registry
      else
        nohup docker-registry serve /etc/depl/registry.yml >>/var/log/depl-registry.log 2>&1 &
        echo $! > /run/depl-registry.pid
      fi
      wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$port/v2/"
    fi
    [ $rc = 0 ] || { echo "services: registry garbage-collect failed (exit $rc), see /var/log/depl-registry-gc.log" >&2; exit 1; }
    after=$(du -sk /var/lib/depl-registry | cut -f1)
    echo "registry-gc: /var/lib/depl-registry $((before / 1024)) MB -> $((after / 1024)) MB" ;;
  stop)
    [ -f "$STATE" ] || exit 0
    # supervisord first: its programs are docker clients.
    for s in supervisor nginx ssh registry docker; do
      grep -qx "$s" "$STATE" && stop_one "$s"
    done
    rm -f "$STATE" ;;
  *) echo "usage: $0 start|stop [service...] | registry-gc" >&2; exit 2 ;;
esac
