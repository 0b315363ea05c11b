"""Which branch of a chat is shown: one chosen child per fork (table ``branch_choices``, m005).

Messages form a tree (``parent_id``); regenerating or editing adds a sibling. At a fork the shown
child is the one the user chose, else the latest, so chats written before choices existed read
as before. Writing a new child under a parent forgets that parent's choice: a new answer or edit
is what the user wants to see.
"""

from __future__ import annotations

import sqlite3

from llama_chat.store.records import StoredMessage, message_from_row, session_of_message


class BranchStore:
    """The branch half of SessionStore, whose ``_query``, ``_transaction`` and messages it uses."""

    def active_path(self, session_id: int) -> list[StoredMessage]:
        """The shown branch, root first: at each fork the chosen child, else the latest one."""
        shown: dict[int | None, StoredMessage] = {}
        for message in self.messages(session_id):  # seq order, so later siblings overwrite
            shown[message.parent_id] = message
        by_id = {m.id: m for m in shown.values()}
        rows = self._query(
            "SELECT b.parent_id, m.* FROM branch_choices AS b JOIN messages AS m"
            " ON m.id = b.child_id WHERE b.session_id = ?",
            (session_id,),
        )
        for row in rows:
            shown[row[0]] = by_id.get(row["id"]) or message_from_row(row)
        path: list[StoredMessage] = []
        node = shown.get(None)
        while node is not None:
            path.append(node)
            node = shown.get(node.id)
        return path

    def select_branch(self, message_id: int) -> list[StoredMessage]:
        """Show ``message_id`` at its fork (instead of its siblings); returns the new path."""
        with self._transaction() as conn:
            session_id = session_of_message(conn, message_id)
            record_choice(conn, session_id, message_id)
        return self.active_path(session_id)

    def branch_positions(self, session_id: int) -> dict[int, tuple[int, int]]:
        """For each message that has siblings: (its place among them from 0, how many)."""
        rows = self._query(
            "SELECT id, parent_id FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)
        )
        children: dict[int | None, list[int]] = {}
        for message_id, parent_id in rows:
            children.setdefault(parent_id, []).append(message_id)
        return {
            child: (place, len(ids))
            for ids in children.values()
            if len(ids) > 1
            for place, child in enumerate(ids)
        }

    def chosen_children(self, session_id: int) -> set[int]:
        """Ids of the messages the user chose at their forks (for export)."""
        rows = self._query(
            "SELECT child_id FROM branch_choices WHERE session_id = ?", (session_id,)
        )
        return {row[0] for row in rows}


def _forget_choice(conn: sqlite3.Connection, session_id: int, parent_id: int | None) -> None:
    conn.execute(
        # Written like the unique index, so every new message finds its fork through it.
        "DELETE FROM branch_choices WHERE session_id = ? AND COALESCE(parent_id, 0) = ?",
        (session_id, parent_id or 0),
    )


def record_choice(conn: sqlite3.Connection, session_id: int, message_id: int) -> None:
    """Inside a write: ``message_id`` is the shown child of its parent (an import's choices)."""
    (parent_id,) = conn.execute(
        "SELECT parent_id FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    _forget_choice(conn, session_id, parent_id)
    conn.execute(
        "INSERT INTO branch_choices (session_id, parent_id, child_id) VALUES (?, ?, ?)",
        (session_id, parent_id, message_id),
    )


def new_child_written(conn: sqlite3.Connection, session_id: int, parent_id: int | None) -> None:
    """Inside a write that added a child of ``parent_id``: the new child is shown from now on."""
    _forget_choice(conn, session_id, parent_id)
