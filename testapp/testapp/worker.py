"""testapp's worker process: writes a heartbeat into the shared directory
every second (what a queue worker or a scheduler would do), and exits
cleanly on SIGTERM."""
import os
import signal
import sys
import time

_running = True


def _stop(signum, frame):
    global _running
    _running = False


def main():
    signal.signal(signal.SIGTERM, _stop)
    path = os.path.join(os.environ.get("TESTAPP_SHARED", "/tmp"), "worker-heartbeat")
    version = os.environ.get("DEPL_VERSION", "dev")
    print(f"worker of version {version} started", flush=True)
    while _running:
        with open(path + ".tmp", "w") as f:
            f.write(f"{version} {time.time():.0f}\n")
        os.replace(path + ".tmp", path)
        time.sleep(1)
    print("worker stopping", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
