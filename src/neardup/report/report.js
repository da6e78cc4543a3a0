"use strict";
(function () {
  const SUMMARY = JSON.parse(document.getElementById("nd-summary").textContent);
  const INDEX = JSON.parse(document.getElementById("nd-index").textContent);
  const PAGE = 50;
  const chunkCache = new Map();
  const chunkWaiters = new Map();
  let page = 0;
  let filtered = INDEX;
  let openCluster = null;

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  };
  const fmt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
  const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%");
  const BOILERPLATE = "boilerplate: recurs around unrelated stories on this site";

  // --- summary -----------------------------------------------------------------------------
  function renderSummary() {
    const c = SUMMARY.counts;
    const cards = el("div", { class: "cards" });
    const items = [
      ["documents", c.documents],
      ["clusters", c.clusters],
      ["duplicates removed", c.duplicates_removed],
      ["documents kept", c.documents_kept],
      ["pairs", c.pairs],
      ["exact duplicates", c.exact_duplicates],
      ["skipped", c.skipped],
    ];
    for (const [k, v] of items) cards.append(el("div", { class: "card" }, el("div", { class: "v", text: fmt(v) }), el("div", { class: "k", text: k })));
    const settings = el("table");
    for (const [k, v] of Object.entries(SUMMARY.settings)) settings.append(el("tr", {}, el("td", { text: k }), el("td", { text: JSON.stringify(v) })));
    const det = el("details", { class: "settings" }, el("summary", { text: "settings of the run, inputs and timings" }), settings);
    det.append(el("p", { class: "note", text: "inputs: " + SUMMARY.inputs.join(", ") }));
    det.append(el("p", { class: "note", text: "timings (s): " + Object.entries(SUMMARY.timings).map(([k, v]) => k + " " + v).join(", ") }));
    $("summary").append(el("h2", { text: "Summary" }), cards, det);
    $("run-line").textContent = SUMMARY.command || "neardup find " + SUMMARY.inputs.join(" ");
  }

  // --- list --------------------------------------------------------------------------------
  function haystack(row) {
    if (row._h === undefined) row._h = [row.o, row.t, ...row.src, ...row.ids].join("\n").toLowerCase();
    return row._h;
  }

  function applyFilters() {
    const q = $("search").value.trim().toLowerCase();
    const minSize = Number($("min-size").value) || 0;
    const minSim = Number($("min-sim").value) || 0;
    const source = $("source").value;
    const terms = q ? q.split(/\s+/) : [];
    filtered = INDEX.filter(
      (r) =>
        r.n >= minSize &&
        (r.sim === null || r.sim >= minSim) &&
        (!source || r.src.includes(source)) &&
        terms.every((t) => haystack(r).includes(t))
    );
    page = 0;
    renderList();
  }

  function renderList() {
    const body = $("clusters");
    body.replaceChildren();
    const start = page * PAGE;
    for (const r of filtered.slice(start, start + PAGE)) {
      const tr = el(
        "tr",
        { "data-cluster": String(r.c), class: openCluster === r.c ? "open" : "" },
        el("td", { text: String(r.c) }),
        el("td", { text: String(r.n) }),
        el("td", {}, el("div", { text: r.t || r.o }), el("div", { class: "oid", text: r.o })),
        el("td", { text: r.src.slice(0, 4).join(", ") + (r.src.length > 4 ? ", +" + (r.src.length - 4) : "") }),
        el("td", { text: r.sim === null ? "–" : r.sim.toFixed(2) + (r.lo !== null && r.lo < r.sim ? " (min " + r.lo.toFixed(2) + ")" : "") })
      );
      tr.addEventListener("click", () => showCluster(r));
      body.append(tr);
    }
    const total = filtered.length;
    $("list-count").textContent = total === INDEX.length ? `(${fmt(total)})` : `(${fmt(total)} of ${fmt(INDEX.length)})`;
    $("page-info").textContent = total ? `${fmt(start + 1)}–${fmt(Math.min(start + PAGE, total))} of ${fmt(total)}` : "no cluster matches";
    $("prev").disabled = page === 0;
    $("next").disabled = start + PAGE >= total;
  }

  // --- cluster data (inline chunks, or sidecar files loaded with a script tag) ---------------
  window.neardupChunk = function (n, data) {
    chunkCache.set(n, data);
    const waiters = chunkWaiters.get(n) || [];
    chunkWaiters.delete(n);
    for (const w of waiters) w.resolve(data);
  };

  function getChunk(n) {
    if (chunkCache.has(n)) return Promise.resolve(chunkCache.get(n));
    const inline = document.querySelector(`script.nd-chunk[data-chunk="${n}"]`);
    if (inline) {
      const data = JSON.parse(inline.textContent);
      chunkCache.set(n, data);
      return Promise.resolve(data);
    }
    return new Promise((resolve, reject) => {
      const first = !chunkWaiters.has(n);
      if (first) chunkWaiters.set(n, []);
      chunkWaiters.get(n).push({ resolve, reject });
      if (!first) return;
      const s = document.createElement("script");
      s.src = "report-data/chunk-" + String(n).padStart(4, "0") + ".js";
      s.onerror = () => {
        const waiters = chunkWaiters.get(n) || [];
        chunkWaiters.delete(n);
        for (const w of waiters) w.reject(new Error("cannot load " + s.src + " (keep the report-data folder next to report.html)"));
      };
      document.head.append(s);
    });
  }

  async function showCluster(r) {
    openCluster = r.c;
    for (const tr of $("clusters").querySelectorAll("tr")) tr.classList.toggle("open", tr.dataset.cluster === String(r.c));
    const box = $("detail");
    box.hidden = false;
    box.replaceChildren(el("h2", { text: `Cluster ${r.c}: ${r.n} documents` }), el("p", { class: "note", text: "loading…" }));
    if (r.k === null || r.k === undefined) {
      box.replaceChildren(el("h2", { text: `Cluster ${r.c}: ${r.n} documents` }), el("p", { class: "note", text: "Texts of this cluster are not in the report (size limit); see alignments.jsonl or run `neardup compare`." }));
      return;
    }
    let data;
    try {
      data = (await getChunk(r.k))[String(r.c)];
    } catch (e) {
      box.replaceChildren(el("p", { class: "note", text: String(e.message) }));
      return;
    }
    renderCluster(r, data);
    box.scrollIntoView({ block: "start" });
  }

  function renderCluster(r, data) {
    const box = $("detail");
    const table = el("table", { class: "members" });
    const anyBoilerplate = data.members.some((m) => m.bp !== undefined);
    const heads = ["", "id", "source", "published", "title", "Jaccard", "aligned"];
    if (anyBoilerplate) heads.push("boilerplate");
    table.append(el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { text: h })))));
    const body = el("tbody");
    const original = data.members.find((m) => m.original);
    let firstCopy = null;
    for (const m of data.members) {
      const tr = el(
        "tr",
        { "data-member": m.id },
        el("td", {}, m.original ? el("span", { class: "badge", text: "original" }) : ""),
        el("td", { text: m.id }),
        el("td", { text: m.source || "" }),
        el("td", { text: m.published || "" }),
        el("td", { text: m.title || "" }),
        el("td", { text: m.jaccard === null || m.jaccard === undefined ? "" : m.jaccard.toFixed(2) }),
        el("td", { text: m.aligned === undefined ? "" : pct(m.aligned) })
      );
      if (anyBoilerplate) tr.append(el("td", { class: "bp-share", text: m.bp === undefined ? "" : pct(m.bp) }));
      if (!m.original && data.al[m.id]) {
        if (!firstCopy) firstCopy = m;
        tr.addEventListener("click", () => showPair(data, original, m));
      }
      body.append(tr);
    }
    table.append(body);
    box.replaceChildren(
      el("h2", { text: `Cluster ${r.c}: ${r.n} documents, original ${r.o}` }),
      el("p", {
        class: "note",
        text:
          `original chosen by rule "${r.rule}". Click a copy to compare it with the original.` +
          (anyBoilerplate ? " Grey hatched text is boilerplate (site chrome, an About paragraph, template wording: text that recurs around unrelated stories); it did not count toward similarity and is not copied text." : ""),
      }),
      table,
      el("div", { id: "pair" })
    );
    if (firstCopy) showPair(data, original, firstCopy);
  }

  // --- side by side --------------------------------------------------------------------------
  function marked(text, marks) {
    // marks: [start, end, className, title]; nested marks are fine, the innermost wins visually
    const points = new Set([0, text.length]);
    for (const m of marks) {
      points.add(m[0]);
      points.add(m[1]);
    }
    const cuts = [...points].sort((a, b) => a - b);
    const starts = new Map();
    const ends = new Map();
    marks.forEach((m, i) => {
      if (!starts.has(m[0])) starts.set(m[0], []);
      starts.get(m[0]).push(i);
      if (!ends.has(m[1])) ends.set(m[1], []);
      ends.get(m[1]).push(i);
    });
    const active = new Set();
    const frag = document.createDocumentFragment();
    for (let k = 0; k + 1 < cuts.length; k++) {
      const x = cuts[k];
      for (const i of ends.get(x) || []) active.delete(i);
      for (const i of starts.get(x) || []) active.add(i);
      const y = cuts[k + 1];
      if (y <= x) continue;
      const piece = text.slice(x, y);
      if (active.size === 0) {
        frag.append(piece);
        continue;
      }
      const classes = new Set();
      let title = "";
      for (const i of active) {
        classes.add(marks[i][2]);
        if (marks[i][3] && marks[i][2] !== "bp") title = marks[i][3];
      }
      // boilerplate says so first, then what the alignment found there
      if (classes.has("bp")) title = BOILERPLATE + (title ? " (" + title + ")" : "");
      const span = el("span", { class: [...classes].join(" ") });
      if (title) span.title = title;
      span.textContent = piece;
      frag.append(span);
    }
    return frag;
  }

  function showPair(data, original, member) {
    for (const tr of $("detail").querySelectorAll("table.members tbody tr")) tr.classList.toggle("sel", tr.dataset.member === member.id);
    const al = data.al[member.id];
    const a = data.texts[original.id];
    const b = data.texts[member.id];
    const marksA = [];
    const marksB = [];
    for (const p of al.p) {
      marksA.push([p[0], p[1], "shared", "shared passage, similarity " + p[4]]);
      marksB.push([p[2], p[3], "shared", "shared passage, similarity " + p[4]]);
    }
    for (const s of al.r) marksA.push([s[0], s[1], "del", s[2] < 0 ? "removed in the copy" : "removed inside a shared passage"]);
    for (const s of al.i) marksB.push([s[0], s[1], "ins", s[2] < 0 ? "inserted in the copy" : "inserted inside a shared passage"]);
    for (const s of al.s) {
      const cls = s[4] === 0 ? "sub" : "word";
      marksA.push([s[0], s[1], cls, "copy has: " + b.slice(s[2], s[3])]);
      marksB.push([s[2], s[3], cls, "original has: " + a.slice(s[0], s[1])]);
    }
    // boilerplate (al.bp: spans of the original and of the copy; a last 0/1 on each part):
    // its spans, and the whole of every part that is mostly boilerplate
    const bp = al.bp;
    let bpNote = "";
    if (bp) {
      for (const s of bp[0]) marksA.push([s[0], s[1], "bp", BOILERPLATE]);
      for (const s of bp[1]) marksB.push([s[0], s[1], "bp", BOILERPLATE]);
      for (const p of al.p) {
        if (p[5]) {
          marksA.push([p[0], p[1], "bp", BOILERPLATE]);
          marksB.push([p[2], p[3], "bp", BOILERPLATE]);
        }
      }
      for (const s of al.r) if (s[3]) marksA.push([s[0], s[1], "bp", BOILERPLATE]);
      for (const s of al.i) if (s[3]) marksB.push([s[0], s[1], "bp", BOILERPLATE]);
      const chars = (spans) => spans.reduce((n, s) => n + s[1] - s[0], 0);
      const count = (parts, k) => parts.filter((x) => x[k]).length;
      bpNote =
        ` Boilerplate: ${count(al.p, 5)} of the passages, ${count(al.i, 3)} of the insertions and ${count(al.r, 3)} of the removals; ` +
        `${pct(a.length ? chars(bp[0]) / a.length : 0)} of the original and ${pct(b.length ? chars(bp[1]) / b.length : 0)} of the copy (grey hatched; not counted as copied text).`;
    }
    const sc = al.sc;
    const legend = el(
      "div",
      { class: "legend" },
      el("span", { class: "shared", text: "shared passage" }),
      el("span", { class: "ins", text: "inserted in the copy" }),
      el("span", { class: "del", text: "removed from the original" }),
      el("span", { class: "sub", text: "same words, other style" }),
      el("span", { class: "word", text: "other words" })
    );
    if (bp) legend.append(el("span", { class: "bp", text: "boilerplate, not counted", title: BOILERPLATE }));
    const stats = el("p", {
      class: "note",
      text: `${al.p.length} shared passage(s), ${al.i.length} insertion(s), ${al.r.length} removal(s), ${al.s.length} substitution(s); ` +
        `${pct(sc.aligned_a)} of the original and ${pct(sc.aligned_b)} of the copy are in shared passages, similarity inside them ${pct(sc.passage_similarity)}.` +
        bpNote,
    });
    const left = el("div", { class: "side", id: "side-original" }, el("h3", { text: "original: " + original.id }), el("div", { class: "text" }, marked(a, marksA)));
    const right = el("div", { class: "side", id: "side-copy" }, el("h3", { text: "copy: " + member.id }), el("div", { class: "text" }, marked(b, marksB)));
    $("pair").replaceChildren(el("h2", { text: `${member.id} against the original ${original.id}` }), legend, stats, el("div", { class: "sides" }, left, right));
  }

  // --- start -----------------------------------------------------------------------------------
  renderSummary();
  const sources = [...new Set(INDEX.flatMap((r) => r.src))].sort();
  for (const s of sources) $("source").append(el("option", { value: s, text: s }));
  for (const id of ["search", "min-size", "min-sim", "source"]) $(id).addEventListener("input", applyFilters);
  $("prev").addEventListener("click", () => {
    page = Math.max(0, page - 1);
    renderList();
  });
  $("next").addEventListener("click", () => {
    page += 1;
    renderList();
  });
  renderList();
  document.body.dataset.ready = "1";
})();
