"""`copydesk status` wall time, beside Celery's own `celery inspect ping`, in one run.

Starts its own redis-server on a free loopback port and real workers (`copydesk worker`, prefork)
on a temporary folder store, then times each command as a fresh process, as an operator or a
probe runs it, in three states of the fleet:
- two workers alive,
- one of them killed with SIGKILL (its heartbeat goes stale after 6 s; until then status waits
  `--timeout` for it),
- no worker at all.
Prints the median and the maximum wall time of `--repeat` runs of each and the ratio of the
medians (status / inspect ping). The target of issue 12 is status < 1 s on a quiet machine.

    .venv/bin/python bench/status.py              # 7 runs of each command per state
    .venv/bin/python bench/status.py --repeat 15
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ports import free_port, wait_port  # noqa: E402

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    return time.perf_counter() - started, result.returncode


def measure(label: str, env: dict[str, str], repeat: int, within: float | None = None) -> None:
    """`within`: stop the status runs once that many seconds have passed (the state would change)."""
    started = time.monotonic()
    status = []
    for _ in range(repeat):
        status.append(timed([str(BIN / "copydesk"), "status", "--json"], env))
        if within is not None and time.monotonic() - started > within:
            break
    ping = [timed([str(BIN / "celery"), "-A", "worker.app", "inspect", "ping", "--timeout", "1"], env) for _ in range(repeat)]
    s = [t for t, _ in status]
    p = [t for t, _ in ping]
    print(
        f"{label:<24} status median {statistics.median(s):5.2f} s  max {max(s):5.2f} s  n {len(s)}  exit {sorted({c for _, c in status})}"
        f" | inspect ping median {statistics.median(p):5.2f} s  max {max(p):5.2f} s"
        f" | ratio {statistics.median(s) / statistics.median(p):4.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    workers: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "COPYDESK_BROKER_URL": f"redis://127.0.0.1:{port}/0",
            "COPYDESK_STORE": f"file://{tmp}/store",
            "COPYDESK_LOG_LEVEL": "WARNING",
        }
        try:
            wait_port(port, what="redis-server")
            for name in ("a", "b"):
                workers.append(subprocess.Popen(
                    [str(BIN / "copydesk"), "worker", "--create", "-c", "1", "-n", f"bench-{name}@%h",
                     "--without-gossip", "--without-mingle"],
                    env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                ))
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                out = subprocess.run([str(BIN / "copydesk"), "status", "--json"], env=env, capture_output=True, text=True)
                if '"workers_alive": 2' in out.stdout:
                    break
                time.sleep(1)
            else:
                raise SystemExit("bench: the two workers did not come up")
            print(f"load average {os.getloadavg()[0]:.2f}; {args.repeat} runs of each command per state")
            measure("two workers alive", env, args.repeat)
            os.killpg(workers[1].pid, signal.SIGKILL)
            measure("one killed (< 6 s ago)", env, args.repeat, within=4.0)
            time.sleep(7)
            measure("one killed (> 6 s ago)", env, args.repeat)
            for w in workers:
                os.killpg(w.pid, signal.SIGTERM)
            for w in workers:
                w.wait(timeout=60)
            measure("no worker", env, args.repeat)
        finally:
            for w in workers:
                if w.poll() is None:
                    os.killpg(w.pid, signal.SIGKILL)
            redis.terminate()
            redis.wait(timeout=10)


if __name__ == "__main__":
    main()
