"""Background worker: writes a heartbeat with its version into the shared data dir."""

import os
import signal
import sys
import time

import fastcount

DATA = os.environ.get("MONOWEB_DATA", "/app/data")
running = True


def stop(*_):
    global running
    running = False


def main():
    signal.signal(signal.SIGTERM, stop)
    version = os.environ.get("DEPL_VERSION", "dev")
    os.makedirs(DATA, exist_ok=True)
    print(f"monoweb worker {version} started", flush=True)
    beats = 0
    while running:
        beats += 1
        tmp = os.path.join(DATA, f".heartbeat.{os.getpid()}")
        with open(tmp, "w") as f:
            f.write(f"{version} {int(time.time())} {beats} {fastcount.vowels('heartbeat')}\n")
        os.replace(tmp, os.path.join(DATA, "heartbeat"))
        with open(os.path.join(DATA, f"heartbeat-{version}"), "w") as f:
            f.write(f"{int(time.time())} {beats}\n")
        time.sleep(1)
    print(f"monoweb worker {version} stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
