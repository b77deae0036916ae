"""Runs the real agenttrail server for the client's tests.

:func:`build` compiles ./cmd/agenttrail from the repository (Go's build
cache makes this quick after the first time); :class:`Server` runs
``agenttrail serve`` on a data directory, on 127.0.0.1 and a free port, with
a checkpoint signed for every batch, and stops it gracefully (SIGTERM, with a
2 second shutdown deadline), kills it (SIGKILL) or freezes it (SIGSTOP)
and restarts it on the same data directory and the same port, so that a
client reconnects to it.

API keys. The server is to authenticate callers with API keys sent as gRPC
metadata ``authorization: Bearer <key>``; keys are created offline with
``agenttrail keys create --data DIR --principal NAME --role ROLE
[--agent-id ID]``, which prints the secret key alone on the first line of
its output. :func:`create_key` is the one place that creates a key;
:meth:`Server.keys` holds an "agent" key for writers and a "compliance" key
(full view, proofs) for readers once :meth:`Server.create_keys` ran.
"""

from __future__ import annotations

import os
import pathlib
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

#: How long the server may take to start.
START_TIMEOUT = 20.0


def build(repo: pathlib.Path, out_dir: pathlib.Path) -> pathlib.Path:
    """Builds the agenttrail binary from the repository into out_dir."""
    binary = out_dir / "agenttrail"
    result = subprocess.run(
        ["go", "build", "-o", str(binary), "./cmd/agenttrail"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"go build ./cmd/agenttrail failed:\n{result.stderr}")
    return binary


def create_key(
    binary: pathlib.Path, data: pathlib.Path, principal: str, role: str, agent_id: str | None = None
) -> str:
    """Creates an API key offline (the server must not be running on data)
    and returns the secret, which ``agenttrail keys create`` prints alone on
    the first line of its output."""
    args = [str(binary), "keys", "create", "--data", str(data), "--principal", principal, "--role", role]
    if agent_id is not None:
        args += ["--agent-id", agent_id]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"agenttrail keys create failed ({result.returncode}):\n{result.stderr}")
    lines = result.stdout.splitlines()
    if not lines or not lines[0].strip():
        raise RuntimeError("agenttrail keys create printed no key")
    return lines[0].strip()


@dataclass(frozen=True)
class Keys:
    """The API keys of a test server (None before create_keys ran)."""

    #: Role "agent": appends events.
    agent: str | None
    #: Role "compliance": reads in the full view, gets proofs.
    compliance: str | None
    #: Role "developer": reads in the redacted view.
    developer: str | None = None


class Server:
    """One ``agenttrail serve`` process on a data directory. Not
    thread-safe."""

    def __init__(self, binary: pathlib.Path, data: pathlib.Path, log_path: pathlib.Path, *extra: str) -> None:
        self.binary = binary
        self.data = data
        self.log_path = log_path
        self.extra = list(extra)
        self.port = 0
        self.address = ""
        self.origin = ""
        self.verifier_key = ""
        self.keys = Keys(agent=None, compliance=None)
        self._proc: subprocess.Popen[str] | None = None
        self._paused = False

    def create_keys(self) -> Keys:
        """Creates the agent and compliance keys; call it before the first
        start."""
        self.keys = Keys(
            agent=create_key(self.binary, self.data, "test-agent", "agent"),
            compliance=create_key(self.binary, self.data, "test-auditor", "compliance"),
            developer=create_key(self.binary, self.data, "test-developer", "developer"),
        )
        return self.keys

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("the server is not running")
        return self._proc.pid

    def start(self) -> None:
        """Starts the server: on a free port the first time, on the same
        port afterwards. Waits until it listens."""
        if self.running:
            raise RuntimeError("the server is already running")
        listen = f"127.0.0.1:{self.port}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self._spawn(listen, deadline)
                return
            except _AddressInUse:
                # The port of a killed server can take a moment to free.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _spawn(self, listen: str, deadline: float) -> None:
        log = open(self.log_path, "a", encoding="utf-8")
        try:
            proc = subprocess.Popen(
                [
                    str(self.binary),
                    "serve",
                    "--data",
                    str(self.data),
                    "--listen",
                    listen,
                    "--checkpoint-interval",
                    "0",
                    # A graceful stop waits this long for open calls: an idle
                    # Append stream holds the server's shutdown until then
                    # (its reader is blocked receiving), so keep it short.
                    "--shutdown-timeout",
                    "2s",
                    # The web console's HTTP listener has a fixed default port.
                    "--http-listen",
                    "off",
                    *self.extra,
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        finally:
            log.close()
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        values: dict[str, str] = {}
        while "checkpoint verifier key" not in values:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"agenttrail serve did not start in {START_TIMEOUT}s; see {self.log_path}")
            if line is None:
                proc.wait()
                if "address already in use" in self.log_path.read_text(encoding="utf-8")[-2000:]:
                    raise _AddressInUse()
                raise RuntimeError(f"agenttrail serve exited with {proc.returncode}; see {self.log_path}")
            if line.startswith("agenttrail listening on "):
                values["address"] = line.removeprefix("agenttrail listening on ")
            elif ": " in line:
                key, _, value = line.partition(": ")
                values[key] = value
        self._proc = proc
        self.address = values["address"]
        self.port = int(self.address.rsplit(":", 1)[1])
        self.origin = values["log origin"]
        self.verifier_key = values["checkpoint verifier key"]

    def stop(self) -> None:
        """Stops the server gracefully (SIGTERM) and waits for it."""
        self._signal(signal.SIGTERM)
        if self._paused:
            self.resume()
        self._wait()

    def kill(self) -> None:
        """Kills the server (SIGKILL), as a crash would, and waits for it."""
        self._signal(signal.SIGKILL)
        self._wait()

    def pause(self) -> None:
        """Freezes the server (SIGSTOP): it keeps its port but answers
        nothing, as a hung or unreachable server would."""
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Unfreezes a paused server (SIGCONT)."""
        self._signal(signal.SIGCONT)
        self._paused = False

    def restart(self) -> None:
        """Stops the server if it runs, and starts it again on the same data
        directory and port."""
        if self.running:
            self.stop()
        self.start()

    def close(self) -> None:
        """Ends the server however it is: resumes it if paused, then kills
        it."""
        if self.running:
            self.kill()

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError("the server is not running")
        os.kill(self._proc.pid, sig)

    def _wait(self) -> None:
        assert self._proc is not None
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None
        self._paused = False


class _AddressInUse(Exception):
    pass
