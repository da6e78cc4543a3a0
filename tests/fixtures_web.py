"""Fictional scraped news for the web tests and the web benchmark: sites with their chrome, short
stories, press releases, templated notices, and the HTML pages and WARC files that carry them.

Everything here is invented: the sites, people, places and companies do not exist. Stories are
generated from a seeded random grammar over an English word list, so two different stories share
no run of five words beyond a rare stock phrase, while a story is the same text wherever it is
republished.
"""

from __future__ import annotations

import html
import io
import random
from dataclasses import dataclass, field
from pathlib import Path

# --- words --------------------------------------------------------------------------------------
_NOUNS = """council harbor ferry bridge library market school river valley museum festival
tunnel station clinic orchard factory bakery garden stadium airport lighthouse quarry forest
village mayor teacher farmer nurse engineer driver captain student artist baker fisherman
budget plan report survey storm flood drought harvest election contract licence permit fine
road street square park tower hall court prison hospital theatre cinema gallery canal dock
pier island coast meadow hill lake reservoir railway tram bus cyclist runner team coach
match league season trophy festival parade concert exhibition auction charity fund grant
loan tax rent wage price shortage surplus delay closure opening protest petition inquiry
vote debate motion committee board union company firm shop warehouse office laboratory""".split()
_VERBS = """approved rejected delayed opened closed repaired announced postponed funded
expanded reduced inspected praised criticised questioned welcomed blocked cleared visited
replaced renamed rebuilt extended cancelled confirmed doubled halved reviewed challenged
supported opposed celebrated investigated measured counted recorded moved sold bought
painted flooded restored""".split()
_ADJS = """new old busy quiet local regional northern southern eastern western small large
wooden stone narrow wide early late rainy windy cold warm crowded empty historic modern
temporary permanent annual weekly costly cheap popular controversial""".split()
_FIRST = """Mara Tobin Elsa Ivo Petra Jonas Wren Odile Cassius Nadia Bram Lotte Emeric Salka
Teodor Ines Rufus Hedda Milo Anouk Oren Greta Lucan Sable Viggo Thea Anselm Ilka Corin Dagny""".split()
_LAST = """Quell Marrow Pentire Holloway Ashgrove Vance Tillery Brightwater Okonedo Farrant
Lindqvist Harrow Castellan Penhallow Dunmore Aubert Kestrel Mallory Thorne Varga Ellery Rooke
Fenwick Ostrander Carrow Blythe Merriman Quist Halloran Stroud""".split()
_PLACES = """Eastmere Westbrook Caddon Fellstone Ravensholt Mirefield Ashcombe Dunwick
Holloway Marrowgate Pellingford Saltcote Thornbury Wyndham Brackenlow Corrin Glassford
Hartwell Kilnsey Lowther""".split()


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def sentence(rng: random.Random) -> str:
    """One sentence of fictional local news."""
    forms = (
        lambda: (
            f"The {rng.choice(_ADJS)} {rng.choice(_NOUNS)} in {rng.choice(_PLACES)} was {rng.choice(_VERBS)} by the {rng.choice(_NOUNS)} on {rng.choice(('Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'))}"
        ),
        lambda: (
            f"{_name(rng)}, a {rng.choice(_NOUNS)} from {rng.choice(_PLACES)}, said the {rng.choice(_NOUNS)} had {rng.choice(_VERBS)} {rng.randint(2, 99)} {rng.choice(_NOUNS)}s since {rng.choice(('spring', 'summer', 'autumn', 'winter'))}"
        ),
        lambda: (
            f"Officials {rng.choice(_VERBS)} a {rng.choice(_ADJS)} {rng.choice(_NOUNS)} worth {rng.randint(2, 900)},{rng.randint(100, 999)} crowns after the {rng.choice(_NOUNS)} {rng.choice(_NOUNS)} was {rng.choice(_VERBS)}"
        ),
        lambda: (
            f"According to {_name(rng)}, the {rng.choice(_NOUNS)} near the {rng.choice(_ADJS)} {rng.choice(_NOUNS)} will be {rng.choice(_VERBS)} before the {rng.choice(_NOUNS)} {rng.choice(('opens', 'closes', 'ends', 'begins'))}"
        ),
        lambda: (
            f"Residents of {rng.choice(_PLACES)} {rng.choice(_VERBS)} the {rng.choice(_NOUNS)} and asked the {rng.choice(_NOUNS)} to {rng.choice(('explain', 'publish', 'repeat', 'reconsider'))} its {rng.choice(_ADJS)} {rng.choice(_NOUNS)}"
        ),
        lambda: (
            f"A {rng.choice(_ADJS)} {rng.choice(_NOUNS)} of {rng.randint(3, 400)} {rng.choice(_NOUNS)}s {rng.choice(_VERBS)} the {rng.choice(_NOUNS)} at {rng.choice(_PLACES)} {rng.choice(_NOUNS)}"
        ),
    )
    text = rng.choice(forms)()
    return text[0].upper() + text[1:] + "."


def story(seed: int, words: int = 60) -> str:
    """A fictional news story of about `words` words, in paragraphs of two or three sentences."""
    rng = random.Random(seed)
    paragraphs: list[str] = []
    n = 0
    while n < words:
        para = " ".join(sentence(rng) for _ in range(rng.randint(2, 3)))
        paragraphs.append(para)
        n += len(para.split())
    return "\n\n".join(paragraphs)


def headline(seed: int) -> str:
    rng = random.Random(seed * 7919 + 1)
    return f"{rng.choice(_PLACES)} {rng.choice(_NOUNS)} {rng.choice(_VERBS)} after {rng.choice(_ADJS)} {rng.choice(_NOUNS)}"


# --- sites and their chrome ----------------------------------------------------------------------
@dataclass
class Site:
    """A fictional news site and the chrome it wraps around every story."""

    name: str
    host: str
    seed: int
    nav: list[str] = field(default_factory=list)
    cookie: str = ""
    promo: str = ""
    sponsored: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    footer: str = ""
    related_pool: list[str] = field(default_factory=list)  # for pages whose widgets rotate
    sponsored_pool: list[str] = field(default_factory=list)

    def chrome_words(self) -> int:
        return len(" ".join(self.chrome_texts()).split())

    def chrome_texts(self) -> list[str]:
        return [
            " ".join(self.nav),
            self.cookie,
            self.promo,
            "Sponsored Links. You May Like",
            *self.sponsored,
            "Related articles",
            *self.related,
            self.footer,
        ]


def make_site(seed: int, name: str | None = None, host: str | None = None) -> Site:
    """A site with 150-230 words of chrome: menu, cookie banner, newsletter promo, sponsored
    links, related headlines and a footer (all fixed for the site)."""
    rng = random.Random(10_000 + seed)
    place = _PLACES[seed % len(_PLACES)]
    kind = ("Ledger", "Courier", "Post", "Gazette", "Herald", "Chronicle", "Tribune", "Echo")[
        (seed // len(_PLACES)) % 8
    ]
    name = name or f"The {place} {kind}"
    host = host or f"{place.lower()}{kind.lower()}{seed}.example"
    sections = ["Home", "News", "Local", "Sport", "Business", "Opinion", "Culture", "Weather"]
    rng.shuffle(sections)
    return Site(
        name=name,
        host=host,
        seed=seed,
        nav=[*sections[:6], "Subscribe", "Sign in"],
        cookie=(
            f"{name} uses cookies to improve your experience and to show you relevant "
            f"advertising. By continuing to browse {host} you accept our cookie policy and "
            f"the {rng.choice(_ADJS)} terms of service set out by our {rng.choice(_NOUNS)} team."
        ),
        promo=(
            f"Sign up for the {name} morning briefing: the {rng.choice(_ADJS)} stories from "
            f"{place} and the {rng.choice(_NOUNS)}s around it in your inbox every day before "
            f"{rng.randint(6, 9)} o'clock. It is free and you can unsubscribe at any time."
        ),
        sponsored=[
            f"{rng.choice(_FIRST)}s in {rng.choice(_PLACES)} are stunned by this {rng.choice(_ADJS)} {rng.choice(_NOUNS)} trick",
            f"The {rng.choice(_ADJS)} {rng.choice(_NOUNS)} every {rng.choice(_NOUNS)} over fifty should own",
            f"Why {rng.choice(_NOUNS)} prices in {rng.choice(_PLACES)} are about to change for good",
        ],
        related=[headline(seed * 100 + k) for k in range(4)],
        related_pool=[headline(seed * 100 + k) for k in range(14)],
        sponsored_pool=[
            f"{rng.choice(_FIRST)}s in {rng.choice(_PLACES)} swear by this {rng.choice(_ADJS)} {rng.choice(_NOUNS)} for {rng.choice(_NOUNS)}s"
            for _ in range(10)
        ],
        footer=(
            f"Copyright {rng.randint(2015, 2024)} {name}. {rng.randint(1, 99)} "
            f"{rng.choice(_LAST)} Street, {place}. All rights reserved. Contact the newsroom, "
            f"advertise with us, careers, privacy notice, accessibility statement."
        ),
    )


@dataclass
class PageSpec:
    """One page to write: a story (title + body) on a site at a path, and its metadata."""

    site: Site
    path: str
    title: str
    body: str
    author: str = ""
    published: str = ""
    label: str = ""  # what the test or benchmark knows about it (e.g. the story id)
    rotation: int | None = None  # when set, the related and sponsored widgets vary per page

    def widgets(self) -> tuple[list[str], list[str]]:
        """(related headlines, sponsored links) shown on this page."""
        if self.rotation is None or not self.site.related_pool:
            return self.site.related, self.site.sponsored
        rng = random.Random(self.rotation)
        return rng.sample(self.site.related_pool, 4), rng.sample(self.site.sponsored_pool, 3)

    @property
    def url(self) -> str:
        return f"https://{self.site.host}/{self.path}"


def page_html(spec: PageSpec, charset: str = "utf-8", declare: bool = True) -> str:
    """A realistic page: head metadata, menu, cookie banner, the article with a newsletter promo
    and a sponsored-links widget inside it, related articles and a footer."""
    s = spec.site
    e = html.escape
    paragraphs = "\n".join(f"<p>{e(p)}</p>" for p in spec.body.split("\n\n") if p.strip())
    meta = [f'<meta charset="{charset}">'] if declare else []
    meta += [
        f"<title>{e(spec.title)} | {e(s.name)}</title>",
        f'<link rel="canonical" href="{e(spec.url)}">',
        f'<meta property="og:site_name" content="{e(s.name)}">',
        f'<meta property="og:title" content="{e(spec.title)}">',
    ]
    if spec.author:
        meta.append(f'<meta name="author" content="{e(spec.author)}">')
    if spec.published:
        meta.append(f'<meta property="article:published_time" content="{e(spec.published)}">')
    nav = " ".join(f'<li><a href="/{n.lower()}">{e(n)}</a></li>' for n in s.nav)
    related_items, sponsored_items = spec.widgets()
    sponsored = "".join(
        f'<li><a href="https://ads.example/{k}">{e(t)}</a></li>'
        for k, t in enumerate(sponsored_items)
    )
    related = "".join(
        f'<li><a href="/news/r{k}">{e(t)}</a></li>' for k, t in enumerate(related_items)
    )
    byline = f'<p class="byline">By {e(spec.author)}</p>' if spec.author else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head>
{chr(10).join(meta)}
<script>window.dataLayer = window.dataLayer || []; function track(x) {{ return x; }}</script>
<style>body {{ font-family: serif; }} .cookie {{ position: fixed; }}</style>
</head><body>
<header><div class="logo">{e(s.name)}</div><nav><ul>{nav}</ul></nav></header>
<div class="cookie-banner"><p>{e(s.cookie)}</p><button>Accept</button></div>
<main>
<article>
<h1>{e(spec.title)}</h1>
{byline}
{paragraphs}
<div class="newsletter-promo"><p>{e(s.promo)}</p></div>
<div class="sponsored"><h3>Sponsored Links. You May Like</h3><ul>{sponsored}</ul></div>
</article>
<aside><h3>Related articles</h3><ul>{related}</ul></aside>
</main>
<footer><p>{e(s.footer)}</p></footer>
</body></html>
"""


def chrome_text(site: Site) -> str:
    """The site's chrome as a text block (what `extract="none"` keeps around the story)."""
    return "\n".join(site.chrome_texts())


def page_text(spec: PageSpec) -> str:
    """The text of a page as a scraper that keeps everything would give it: chrome around the
    story (the order of `page_html`)."""
    s = spec.site
    related, sponsored = spec.widgets()
    return "\n".join(
        [
            s.name,
            " ".join(s.nav),
            s.cookie,
            spec.title,
            spec.body,
            s.promo,
            "Sponsored Links. You May Like",
            *sponsored,
            "Related articles",
            *related,
            s.footer,
        ]
    )


# --- press releases and templated notices -------------------------------------------------------
COMPANY = "Lumen Orchard Robotics"
ABOUT = (
    f"About {COMPANY}. {COMPANY} designs autonomous harvesting machines for orchards and "
    "vineyards. Founded in Fellstone by a group of agricultural engineers, the company employs "
    "more than four hundred people across its workshops in Fellstone, Caddon and Saltcote and "
    "sells its machines to growers in nineteen countries. Its mission is to make careful, "
    "gentle picking affordable for family farms of every size."
)
DISCLAIMER = (
    "Forward-looking statements. This release contains forward-looking statements about future "
    "products, markets and results. These statements are based on current expectations and are "
    "subject to risks and uncertainties that could cause actual results to differ materially. "
    f"{COMPANY} undertakes no obligation to update any forward-looking statement after the date "
    "of this release, except as required by law. Media contact: press office, Fellstone."
)


def press_release(seed: int, words: int = 25) -> str:
    """A short release of the fictional company: its own news, then the About paragraph and the
    disclaimer every release carries."""
    return f"{story(seed, words)}\n\n{ABOUT}\n\n{DISCLAIMER}"


def public_notice(seed: int) -> str:
    """A licensing notice from a fixed template with different names, premises and dates."""
    rng = random.Random(seed)
    name, place = _name(rng), rng.choice(_PLACES)
    premises = f"The {rng.choice(_ADJS).title()} {rng.choice(_NOUNS).title()}"
    return (
        f"Public notice. Licensing Act. Notice is hereby given that {name} has applied to the "
        f"Licensing Authority of the District of {place} for the grant of a premises licence "
        f"in respect of {premises}, {rng.randint(1, 200)} {rng.choice(_LAST)} Road, {place}, to "
        f"permit the sale of alcohol and the provision of regulated entertainment. "
        "Any person wishing to make representations about this application must do so in "
        "writing to the licensing team at the civic offices no later than twenty eight days "
        "after the date on which the application was given to the authority. The register of "
        "applications may be inspected at the civic offices during normal office hours. It is "
        "an offence knowingly or recklessly to make a false statement in connection with an "
        "application and the maximum fine on summary conviction is unlimited. "
        f"Dated the {rng.randint(1, 28)}th day of {rng.choice(('March', 'April', 'May', 'June'))}."
    )


# --- WARC files -----------------------------------------------------------------------------------
def warc_bytes(
    records: list[tuple[str, str, bytes, dict[str, str]]], gzip: bool = True
) -> tuple[bytes, list[int]]:
    """A WARC file from (type, uri, payload, options) tuples; returns its bytes and the offset of
    each record. Types: "response" (payload = HTTP body; options: status, content_type,
    content_encoding, chunked), "request", "metadata", "warcinfo", "revisit", "resource"."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gzip)
    offsets = []
    for rec_type, uri, payload, opts in records:
        offsets.append(out.tell())
        if rec_type == "response":
            headers = [("Content-Type", opts.get("content_type", "text/html; charset=utf-8"))]
            body = payload
            if opts.get("content_encoding") == "gzip":
                import gzip as gz

                body = gz.compress(payload)
                headers.append(("Content-Encoding", "gzip"))
            if opts.get("chunked"):
                half = len(body) // 2
                parts = [body[:half], body[half:]]
                body = (
                    b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"
                )
                headers.append(("Transfer-Encoding", "chunked"))
            http = StatusAndHeaders(opts.get("status", "200 OK"), headers, protocol="HTTP/1.1")
            record = writer.create_warc_record(
                uri, "response", payload=io.BytesIO(body), http_headers=http
            )
        elif rec_type == "request":
            http = StatusAndHeaders(
                f"GET /{uri.split('/', 3)[-1]} HTTP/1.1", [("Host", "x")], is_http_request=True
            )
            record = writer.create_warc_record(
                uri, "request", payload=io.BytesIO(b""), http_headers=http
            )
        elif rec_type == "warcinfo":
            record = writer.create_warcinfo_record(
                "crawl.warc.gz", {"software": "fictional-crawler/1.0"}
            )
        elif rec_type == "resource":
            record = writer.create_warc_record(
                uri, "resource", payload=io.BytesIO(payload),
                warc_content_type=opts.get("content_type", "text/html"),
            )  # fmt: skip
        else:  # metadata, revisit
            record = writer.create_warc_record(
                uri, rec_type, payload=io.BytesIO(payload), warc_content_type="text/plain"
            )
        writer.write_record(record)
    return out.getvalue(), offsets


def write_pages(folder: Path, specs: list[PageSpec]) -> list[Path]:
    """Write each page as folder/<host>/<path>.html; returns the paths."""
    paths = []
    for spec in specs:
        path = folder / spec.site.host / f"{spec.path}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page_html(spec), encoding="utf-8")
        paths.append(path)
    return paths
