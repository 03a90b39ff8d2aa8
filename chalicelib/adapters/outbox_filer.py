"""The outbox filer (embedded default): each ticket as a Markdown and a JSON file in a folder,
ready to paste into the Huawei Cloud console; `mark-filed` records the case number afterwards."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from chalicelib.domain.tickets import Ticket


class OutboxFiler:
    channel = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def find(self, marker: str) -> str | None:
        path = self.folder / f"{marker}.json"
        if not path.exists():
            return None
        return str(json.loads(path.read_text(encoding="utf-8"))["ticket_id"])

    def file(self, ticket: Ticket) -> str:
        ticket_id = f"outbox-{ticket.marker}"
        record = {"ticket_id": ticket_id, "summary": ticket.summary, **ticket.fields}
        # The Markdown first: the JSON, written last, is what `find` takes as proof of filing.
        self._write(f"{ticket.marker}.md", f"{ticket.summary}\n\n{ticket.body}\n")
        self._write(f"{ticket.marker}.json", json.dumps(record, ensure_ascii=False, indent=2))
        return ticket_id

    def follow(self, ticket_id: str) -> str | None:
        return None  # a pasted ticket's state lives in the console, not here

    def urge(self, ticket_id: str, message: str) -> None:
        """Nothing to press: whoever pasted the ticket follows it up in the console."""

    def _write(self, name: str, text: str) -> None:
        """Whole or not at all: a crash leaves the old file or none, never half of one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, self.folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
