"""Programs on the live server, made the way an operator makes them: with the real CLI."""

from collections.abc import Sequence
from dataclasses import dataclass

from tests.live import LiveServer


@dataclass
class LiveProgram:
    public_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}


def live_program(
    server: LiveServer, name: str, partners: Sequence[tuple[str, str]] = ()
) -> LiveProgram:
    """A program, an API token, and partners given as (email, key) pairs."""
    program = server.cli("programs", "create", "--name", name)
    public_id = str(program["public_id"])
    token = str(server.cli("tokens", "create", "--program", public_id)["token"])
    for email, key in partners:
        server.cli("partners", "create", "--program", public_id, "--email", email, "--key", key)
    return LiveProgram(public_id=public_id, token=token)
