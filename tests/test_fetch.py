"""Reading texts back after a run: at the byte offsets noted in the first pass (plain JSONL) or
by a second pass (everything else), with the same texts either way."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

import neardup
from neardup.corpus.fetch import iter_group_texts

ROWS = [
    {"id": "a", "text": "Café owners in Lüneburg said the new rules start on Monday."},
    {"id": "b", "text": "A second story, with “curly quotes” and an emoji 🎉 in it."},
    {"id": "c", "text": "Ünïcode everywhere: naïve façade, résumé, smörgåsbord."},
    {"id": "d", "text": "The fourth one is plain ASCII text about the weather."},
]


def _write(path: Path, bom: bool = True) -> bytes:
    lines = [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in ROWS]
    # a BOM, a blank line and CRLF line ends move every offset
    data = (b"\xef\xbb\xbf" if bom else b"") + lines[0] + b"\r\n\n" + b"\n".join(lines[1:])
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)
    return data


def _texts(result: neardup.FindResult) -> dict[int, dict[int, str]]:
    docs = result._state.docs
    groups = [np.array([0, 3]), np.array([1]), np.array([2])]  # clusters: disjoint
    return dict(
        iter_group_texts(
            result.sources,
            result.settings,
            docs.source_index_arr,
            docs.ordinal_arr,
            groups,
            docs.n_chars_arr,
            byte_offset=docs.byte_offset_arr,
            byte_length=docs.byte_length_arr,
        )
    )


def test_plain_jsonl_is_read_back_at_its_offsets_compressed_by_a_second_pass(
    tmp_path: Path,
) -> None:
    expected = {0: {0: ROWS[0]["text"], 3: ROWS[3]["text"]}, 1: {1: ROWS[1]["text"]}}
    expected[2] = {2: ROWS[2]["text"]}
    for name in ("plain.jsonl", "packed.jsonl.gz"):
        path = tmp_path / name
        _write(path)
        result = neardup.find([path])
        docs = result._state.docs
        assert result.ids == ["a", "b", "c", "d"]
        offsets_known = (docs.byte_offset_arr >= 0).all()
        assert offsets_known == (name == "plain.jsonl")
        assert _texts(result) == expected


def test_a_record_changed_since_the_run_is_left_out_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    _write(path)
    result = neardup.find([path])
    changed = bytearray(path.read_bytes())
    start = changed.index(b"weather")
    changed[start : start + 7] = b"weathe!"  # same length, still valid JSON: read as it is now
    changed = changed.replace(b"plain ASCII", b"ASCII")  # shorter: the text no longer fits
    path.write_bytes(bytes(changed))
    got = _texts(result)
    assert 3 not in got[0]  # d's line moved and changed: not taken for d
    assert got[0][0] == ROWS[0]["text"]


def test_deduplicated_jsonl_copied_by_ranges_is_the_line_by_line_copy(tmp_path: Path) -> None:
    """deduplicated.jsonl is copied in runs of kept lines at their offsets; it must hold exactly
    what a line-by-line copy holds: the kept lines, byte for byte, without the BOM, the blank
    lines, the broken records and the removed copies, and with a newline after the last."""
    from neardup.corpus.writers import _copy_jsonl

    story = "The harbour board met on Tuesday to discuss the plan for the new ferry pier. " * 4
    rows = [
        json.dumps({"id": "orig", "text": story}).encode(),
        b"{broken json",
        json.dumps({"id": "copy", "text": story.replace("Tuesday", "Monday")}).encode(),
        json.dumps(
            {"id": "other", "text": "A different story about the local football club."}
        ).encode(),
        json.dumps(
            {"id": "last", "text": "Café prices rose again this week, traders said."}
        ).encode(),
    ]
    data = b"\xef\xbb\xbf" + rows[0] + b"\r\n\n" + b"\n".join(rows[1:])  # no final newline
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    result = neardup.find([path], out=tmp_path / "out")
    assert set(result.ids) == {"orig", "copy", "other", "last"}
    written = (tmp_path / "out" / "deduplicated.jsonl").read_bytes()
    docs = result._state.docs
    assert (docs.byte_offset_arr >= 0).all()  # so the range copy was used
    mask = np.zeros(int(docs.ordinal_arr.max()) + 1, bool)
    mask[docs.ordinal_arr[result.kept_mask]] = True
    import io

    by_lines = io.BytesIO()
    _copy_jsonl(result.sources[0], mask, by_lines)
    assert written == by_lines.getvalue()
    kept = [json.loads(line)["id"] for line in written.splitlines()]
    assert kept == ["orig", "other", "last"] and written.endswith(b"\n")
