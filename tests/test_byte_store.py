"""The journal's kept bytes (story pictures, thumbnails, the spool): one private store keyed by sha256,
in the same folders and under the same names as before, so an existing data folder still reads."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from kling_widgets import TaskHistory, prepare_image
from kling_widgets.byte_store import ByteStore

from .conftest import fox


def test_bytes_are_kept_once_privately_under_their_sha256(tmp_path: Path) -> None:
    store = ByteStore(tmp_path / "kept" / "cast")
    assert store.empty() and not store.has("0" * 64)
    key = store.put(b"picture bytes")
    assert key == hashlib.sha256(b"picture bytes").hexdigest() and store.get(key) == b"picture bytes"
    assert oct(store.path(key).stat().st_mode & 0o777) == "0o600"
    assert oct(store.folder.stat().st_mode & 0o777) == "0o700"
    assert store.put(b"other bytes", key=key) == key and store.get(key) == b"picture bytes"  # never rewritten
    assert [p.name for p in store.folder.iterdir()] == [key]  # no temporary file left behind
    store.discard(key)
    store.discard(key)  # forgetting twice is no error
    assert store.empty()
    with pytest.raises(FileNotFoundError):
        store.get(key)


def test_a_key_that_is_not_a_plain_name_reaches_no_other_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not a picture")
    store = ByteStore(tmp_path / "spool")
    store.put(b"x")
    for key in ("../secret.txt", "..", "", "a/b", "a\\b"):
        assert not store.has(key)
        with pytest.raises(FileNotFoundError):
            store.get(key)
        store.discard(key)
        with pytest.raises(ValueError, match="not a key"):
            store.path(key)
    assert secret.read_text() == "not a picture"


def test_the_journal_keeps_pictures_where_an_existing_data_folder_has_them(history: TaskHistory, photo: bytes) -> None:
    picture = prepare_image(photo)
    request = fox(picture)
    history.record_queued("ext-1", request, provider="gateway", base_url="http://service")
    sha = picture.sha256
    spooled = history.path.parent / "history.spool" / sha
    thumbnail = history.path.parent / "history.thumbs" / f"{sha}.jpg"
    assert spooled.read_bytes() == picture.data and thumbnail.is_file()
    assert history.thumbnail_path(sha) == thumbnail
    again = TaskHistory(history.path)  # a later kernel reads what an earlier one kept
    (entry,) = again.unfinished()
    assert again.queued_request(entry).prepared_images()[0].data == picture.data
    cast = again.story_folder("story-1") / "cast"
    cast.mkdir(parents=True)
    (cast / sha).write_bytes(picture.data)  # a storyboard's cast as earlier versions kept it
    kept = again.kept_images(again.keep_pictures([picture], cast), cast)
    assert [k.data for k in kept if not isinstance(k, str)] == [picture.data]
    again.record_cancelled("ext-1")
    assert not spooled.exists() and thumbnail.is_file()  # the spool is emptied; the card keeps its thumbnail


def test_the_account_module_needs_no_journal() -> None:
    probe = "import sys, kling_widgets.account; print('kling_widgets.history' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
