"""Scraped web pages: HTML files and WARC crawl files -> records of main text and metadata.

Reading
  - HTML: a single .html/.htm file or a folder of them (searched recursively; .gz/.zst ok). A
    document's id is its path relative to the folder; .txt files found in the same folder are read
    as plain text, so nothing in the folder is left out.
  - WARC / WARC.gz (warcio): every `response` (or `resource`) record holding HTML with a 2xx status
    is a document whose id is its WARC-Target-URI. Every other record (requests, metadata,
    warcinfo, revisits, images, redirects...) is skipped and counted by kind in the run's counts.
    A record that cannot be read (a truncated gzip member, a corrupt header) is reported with the
    file and its byte offset (the offset WARC indexes such as CDX use), and reading resumes at the
    next record found after it: one bad record never costs the rest of the file.

Decoding. The charset comes from a byte order mark, else the HTTP Content-Type header, else the
page's <meta charset>. A declared charset the bytes do not fit (a page declared ISO-8859-1 whose
bytes are UTF-8, or declared UTF-8 with Latin-1 bytes), an unknown charset name, or no declaration
on bytes that are not UTF-8 each give a warning naming the page, and the text is decoded with the
charset detected by charset_normalizer (a handful of bad bytes in otherwise valid UTF-8 are
replaced instead). The document is always kept.

Extraction (`--extract`). "trafilatura" (the default) keeps the main text of the page and drops
navigation, footers and most ads; metadata (title, author, date -> `published`, site name ->
`site`, canonical URL -> `url`) come from trafilatura too, and for WARC records `url` is the
record's target URI. "none" keeps all the visible text of the page (scripts and styles removed),
for users who want every word, or when they want to let `neardup.boilerplate` deal with chrome.
Pages larger than `MAX_EXTRACT_CHARS` characters are too big for main-text extraction to be worth
its cost (trafilatura refuses them anyway): their visible text is kept whole, with a warning.
Records larger than `MAX_RECORD_BYTES` are skipped and reported without being held in memory.
"""

from __future__ import annotations

import codecs
import multiprocessing as mp
import re
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from neardup.corpus.readers import Problem, RecordBatch
from neardup.corpus.sources import Source

if TYPE_CHECKING:
    from neardup.corpus.readers import Reader

EXTRACTORS = ("trafilatura", "none")
MAX_EXTRACT_CHARS = 5_000_000
"""Pages longer than this (decoded characters) keep their whole visible text."""
MAX_RECORD_BYTES = 256 * 2**20
"""Pages or WARC records larger than this are skipped (and reported) without being read."""
HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")
_HTML_TYPES = ("text/html", "application/xhtml+xml")

_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)
_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
# WHATWG: these labels mean windows-1252 in browsers
_LATIN1_LABELS = {"latin_1", "iso8859-1", "ascii", "cp1252", "iso-8859-1", "us-ascii"}


def is_html_name(name: str) -> bool:
    """Whether a file name is an HTML page (possibly .gz or .zst compressed)."""
    low = name.lower()
    for ext in (".gz", ".gzip", ".zst", ".zstd"):
        if low.endswith(ext):
            low = low[: -len(ext)]
            break
    return low.endswith(HTML_SUFFIXES)


# --- decoding ------------------------------------------------------------------------------------
def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if name in _LATIN1_LABELS else name


def decode_html(data: bytes, http_content_type: str | None = None) -> tuple[str, str, str | None]:
    """Decode page bytes; returns (text, encoding used, warning or None). See the module doc."""
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(enc, "replace"), enc, None
    label = None
    if http_content_type:
        m = _HTTP_CHARSET.search(http_content_type)
        label = m.group(1) if m else None
    if label is None:
        m = _META_CHARSET.search(data[:8192])
        label = m.group(1).decode("ascii", "replace") if m else None
    declared = _codec(label)
    note = None
    if label and declared is None:
        note = f"unknown charset {label!r}"
    if declared and declared != "utf-8":
        if declared == "cp1252" and not data.isascii():
            # a page declared Latin-1 whose bytes are valid UTF-8 was saved as UTF-8
            try:
                return (
                    data.decode("utf-8"),
                    "utf-8",
                    f"declared charset {label!r} but the bytes are UTF-8",
                )
            except UnicodeDecodeError:
                pass
        try:
            return data.decode(declared), declared, None
        except UnicodeDecodeError:
            note = f"bytes are not valid {label}"
    # declared UTF-8, no declaration, or a declaration that did not fit
    try:
        return data.decode("utf-8"), "utf-8", note
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    if bad <= max(2, 0.02 * non_ascii):
        return (
            text,
            "utf-8",
            (note + "; " if note else "") + f"invalid UTF-8 replaced ({bad} bytes)",
        )
    enc = _detect(data)
    why = note or (f"bytes are not valid {label}" if label else "no charset declared and not UTF-8")
    return data.decode(enc, "replace"), enc, f"{why}; decoded as {enc} (detected)"


def _detect(data: bytes) -> str:
    """The charset of undeclared non-UTF-8 bytes. Short Western texts fit several single-byte
    code pages equally well; among the equally good we prefer windows-1252, the web's most common
    legacy charset (and what browsers assume for Latin-1 labels)."""
    try:
        from charset_normalizer import from_bytes

        results = list(from_bytes(data[:200_000]))
        if results:
            best = min(r.chaos for r in results)
            tied = [_codec(r.encoding) for r in results if r.chaos <= best + 0.01]
            if "cp1252" in tied:
                return "cp1252"
            return tied[0] or "cp1252"
    except Exception:  # detection is a best effort; cp1252 decodes every byte
        pass
    return "cp1252"


# --- extraction ----------------------------------------------------------------------------------
@dataclass
class Page:
    """The text and metadata extracted from one page, with warnings about how it was read."""

    text: str
    meta: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


_BLOCK_TAGS = (
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th",
    "table", "section", "article", "header", "footer", "nav", "aside", "blockquote", "pre",
    "dd", "dt", "dl", "figcaption", "figure", "form", "main", "title", "hr",
)  # fmt: skip
_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "object", "head")


def _parse(html: str) -> Any:
    import lxml.html

    html = _XML_DECL.sub("", _CONTROL.sub(" ", html), count=1)
    if not html.strip():
        raise ValueError("empty page")
    return lxml.html.document_fromstring(html)


def visible_text(html: str) -> str:
    """All the visible text of a page, one line per block element (no main-text extraction)."""
    import lxml.etree

    tree = _parse(html)
    lxml.etree.strip_elements(tree, *_DROP_TAGS, lxml.etree.Comment, with_tail=False)
    for el in tree.iter(*_BLOCK_TAGS):
        el.tail = "\n" + el.tail if el.tail else "\n"
    lines = (" ".join(line.split()) for line in tree.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None


def _metadata(doc: Any, url: str | None) -> dict[str, str]:
    meta: dict[str, str] = {}
    for key, attr in (("title", "title"), ("author", "author"), ("published", "date")):
        value = getattr(doc, attr, None)
        if value:
            meta[key] = str(value)
    page_url = getattr(doc, "url", None)
    meta_url = url or page_url
    if meta_url:
        meta["url"] = meta_url
    site = getattr(doc, "sitename", None) or getattr(doc, "hostname", None) or _host(meta_url)
    if site:
        meta["site"] = str(site)
    return meta


def extract_page(html: str, url: str | None = None, extract: str = "trafilatura") -> Page:
    """Main text (or all visible text with extract="none") and metadata of a decoded page.

    Never raises for bad HTML: a page that cannot be parsed at all gives an empty text and a note.
    """
    if extract not in EXTRACTORS:
        raise ValueError(f"extract must be one of {', '.join(EXTRACTORS)}, got {extract!r}")
    notes: list[str] = []
    if len(html) > MAX_EXTRACT_CHARS:
        notes.append(
            f"page of {len(html):,} characters: too large for main-text extraction, "
            "all its visible text kept"
        )
        extract = "none"
        with_meta = False
    else:
        with_meta = True
    if extract == "trafilatura":
        import trafilatura

        try:
            doc = trafilatura.bare_extraction(
                _CONTROL.sub(" ", html),
                url=url,
                with_metadata=True,
                include_comments=False,
                include_tables=True,
                deduplicate=False,
                date_extraction_params={"extensive_search": False, "original_date": True},
            )
        except Exception as e:  # trafilatura on hostile markup: fall back to the visible text
            notes.append(
                f"main-text extraction failed ({type(e).__name__}: {e}); visible text kept"
            )
            doc = None
            extract = "none"
        if doc is not None:
            return Page(getattr(doc, "text", None) or "", _metadata(doc, url), notes)
        if extract == "trafilatura":
            return Page("", {"url": url} if url else {}, notes)
    try:
        text = visible_text(html)
    except Exception as e:  # lxml refuses the markup entirely
        notes.append(f"unparseable HTML ({type(e).__name__}: {e})")
        return Page("", {"url": url} if url else {}, notes)
    meta: dict[str, str] = {}
    if with_meta:
        try:
            from trafilatura.metadata import extract_metadata

            meta = _metadata(extract_metadata(_parse(html), default_url=url, extensive=False), url)
        except Exception:  # metadata is optional; the text is what matters
            meta = {"url": url} if url else {}
    elif url:
        meta = {"url": url, "site": _host(url) or ""}
    return Page(text, {k: v for k, v in meta.items() if v}, notes)


def page_from_bytes(
    data: bytes,
    url: str | None = None,
    extract: str = "trafilatura",
    content_type: str | None = None,
) -> Page:
    """Decode and extract one page (see `decode_html` and `extract_page`)."""
    html, _enc, note = decode_html(data, content_type)
    page = extract_page(html, url, extract)
    if note:
        page.notes.insert(0, note)
    return page


# --- reading HTML files --------------------------------------------------------------------------
def _too_long(text: str, max_chars: int) -> str | None:
    if max_chars and len(text) > max_chars:
        return f"document too long: {len(text):,} characters, more than max_chars={max_chars:,}"
    return None


def _read_limited(stream: BinaryIO, limit: int) -> bytes | None:
    """The stream's bytes, or None (after draining it) when there are more than `limit`."""
    data = stream.read(limit + 1)
    if len(data) <= limit:
        return data
    while stream.read(1 << 20):
        pass
    return None


@dataclass
class _Job:
    """One page to decode and extract (what an extraction worker receives)."""

    data: bytes
    url: str | None
    extract: str
    content_type: str | None = None
    html: bool = True


def _run_job(job: _Job) -> Page:
    if job.html:
        return page_from_bytes(job.data, job.url, job.extract, job.content_type)
    text, _enc, note = decode_html(job.data, "text/plain; charset=utf-8")
    return Page(text, {}, [note] if note else [])


def _run_jobs(jobs: list[_Job]) -> list[Page]:
    return [_run_job(job) for job in jobs]


_SERIAL_PAGES = 128  # a run's first pages are extracted in-process: small inputs start at once
_CHUNK_PAGES = 16


def _extracted(
    entries: Iterator[tuple[Any, _Job | None]], workers: int
) -> Iterator[tuple[Any, Page | None]]:
    """(context, page) for each (context, job) in order; entries without a job pass through.

    With workers > 1, pages after the first `_SERIAL_PAGES` are extracted by a pool of processes
    (forkserver: the pool never inherits the threads of the engine's pool), in chunks, with at
    most 2 * workers chunks in flight; results come back in input order, so the output does not
    depend on the number of workers.
    """
    done = 0
    pool = None
    pending: deque[tuple[list[tuple[Any, _Job | None]], Future[list[Page]] | None]] = deque()
    chunk: list[tuple[Any, _Job | None]] = []

    def submit() -> None:
        jobs = [job for _, job in chunk if job is not None]
        pending.append((list(chunk), pool.submit(_run_jobs, jobs) if jobs else None))
        chunk.clear()

    def drain(limit: int) -> Iterator[tuple[Any, Page | None]]:
        while len(pending) > limit:
            items, fut = pending.popleft()
            pages = iter(fut.result() if fut is not None else [])
            for ctx, job in items:
                yield ctx, (next(pages) if job is not None else None)

    try:
        for ctx, job in entries:
            if pool is None:
                if job is None:
                    yield ctx, None
                    continue
                if workers <= 1 or done < _SERIAL_PAGES:
                    done += 1
                    yield ctx, _run_job(job)
                    continue
                pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver"))
            chunk.append((ctx, job))
            if len(chunk) >= _CHUNK_PAGES:
                submit()
                yield from drain(2 * workers)
        if pool is not None:
            if chunk:
                submit()
            yield from drain(0)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _workers(settings: Any) -> int:
    return max(1, int(getattr(settings, "extract_workers", 1) or 1))


def read_html_source(reader: Reader, index: int, source: Source) -> Iterator[RecordBatch]:
    """Records of an HTML file or folder source (ordinal = position in `source.files`)."""
    s = reader.settings
    extract = getattr(s, "extract", "trafilatura")
    files = source.files if source.files is not None else [source.path]
    root = source.path if source.path.is_dir() else source.path.parent
    if not files:
        reader.problems.warn(Problem(source.name, None, "no .html or .txt files in folder"))

    def entries() -> Iterator[tuple[tuple[int, str, str, str | None], _Job | None]]:
        for ordinal, path in enumerate(files):
            rel = path.relative_to(root).as_posix()
            try:
                with source.open_binary(path) as f:
                    data = _read_limited(f, MAX_RECORD_BYTES)
            except (OSError, EOFError, ValueError, zlib.error) as e:
                yield (ordinal, str(path), rel, f"unreadable file: {e}"), None
                continue
            reader.bytes_read += path.stat().st_size
            if data is None:
                yield (
                    (
                        ordinal,
                        str(path),
                        rel,
                        f"page too large (more than {MAX_RECORD_BYTES:,} bytes)",
                    ),
                    None,
                )
                continue
            yield (
                (ordinal, str(path), rel, None),
                _Job(data, None, extract, None, is_html_name(path.name)),
            )

    batch = RecordBatch(index)
    for (ordinal, where, rel, error), page in _extracted(entries(), _workers(s)):
        if page is None:
            reader.problems.skip(Problem(where, None, error or "unreadable", id=rel))
            continue
        for note in page.notes:
            reader.problems.warn(Problem(where, None, note, id=rel))
        if not page.text.strip():
            reason = (
                "no main text found in the page"
                if extract == "trafilatura"
                else "no text in the page"
            )
            reader.problems.skip(Problem(where, None, reason, id=rel))
            continue
        problem = _too_long(page.text, s.max_chars)
        if problem:
            reader.problems.skip(Problem(where, None, problem, id=rel))
            continue
        batch.append(rel, page.text, page.meta, ordinal, 0)
        if len(batch) >= s.batch_size:
            yield batch
            batch = RecordBatch(index)
    if batch:
        yield batch


# --- reading WARC files --------------------------------------------------------------------------
@dataclass
class WarcItem:
    """One record of a WARC file, as `iter_warc` sees it.

    kind is "page" (an HTML response: `data` holds the HTTP body, decoded from its transfer and
    content encodings), "other" (counted and skipped: `skip_key` says why), or "error" (the record
    could not be read: `error` says why; reading resumed at the next record).
    """

    ordinal: int
    offset: int
    kind: str
    uri: str | None = None
    data: bytes | None = None
    content_type: str | None = None
    length: int | None = None
    skip_key: str | None = None
    error: str | None = None


def _is_html(content_type: str | None, body_start: bytes) -> bool:
    if content_type:
        return content_type.split(";")[0].strip().lower() in _HTML_TYPES
    head = body_start[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _next_record_start(f: BinaryIO, after: int, gzipped: bool) -> int | None:
    """Byte offset of the next plausible record start after `after`, or None."""
    marker = b"\x1f\x8b\x08" if gzipped else b"WARC/1."
    pos = after
    chunk = 1 << 20
    while True:
        f.seek(pos)
        buf = f.read(chunk + len(marker))
        if not buf:
            return None
        i = buf.find(marker, 1 if pos == after else 0)
        while i >= 0:
            start = pos + i
            if _plausible_start(f, start, gzipped):
                return start
            i = buf.find(marker, i + 1)
        if len(buf) <= chunk:
            return None
        pos += chunk


def _plausible_start(f: BinaryIO, start: int, gzipped: bool) -> bool:
    f.seek(start)
    head = f.read(4096)
    if gzipped:
        try:
            head = zlib.decompressobj(31).decompress(head, 16)
        except zlib.error:
            return False
    return head.startswith(b"WARC/1.")


def iter_warc(path: Path) -> Iterator[WarcItem]:
    """Every record of a WARC file in order, resuming after unreadable ones (see WarcItem)."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(0)
        gzipped = f.read(2) == b"\x1f\x8b"
        start = 0
        ordinal = 0
        while start is not None and start < size:
            f.seek(start)
            it = ArchiveIterator(f)
            offset = start
            try:
                for record in it:
                    offset = it.offset
                    item = _warc_item(record, ordinal, offset)
                    ordinal += 1
                    yield item
                    offset = -1  # the record was read whole
                start = None
                end = it.offset
                if end < size:
                    f.seek(end)
                    if f.read(4096).strip(b"\r\n\x00 "):
                        # warcio stops quietly at a truncated last record: say so
                        yield WarcItem(
                            ordinal,
                            end,
                            "error",
                            error=f"truncated or unreadable data ({size - end:,} bytes up to the end of the file)",
                        )
                        ordinal += 1
                        start = _next_record_start(f, end, gzipped)
            except Exception as e:  # warcio raises many kinds on corrupt input
                if offset < 0:  # failed between records (e.g. garbage after the last one)
                    offset = it.offset
                yield WarcItem(ordinal, offset, "error", error=_describe(e))
                ordinal += 1
                start = _next_record_start(f, offset, gzipped)


def _describe(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _warc_item(record: Any, ordinal: int, offset: int) -> WarcItem:
    rec_type = record.rec_type
    uri = record.rec_headers.get_header("WARC-Target-URI")
    if rec_type not in ("response", "resource"):
        return WarcItem(ordinal, offset, "other", uri=uri, skip_key=f"warc_{rec_type}_records")
    content_type = None
    if rec_type == "response":
        if record.http_headers is None:
            return WarcItem(ordinal, offset, "other", uri=uri, skip_key="warc_non_http_responses")
        status = record.http_headers.get_statuscode() or ""
        if not (len(status) == 3 and status.isdigit()):
            return WarcItem(
                ordinal,
                offset,
                "error",
                uri=uri,
                error=f"malformed HTTP status line {record.http_headers.statusline!r}",
            )
        if not status.startswith("2"):
            return WarcItem(
                ordinal, offset, "other", uri=uri, skip_key=f"warc_responses_status_{status[0]}xx"
            )
        content_type = record.http_headers.get_header("Content-Type")
    else:
        content_type = record.rec_headers.get_header("Content-Type")
    length = int(record.rec_headers.get_header("Content-Length") or 0)
    if length > MAX_RECORD_BYTES:
        return WarcItem(
            ordinal,
            offset,
            "error",
            uri=uri,
            length=length,
            error=f"record too large ({length:,} bytes, more than {MAX_RECORD_BYTES:,})",
        )
    stream = record.content_stream()
    data = _read_limited(stream, MAX_RECORD_BYTES)
    if data is None:
        return WarcItem(
            ordinal,
            offset,
            "error",
            uri=uri,
            error=f"body too large (more than {MAX_RECORD_BYTES:,} bytes)",
        )
    missing = getattr(record.raw_stream, "limit", 0)
    if missing:
        raise EOFError(f"record truncated: {missing:,} of its {length:,} bytes missing")
    if not _is_html(content_type, data):
        return WarcItem(ordinal, offset, "other", uri=uri, skip_key="warc_responses_not_html")
    return WarcItem(
        ordinal, offset, "page", uri=uri, data=data, content_type=content_type, length=length
    )


def read_warc_source(reader: Reader, index: int, source: Source) -> Iterator[RecordBatch]:
    """Records of a WARC file: one per HTML response (ordinal = position of the record in the
    file; the RecordBatch line is the record's byte offset)."""
    s = reader.settings
    extract = getattr(s, "extract", "trafilatura")
    where = source.name
    counts = getattr(reader.problems, "counts", None)
    n_items = 0

    def entries() -> Iterator[tuple[WarcItem, _Job | None]]:
        nonlocal n_items
        for item in iter_warc(source.path):
            n_items += 1
            if item.kind == "page":
                assert item.data is not None
                job = _Job(item.data, item.uri, extract, item.content_type)
                item.data = None
                yield item, job
            else:
                yield item, None

    batch = RecordBatch(index)
    bytes_before = reader.bytes_read
    for item, page in _extracted(entries(), _workers(s)):
        reader.bytes_read = bytes_before + item.offset  # progress: compressed bytes read
        at = f"WARC record at byte offset {item.offset:,}"
        if item.kind == "other":
            if counts is not None and item.skip_key:
                counts[item.skip_key] = counts.get(item.skip_key, 0) + 1
            continue
        if item.kind == "error" or page is None:
            reader.problems.skip(
                Problem(where, item.offset, f"unreadable record: {item.error} ({at})", id=item.uri)
            )
            continue
        doc_id = item.uri or f"{source.path.name}@{item.offset}"
        for note in page.notes:
            reader.problems.warn(Problem(where, item.offset, f"{note} ({at})", id=doc_id))
        if not page.text.strip():
            reason = (
                "no main text found in the page"
                if extract == "trafilatura"
                else "no text in the page"
            )
            reader.problems.skip(Problem(where, item.offset, f"{reason} ({at})", id=doc_id))
            continue
        problem = _too_long(page.text, s.max_chars)
        if problem:
            reader.problems.skip(Problem(where, item.offset, f"{problem} ({at})", id=doc_id))
            continue
        batch.append(doc_id, page.text, page.meta, item.ordinal, item.offset)
        if len(batch) >= s.batch_size:
            yield batch
            batch = RecordBatch(index)
    if n_items == 0:
        reader.problems.warn(Problem(where, None, "no WARC records in file"))
    reader.bytes_read = bytes_before + source.size_bytes()
    if batch:
        yield batch


def read_source(reader: Reader, index: int, source: Source) -> Iterator[RecordBatch]:
    """Dispatch for `neardup.corpus.readers.Reader`: HTML or WARC sources."""
    if source.format == "warc":
        return read_warc_source(reader, index, source)
    return read_html_source(reader, index, source)


# --- writing the deduplicated crawl -------------------------------------------------------------
def write_kept_warc(path: Path, sources: list[Source], masks: list[Any]) -> None:
    """Write the kept pages of WARC sources to `path` (a .warc.gz): each kept record's bytes are
    copied as they are (a gzip member stays one; an uncompressed record is gzipped on its own).

    masks[i][ordinal] says whether record `ordinal` of source i is kept (ordinals as in
    `read_warc_source`). Only the kept response records are written, not the request and metadata
    records around them.
    """
    import gzip as gz

    with open(path, "wb") as out:
        for source, mask in zip(sources, masks, strict=True):
            items = [(item.ordinal, item.offset) for item in iter_warc(source.path)]
            size = source.path.stat().st_size
            with open(source.path, "rb") as f:
                gzipped = f.read(2) == b"\x1f\x8b"
                for k, (ordinal, offset) in enumerate(items):
                    if ordinal >= len(mask) or not mask[ordinal]:
                        continue
                    end = items[k + 1][1] if k + 1 < len(items) else size
                    f.seek(offset)
                    data = f.read(end - offset)
                    out.write(data if gzipped else gz.compress(data.rstrip(b"\r\n") + b"\r\n\r\n"))
