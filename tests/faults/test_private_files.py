"""Faults: chats readable by every local user. Folders were made 0755 and files 0644 (under the
usual umask 022): settings, sessions.db with its -wal/-shm (drafts live there too), KV caches
and exports. The app's folders are now 0700 and its files 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import mlx.core as mx
import pytest

import mlx_model
from llama_chat.paths import AppPaths, atomic_write_text
from llama_chat.settings import Settings, save_settings
from llama_chat.store.kv_files import CacheStore
from llama_chat.store.sessions import SessionStore
from tests.store_helpers import new_session


@pytest.fixture(autouse=True)
def usual_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def app_paths(tmp_path, monkeypatch) -> AppPaths:
    monkeypatch.setenv("LLAMA_CHAT_HOME", str(tmp_path / "home"))
    return AppPaths.from_env().ensure()


def test_the_app_folders_are_private(app_paths):
    for folder in (app_paths.data_dir, app_paths.config_dir, app_paths.cache_dir,
                   app_paths.kv_cache_dir):  # fmt: skip
        assert mode(folder) == 0o700, folder


def test_folders_an_older_version_left_open_are_closed(app_paths):
    os.chmod(app_paths.data_dir, 0o755)
    app_paths.ensure()
    assert mode(app_paths.data_dir) == 0o700


def test_settings_presets_and_exports_are_written_private(app_paths, tmp_path):
    save_settings(Settings(), app_paths.settings_file)
    atomic_write_text(tmp_path / "chat.md", "# exported")
    assert mode(app_paths.settings_file) == 0o600
    assert mode(tmp_path / "chat.md") == 0o600


def test_the_database_and_its_journal_files_are_private(app_paths):
    store = SessionStore.open(app_paths.sessions_db)
    session = new_session(store)
    store.add_message(session.id, "user", "my private question")
    store.set_draft(session.id, "an unsent draft")
    db = app_paths.sessions_db
    journal = [db.with_name(db.name + suffix) for suffix in ("-wal", "-shm")]
    assert all(path.exists() for path in journal)  # while the store is open
    for path in (db, *journal):
        assert mode(path) == 0o600, path
    store.close()


def test_an_existing_open_database_is_closed_to_others(app_paths):
    SessionStore.open(app_paths.sessions_db).close()
    os.chmod(app_paths.sessions_db, 0o644)
    SessionStore.open(app_paths.sessions_db).close()
    assert mode(app_paths.sessions_db) == 0o600


def test_kv_cache_files_are_private(app_paths, tiny_f32):
    model, _ = mlx_model.load(tiny_f32, dtype=mx.float32)
    cache = model.make_cache()
    ids = [128000, 9906, 1917]
    model.hidden(mx.array([ids]), cache)
    cache.commit(ids)
    saved = CacheStore(app_paths.kv_cache_dir, 1 << 30).save(
        1, {"model_id": "m", "quant": "4bit"}, cache
    )
    assert saved is not None and mode(saved) == 0o600
