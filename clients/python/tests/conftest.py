"""Shared pytest setup: paths to the repository's shared test data, and the
real agenttrail server the client tests run against (see
agenttrail_server.py for how it runs and how API keys are handled)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Iterator
from typing import Any, Literal, Protocol

import pytest

from agenttrail import Client
from agenttrail_server import Server, build

REPO = pathlib.Path(__file__).resolve().parents[3]
TESTDATA = REPO / "clients" / "testdata"

#: The agent id of the events the tests log.
AGENT_ID = "test-agent"



class Connect(Protocol):
    """The type of the connect fixture."""

    def __call__(
        self, server: Server, *, role: Literal["agent", "compliance", "developer"] = "agent", **kwargs: Any
    ) -> Client: ...


@pytest.fixture(scope="session")
def agenttrail_binary(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The agenttrail binary, built from this repository once per test run;
    or, when AGENTTRAIL_TEST_BINARY names one, that binary, to test the
    client against another build of the server."""
    given = os.environ.get("AGENTTRAIL_TEST_BINARY")
    if given:
        return pathlib.Path(given).resolve()
    return build(REPO, tmp_path_factory.mktemp("bin"))


def _server(binary: pathlib.Path, directory: pathlib.Path, *extra: str) -> Server:
    server = Server(binary, directory / "data", directory / "server.log", *extra)
    server.create_keys()
    server.start()
    return server


@pytest.fixture(scope="session")
def server(agenttrail_binary: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server shared by the tests that never stop, kill or freeze it."""
    s = _server(agenttrail_binary, tmp_path_factory.mktemp("server"))
    yield s
    s.close()


@pytest.fixture
def fresh_server(agenttrail_binary: pathlib.Path, tmp_path: pathlib.Path) -> Iterator[Server]:
    """A server of the test's own, which it may stop, kill, freeze and
    restart."""
    s = _server(agenttrail_binary, tmp_path)
    yield s
    s.close()


@pytest.fixture
def start_server(agenttrail_binary: pathlib.Path, tmp_path: pathlib.Path) -> Iterator[Callable[..., Server]]:
    """Starts servers of the test's own with extra serve flags."""
    made: list[Server] = []

    def start(*extra: str) -> Server:
        directory = tmp_path / f"server{len(made)}"
        directory.mkdir()
        s = _server(agenttrail_binary, directory, *extra)
        made.append(s)
        return s

    yield start
    for s in made:
        s.close()


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Makes clients of a server, closed at the end of the test.

    connect(server) is a writer: the agent key and agent id AGENT_ID.
    connect(server, role="compliance") is a reader: the compliance key and
    the server's verifier key; role="developer" reads in the redacted view. Other keyword arguments go to Client.
    """
    made: list[Client] = []

    def make(
        server: Server, *, role: Literal["agent", "compliance", "developer"] = "agent", **kwargs: Any
    ) -> Client:
        if role == "agent":
            kwargs.setdefault("agent_id", AGENT_ID)
            key = server.keys.agent
        else:
            kwargs.setdefault("verifier_key", server.verifier_key)
            key = server.keys.compliance if role == "compliance" else server.keys.developer
        kwargs.setdefault("api_key", key)
        kwargs.setdefault("address", server.address)
        client = Client(**kwargs)
        made.append(client)
        return client

    yield make
    for c in made:
        c.close(timeout=5)
