"""The package README's quickstart and examples/agent_loop.py run as
documented against the real server, and leave the trail they promise."""

from __future__ import annotations

import os
import pathlib
import re
import socket
import subprocess
import sys
import time

from agenttrail.v1 import event_pb2
from agenttrail_server import Server, create_key
from conftest import Connect

PACKAGE = pathlib.Path(__file__).resolve().parents[1]
README = PACKAGE / "README.md"
EXAMPLE = PACKAGE / "examples" / "agent_loop.py"


def run_python(args: list[str], server: Server, code: str | None = None) -> str:
    """Runs Python in a fresh process, as a user would, with the server's
    address and keys in the environment; returns its output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE / "src"), env.get("PYTHONPATH", "")])
    env["AGENTTRAIL_ADDR"] = server.address
    env["AGENTTRAIL_VERIFIER_KEY"] = server.verifier_key
    for name, key in (("AGENTTRAIL_KEY", server.keys.agent), ("AGENTTRAIL_READER_KEY", server.keys.compliance)):
        if key is None:
            env.pop(name, None)
        else:
            env[name] = key
    result = subprocess.run(
        [sys.executable, *args], input=code, capture_output=True, text=True, env=env, timeout=120, cwd=PACKAGE
    )
    assert result.returncode == 0, f"exit status {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def quickstart() -> str:
    """The Python blocks of the README's Quickstart section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 2, "the quickstart logs a session, then reads and verifies it"
    return "\n".join(blocks)


def test_readme_quickstart_runs_as_pasted(server: Server, connect: Connect) -> None:
    out = run_python(["-"], server, code=quickstart())
    match = re.search(r"^logged session (\S+)$", out, flags=re.M)
    assert match, out
    assert re.search(r"^verified 5 entries", out, flags=re.M), out
    reader = connect(server, role="compliance")
    kinds = [e.event.WhichOneof("payload") for e in reader.query(session_id=match.group(1))]
    assert kinds == ["session_start", "llm_call", "tool_call", "output", "session_end"]


def test_example_agent_loop_leaves_a_complete_trail(server: Server, connect: Connect) -> None:
    out = run_python([str(EXAMPLE), "--address", server.address], server)
    match = re.match(r"session: (\S+)\n", out)
    assert match, out
    assert re.search(r"^verified 11 entries", out, flags=re.M), out

    reader = connect(server, role="compliance")
    entries = list(reader.query(session_id=match.group(1)))
    events = [e.event for e in entries]
    assert [e.WhichOneof("payload") for e in events] == [
        "session_start",
        "llm_call",
        "tool_call",
        "error",
        "llm_call",
        "reasoning",
        "human_approval",
        "tool_call",
        "llm_call",
        "output",
        "session_end",
    ]
    failed, refund = events[2].tool_call, events[7].tool_call
    assert (failed.tool_name, failed.outcome, failed.error_type) == (
        "orders.lookup",
        event_pb2.TOOL_OUTCOME_TIMEOUT,
        "TimeoutError",
    )
    assert events[3].error.recovery_action
    approval = events[6].human_approval
    assert approval.decision == event_pb2.APPROVAL_DECISION_APPROVED
    assert approval.gated_event_id == events[7].event_id, "the approval names the refund it gates"
    assert (refund.tool_name, refund.outcome, refund.approval_required) == (
        "payments.refund",
        event_pb2.TOOL_OUTCOME_SUCCESS,
        True,
    )
    assert events[7].parent_event_id == events[4].event_id, "the refund was asked for by the second LLM call"
    end = events[-1].session_end
    assert (end.reason, end.step_count, end.llm_call_count, end.tool_call_count, end.error_count) == (
        event_pb2.END_REASON_COMPLETED,
        11,
        3,
        2,
        2,
    )
    assert [e.step for e in events] == list(range(1, 12))
    assert reader.verify_entries(entries).size > entries[-1].stamp.log_index


def run_quickstart_failing(env_changes: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs the README's logging block in a fresh process with env_changes,
    expecting it to fail."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE / "src"), env.get("PYTHONPATH", "")])
    env.update(env_changes)
    code = quickstart().split("\nreader = ", 1)[0]
    return subprocess.run(
        [sys.executable, "-"], input=code, capture_output=True, text=True, env=env, timeout=120, cwd=PACKAGE
    )


def test_quickstart_with_no_server_exits_1_within_the_close_timeout() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    started = time.monotonic()
    result = run_quickstart_failing({"AGENTTRAIL_ADDR": address, "AGENTTRAIL_KEY": "at_0123456789abcdef_x"})
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result
    assert "logged session" not in result.stdout
    assert re.search(
        rf"DeliveryTimeoutError: agenttrail: 5 events not acknowledged by the server at {address} within 10.0s "
        r"\(they are not in the log\); the last attempt failed: UNAVAILABLE",
        result.stderr,
    ), result.stderr
    assert elapsed < 30, f"the quickstart took {elapsed:.1f}s to fail with no server"


def test_quickstart_refused_for_its_scope_exits_1_naming_the_scope(agenttrail_binary: pathlib.Path, tmp_path: pathlib.Path) -> None:
    server = Server(agenttrail_binary, tmp_path / "data", tmp_path / "server.log")
    key = create_key(agenttrail_binary, server.data, "other-bot", "agent", agent_id="support-bot")
    server.start()
    try:
        result = run_quickstart_failing({"AGENTTRAIL_ADDR": server.address, "AGENTTRAIL_KEY": key})
    finally:
        server.close()
    assert result.returncode == 1, result
    assert "logged session" not in result.stdout
    assert "DeliveryError: agenttrail: 5 events were refused (not in the log)" in result.stderr, result.stderr
    assert 'this API key may append events of agent_id "support-bot" only' in result.stderr, result.stderr
