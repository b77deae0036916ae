"""What agenttrail logging costs an agent, measured against a local server.

1. The calling thread's cost of logging one LLM call (session.llm_call with
   a realistic payload of about 700 bytes: two input messages, output text,
   tokens, cost, latency), over --calls calls while the background threads
   deliver them: p50, p99, p99.9 and maximum of the wall-clock time of each
   call (which includes waiting for the interpreter while the delivery
   threads run, and the operating system's scheduling) and of the calling
   thread's CPU time in it (time.thread_time_ns, the work itself), and
   that CPU time again over the calls during which the thread was never
   switched out (no context switch in its getrusage counts): on a busy
   machine the tail of the other two is mostly the wait for a core and
   the cold caches after it, which this row leaves out. The
   buffer is sized to hold every call, so that the numbers are the cost of
   logging and not the back-pressure of a full buffer. Back to back, the
   delivery competes with the agent for the interpreter the whole time.
   Paced at --rate calls per second, each call starts after a pause, with
   caches cold; to tell what the delivery adds from what the machine's
   wake-ups cost, the paced run is repeated against an address where no
   server listens, so that nothing is delivered.
2. Sustained delivery: how many events per second one client process
   delivers to the server, from the first event logged until the last is
   acknowledged (--events events, logged as fast as the default buffer
   lets), and the process's CPU time per event.

Not part of the test suite. Run it from the repository root:

    clients/python/.venv/bin/python clients/python/bench/bench_overhead.py

It builds ./cmd/agenttrail and starts a server of its own on a temporary
data directory (default flags, so checkpoints are signed at most once a
second and every batch is fsynced), or uses a running one given with
--address. The numbers depend on the machine and its load, which it
prints.
"""

from __future__ import annotations

import argparse
import gc
import os
import pathlib
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "src"))
# The package's copy of the generated code (src/agenttrail/v1) is a build
# output that a fresh checkout lacks: make it first, as `npm run bench`
# does for the TypeScript client.
subprocess.run([sys.executable, str(HERE.parent / "tools" / "copy_gen.py")], check=True)

import agenttrail  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You are Acme Shop's support agent. Be brief, be kind, and never promise a refund you cannot make."},
    {"role": "user", "content": "Hi, my order 1234 arrived broken. Can I get my money back? The box was crushed and the mug is in pieces."},
]
OUTPUT = (
    "I'm sorry your order arrived broken. I can refund the 42.50 USD you paid for order 1234; "
    "it takes 3 to 5 days to reach your card. Would you like me to go ahead?"
)
LATENCY = timedelta(milliseconds=850)


def log_llm_call(session: agenttrail.Session, i: int) -> None:
    session.llm_call(
        provider_name="openai",
        operation_name="chat",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        response_id="chatcmpl-9f8e7d6c5b4a",
        input_messages=MESSAGES,
        output_text=OUTPUT,
        finish_reasons=["stop"],
        input_tokens=62 + i % 7,
        output_tokens=48,
        cost={"currency_code": "USD", "micros": 1500},
        latency=LATENCY,
        temperature=0.2,
    )


def percentiles(ns: list[int]) -> str:
    if not ns:
        return "(no calls)"
    ns = sorted(ns)
    n = len(ns)

    def at(q: float) -> float:
        return ns[min(n - 1, int(q * n))] / 1000

    return f"p50 {at(0.50):7.1f}   p99 {at(0.99):7.1f}   p99.9 {at(0.999):8.1f}   max {ns[-1] / 1000:9.1f}"


def measure_calls(
    address: str, api_key: str | None, calls: int, rate: float | None, deliver: bool = True
) -> tuple[list[int], list[int], list[int]]:
    """Logs calls LLM calls (after a warm-up) and returns the wall-clock and
    CPU nanoseconds each took, and the CPU nanoseconds of those during which
    the thread was not switched out. With deliver=False, address has no
    server, and the events are left undelivered."""
    wall = time.perf_counter_ns
    cpu = time.thread_time_ns
    usage, thread = resource.getrusage, resource.RUSAGE_THREAD
    unswitched: list[int] = []
    client = agenttrail.Client(address, api_key=api_key, agent_id="bench-agent", buffer_size=calls + 5000)
    walls: list[int] = []
    cpus: list[int] = []
    session = client.session()
    session.start()
    for i in range(2000):
        log_llm_call(session, i)
    if deliver:
        client.flush(60)
    interval = 0.0 if rate is None else 1.0 / rate
    next_at = time.perf_counter()
    for i in range(calls):
        r0 = usage(thread)
        w0, c0 = wall(), cpu()
        log_llm_call(session, i)
        c1, w1 = cpu(), wall()
        r1 = usage(thread)
        walls.append(w1 - w0)
        cpus.append(c1 - c0)
        if r1.ru_nivcsw == r0.ru_nivcsw and r1.ru_nvcsw == r0.ru_nvcsw:
            unswitched.append(c1 - c0)
        if interval:
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    if not deliver:
        try:
            client.close(timeout=0)
        except agenttrail.DeliveryTimeoutError:
            pass  # nothing listens there: the events were never to be delivered
        return walls, cpus, unswitched
    session.end()
    client.flush(120)  # raises when the events were refused or not acknowledged in time
    stats = client.stats()
    client.close()
    if stats.rejected or stats.dropped:
        raise RuntimeError(f"events were rejected or dropped: {stats}")
    return walls, cpus, unswitched


def unused_address() -> str:
    """A loopback address where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def measure_throughput(address: str, api_key: str | None, events: int) -> tuple[float, float]:
    """Logs events as fast as the default buffer lets and returns events per
    second until the last is acknowledged, and CPU microseconds per event."""
    client = agenttrail.Client(address, api_key=api_key, agent_id="bench-agent")
    with client, client.session() as session:
        client.flush(30)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        for i in range(events):
            log_llm_call(session, i)
        client.flush(300)  # raises when they were not all acknowledged in time
        elapsed = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        stats = client.stats()
        if stats.rejected or stats.dropped:
            raise RuntimeError(f"events were rejected or dropped: {stats}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return events / elapsed, cpu / events * 1e6


@contextmanager
def local_server(binary: str | None) -> Iterator[tuple[str, str]]:
    """Builds (unless binary is given) and runs agenttrail serve on a
    temporary data directory with an agent key (a server refuses every call
    until a key exists); yields its address and the key."""
    with tempfile.TemporaryDirectory(prefix="agenttrail-bench-") as tmp:
        if binary is None:
            binary = os.path.join(tmp, "agenttrail")
            subprocess.run(["go", "build", "-o", binary, "./cmd/agenttrail"], cwd=REPO, check=True)
        data = os.path.join(tmp, "data")
        key = subprocess.run(
            [binary, "keys", "create", "--data", data, "--principal", "bench-agent", "--role", "agent"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        with open(os.path.join(tmp, "server.log"), "w") as log:
            proc = subprocess.Popen(
                [binary, "serve", "--data", data, "--listen", "127.0.0.1:0", "--http-listen", "off"],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        try:
            assert proc.stdout is not None
            # The address is on the line that says so, among the first few.
            for _ in range(20):
                line = proc.stdout.readline()
                if not line or line.startswith("agenttrail listening on "):
                    break
            if not line.startswith("agenttrail listening on "):
                raise RuntimeError(f"agenttrail serve did not start; see its log in {tmp}")
            yield line.removeprefix("agenttrail listening on ").strip(), key
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description="Measures what agenttrail logging costs an agent.")
    parser.add_argument("--address", help="a running server (default: build and start one)")
    parser.add_argument("--agenttrail", help="the agenttrail binary to start (default: go build ./cmd/agenttrail)")
    parser.add_argument("--api-key", default=os.environ.get("AGENTTRAIL_KEY"), help="an agent key, if the server checks keys")
    parser.add_argument("--calls", type=int, default=20_000, help="LLM calls timed per run (default 20000)")
    parser.add_argument("--rate", type=float, default=2_000, help="calls per second of the paced runs (default 2000)")
    parser.add_argument("--events", type=int, default=50_000, help="events of the throughput run (default 50000)")
    args = parser.parse_args()

    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, gc thresholds {gc.get_threshold()}")

    @contextmanager
    def server() -> Iterator[str]:
        if args.address:
            yield args.address
        else:
            with local_server(args.agenttrail) as (address, key):
                args.api_key = key
                yield address

    with server() as address:
        print(f"server {address}; microseconds per llm_call:")
        runs = (
            (f"back to back, {args.calls} calls, delivering", address, None, True),
            (f"paced {args.rate:g}/s, {args.calls // 2} calls, delivering", address, args.rate, True),
            (f"paced {args.rate:g}/s, {args.calls // 2} calls, no server", unused_address(), args.rate, False),
        )
        for label, where, rate, deliver in runs:
            calls = args.calls if rate is None else args.calls // 2
            walls, cpus, unswitched = measure_calls(where, args.api_key, calls, rate, deliver)
            print(f"  {label}")
            print(f"    wall  {percentiles(walls)}")
            print(f"    CPU   {percentiles(cpus)}")
            print(f"    CPU   {percentiles(unswitched)}   (the {len(unswitched)} calls not switched out)")
        rate, cpu_per_event = measure_throughput(address, args.api_key, args.events)
        print(f"sustained delivery: {rate:,.0f} events/s ({args.events} LLM-call events logged and acknowledged; "
              f"{cpu_per_event:.0f} us of process CPU per event)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
