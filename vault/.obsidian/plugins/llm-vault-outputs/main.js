// @ts-check
/*
 * LLM Vault outputs: under each ```python block, what it printed when the runner last ran the note, and at the top
 * of the note the run's verification badge, in Reading view and in Live Preview.
 *
 * This file is the plugin's source; there is no build step. It is plain JavaScript with JSDoc types, type-checked
 * by `tsc --checkJs` against the `obsidian` package's declarations (tests/obsidian_plugin/). The runner
 * (runner/obsidian.py) writes what it shows into the vault's hidden folder `.llm-vault-outputs/`: one JSON file
 * per note (HTML already sanitised there) and figures as image files. Everything except the desktop-only
 * "Run this note" command uses the vault adapter and the DOM only, so the plugin works on Obsidian mobile too.
 *
 * One file, longer than the project's other modules, because Obsidian loads exactly one main.js: splitting it would
 * need a bundler and a check that the bundle matches its sources. Its sections, in the order data flows: reading
 * the note (fences, hashes, matching cells to the last run), rendering (DOM only), Reading view, Live Preview,
 * the store that reads the runner's files, the plugin.
 */
"use strict";

const obsidian = require("obsidian");
const { StateEffect, StateField } = require("@codemirror/state");
const { Decoration, EditorView, ViewPlugin, WidgetType } = require("@codemirror/view");

const OUTPUT_DIR = ".llm-vault-outputs";
const FORMAT = 1; // runner/obsidian.py FORMAT
// The site's allow-list (runner/outputs.py), applied again here: the HTML arrives sanitised, and is still built
// element by element, never assigned as markup.
const HTML_TAGS = new Set(["table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col", "div",
  "span", "p", "br", "b", "i", "strong", "em", "code", "pre", "sub", "sup", "ul", "ol", "li", "small", "hr"]);
const HTML_ATTRS = new Set(["class", "colspan", "rowspan", "align", "title"]);
const HTML_DROP = new Set(["script", "style", "iframe", "object", "embed", "template", "noscript", "textarea"]);

/**
 * @typedef {{kind: "stream", name: string, text: string}
 *   | {kind: "result", text: string}
 *   | {kind: "html", html: string}
 *   | {kind: "figure", src: string, mime: string}
 *   | {kind: "error", ename: string, evalue: string, text: string, line: number | null, expected: boolean}} Output
 * @typedef {{export?: boolean, skip?: string, raises?: string}} CellAttrs
 * @typedef {{line: number | null, hash: string, attrs: CellAttrs, executed: boolean, outputs: Output[]}} CellRecord
 * @typedef {{status: string, device: string, seconds: number, date: string, key: string, report: string,
 *   line: number | null}} RunRecord
 * @typedef {{format: number, note: string, command: string, companion: string | null, run: RunRecord,
 *   cells: CellRecord[]}} NoteOutputs
 * @typedef {{open: number, close: number, source: string, info: string}} Fence  a ```python fence, 0-based lines
 * @typedef {{fence: Fence, hash: string, record: CellRecord | null, stale: boolean}} CellView
 * @typedef {(src: string) => string} ResourceUrl  a figure's path under the output folder -> a URL to show it
 */

// ---- reading the note: fences, attributes, hashes (pure functions, shared with the tests)

/** @param {string} source */
function canonicalSource(source) {
  return source.replace(/\r\n?/g, "\n").split("\n").map((line) => line.trimEnd()).join("\n")
    .replace(/^\n+|\n+$/g, "");
}

/**
 * FNV-1a (32 bit) of the canonical code's UTF-8 bytes, with their count: runner/obsidian.py `source_hash`.
 * Synchronous on purpose: CodeMirror builds decorations synchronously, and crypto.subtle's digest is not.
 * @param {string} source
 */
function sourceHash(source) {
  const bytes = new TextEncoder().encode(canonicalSource(source));
  let h = 0x811c9dc5;
  for (const byte of bytes) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return `${bytes.length}-${h.toString(16).padStart(8, "0")}`;
}

/** Lines the YAML frontmatter spans (0 when there is none), as runner/index.py `split_frontmatter` counts them.
 * @param {string[]} lines */
function frontmatterLines(lines) {
  if (!lines.length || lines[0].trimEnd() !== "---") return 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trimEnd();
    if (line === "---" || line === "...") return i + 1;
  }
  return 0;
}

/** The first line of the body after the frontmatter and blank lines (0-based). @param {string[]} lines */
function firstBodyLine(lines) {
  let i = frontmatterLines(lines);
  while (i < lines.length - 1 && !lines[i].trim()) i++;
  return i;
}

/**
 * The note's top-level ```python fences, as the runner's Markdown parser finds them: a fence opened at the start of
 * a line, closed by a run of the same character at least as long; other fences are skipped whole, so a ```python
 * line inside a ````markdown example is not a cell.
 * @param {string} text
 * @returns {Fence[]}
 */
function findPythonCells(text) {
  const lines = text.split(/\r?\n/);
  /** @type {Fence[]} */
  const cells = [];
  /** @type {{line: number, char: string, len: number, info: string} | null} */
  let open = null;
  for (let i = frontmatterLines(lines); i < lines.length; i++) {
    const line = lines[i];
    const first = line.charCodeAt(0);
    if (first !== 96 && first !== 126 && first !== 32) continue; // neither ` nor ~ nor a space: no fence here
    if (open) {
      const close = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(line);
      if (close && close[1][0] === open.char && close[1].length >= open.len) {
        if (/^python(\s|$)/.test(open.info)) {
          cells.push({ open: open.line, close: i, source: lines.slice(open.line + 1, i).join("\n"), info: open.info });
        }
        open = null;
      }
      continue;
    }
    const start = /^(`{3,}|~{3,})(.*)$/.exec(line);
    if (start && !(start[1][0] === "`" && start[2].includes("`"))) {
      open = { line: i, char: start[1][0], len: start[1].length, info: start[2].trim() };
    }
  }
  return cells;
}

/**
 * A fence's attributes, the jupytext `key=value` syntax runner/index.py reads: `python export skip="why"`.
 * @param {string} info
 * @returns {CellAttrs}
 */
function fenceAttrs(info) {
  /** @type {CellAttrs} */
  const attrs = {};
  const words = info.match(/(?:[^\s"']+|"(?:[^"\\]|\\.)*"|'[^']*')+/g) || [];
  for (const word of words.slice(1)) {
    const eq = word.indexOf("=");
    const key = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? "" : word.slice(eq + 1).replace(/^"((?:[^"\\]|\\.)*)"$/, (_, s) => s.replace(/\\(.)/g, "$1"))
      .replace(/^'([^']*)'$/, "$1");
    if (key === "export") attrs.export = true;
    else if (key === "skip") attrs.skip = value || "marked not to run";
    else if (key === "raises") attrs.raises = value || "Exception";
  }
  return attrs;
}

/**
 * Pair each fence of the note as it is now with the cell of the last run: the same code at the same place, else the
 * same code elsewhere (cells moved), else the cell at its place, marked stale because its code changed since.
 * @param {NoteOutputs | null} data
 * @param {Fence[]} fences
 * @returns {CellView[]}
 */
function matchCells(data, fences) {
  const records = data ? data.cells : [];
  const used = new Set();
  /** @type {CellView[]} */
  const views = fences.map((fence) => ({ fence, hash: sourceHash(fence.source), record: null, stale: false }));
  views.forEach((view, i) => {
    if (records[i] && records[i].hash === view.hash) {
      view.record = records[i];
      used.add(i);
    }
  });
  views.forEach((view, i) => {
    if (view.record) return;
    let best = -1;
    records.forEach((r, j) => {
      if (!used.has(j) && r.hash === view.hash && (best < 0 || Math.abs(j - i) < Math.abs(best - i))) best = j;
    });
    if (best >= 0) {
      view.record = records[best];
      used.add(best);
    }
  });
  views.forEach((view, i) => {
    if (view.record) return;
    view.stale = data !== null;
    if (records[i] && !used.has(i)) {
      view.record = records[i];
      used.add(i);
    }
  });
  return views;
}

/** The command that runs a note, as the runner prints it (runner/obsidian.py `run_command`). @param {string} path */
function runCommand(path) {
  return `llm-vault run "${path}"`;
}

// ---- rendering (standard DOM only; `doc` is the document the elements go into)

/**
 * @param {Document} doc
 * @param {string} tag
 * @param {string} [cls]
 * @param {string} [text]
 * @returns {HTMLElement}
 */
function h(doc, tag, cls, text) {
  const el = doc.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * HTML output as elements: parsed inert by DOMParser (no script runs, nothing loads), then rebuilt from the
 * allow-list, so what reaches the note is only table markup and text.
 * @param {Document} doc
 * @param {string} html
 * @returns {DocumentFragment}
 */
function safeHtml(doc, html) {
  const Parser = doc.defaultView ? doc.defaultView.DOMParser : DOMParser;
  const parsed = new Parser().parseFromString(html, "text/html");
  const fragment = doc.createDocumentFragment();
  copyAllowed(doc, parsed.body, fragment);
  return fragment;
}

/** @param {Document} doc @param {Node} from @param {Node} to */
function copyAllowed(doc, from, to) {
  for (const node of Array.from(from.childNodes)) {
    if (node.nodeType === 3) {
      to.appendChild(doc.createTextNode(node.textContent || ""));
    } else if (node.nodeType === 1) {
      const el = /** @type {Element} */ (node);
      const tag = el.tagName.toLowerCase();
      if (HTML_DROP.has(tag)) continue;
      if (!HTML_TAGS.has(tag)) {
        copyAllowed(doc, el, to); // an unknown wrapper: keep its text, not the element
        continue;
      }
      const copy = doc.createElement(tag);
      for (const attr of Array.from(el.attributes)) {
        if (HTML_ATTRS.has(attr.name)) copy.setAttribute(attr.name, attr.value);
      }
      copyAllowed(doc, el, copy);
      to.appendChild(copy);
    }
  }
}

/**
 * The verification badge: `passed · cpu · 3.2 s · 2025-01-02 · a1b2c3d4`, the site's; how to run a note never run.
 * @param {Document} doc
 * @param {NoteOutputs | null} data
 * @param {string} notePath
 * @param {CellView[]} views
 * @param {boolean} canRun  whether this app has the "Run this note" command (desktop)
 */
function renderBadge(doc, data, notePath, views, canRun) {
  const box = h(doc, "div", "llm-vault-run");
  const run = data && data.run;
  const status = !run ? "not-run" : run.status === "passed" ? "passed" : "failed";
  const badge = box.appendChild(h(doc, "div", `llm-badge llm-${status}`));
  const facts = run ? [status, run.device, `${run.seconds.toFixed(1)} s`, run.date.slice(0, 10), run.key.slice(0, 8)]
    : ["not run"];
  const titles = ["verification", "device", "run time", "date of the run", "content hash of the code (cache key)"];
  facts.forEach((fact, i) => badge.appendChild(h(doc, "span", "llm-fact", fact)).setAttribute("title", titles[i]));
  if (run && (views.some((v) => v.stale) || views.length !== data.cells.length)) {
    const stale = badge.appendChild(h(doc, "span", "llm-fact llm-stale", "code changed since this run"));
    stale.setAttribute("title", "some cells' code differs from the code that ran; their outputs may be out of date");
  }
  if (!run) {
    const hint = box.appendChild(h(doc, "div", "llm-hint"));
    hint.appendChild(doc.createTextNode(canRun ? "This note has not been run yet. Run it with the command “Run this "
      + "note”, or in the project folder: " : "This note has not been run yet. In the project folder, run: "));
    hint.appendChild(h(doc, "code", "", runCommand(notePath)));
  } else if (status === "failed" && run.report) {
    const details = box.appendChild(h(doc, "details", "llm-report"));
    details.appendChild(h(doc, "summary", "", run.line ? `Why it failed (line ${run.line})` : "Why it failed"));
    details.appendChild(h(doc, "pre", "", run.report));
  }
  return box;
}

/**
 * What goes under one cell, or null when there is nothing to show (the site shows nothing either).
 * @param {Document} doc
 * @param {CellView} view
 * @param {NoteOutputs | null} data
 * @param {ResourceUrl} resourceUrl
 * @returns {HTMLElement | null}
 */
function renderCell(doc, view, data, resourceUrl) {
  const attrs = fenceAttrs(view.fence.info);
  const record = view.record;
  const box = h(doc, "div", "llm-vault-cell");
  const labels = h(doc, "div", "llm-labels");
  if (attrs.export) {
    const name = data && data.companion;
    labels.appendChild(h(doc, "span", "llm-label llm-export",
      name ? `export · part of the companion module companions/${name}.py` : "export · part of the companion module"));
  }
  if (attrs.raises) labels.appendChild(h(doc, "span", "llm-label llm-raises", `raises ${attrs.raises} (expected)`));
  if (view.stale) {
    labels.appendChild(h(doc, "span", "llm-label llm-stale", record
      ? "stale · the code changed since this output was printed; run the note again"
      : "new cell · not run yet; run the note to see its output"));
  }
  if (labels.childElementCount) box.appendChild(labels);
  if (attrs.skip !== undefined) {
    box.appendChild(h(doc, "div", "llm-skip", `Not run: ${attrs.skip}`)).setAttribute("title", "this cell is not executed");
    return box;
  }
  const outputs = record ? record.outputs : [];
  if (outputs.length) {
    const block = box.appendChild(h(doc, "div", "llm-outputs" + (view.stale ? " is-stale" : "")));
    for (const out of outputs) block.appendChild(renderOutput(doc, out, resourceUrl));
  } else if (record && !record.executed && data && data.run.status !== "passed") {
    box.appendChild(h(doc, "div", "llm-skip", "Not run: an earlier cell failed"));
  }
  return box.childElementCount ? box : null;
}

/** @param {Document} doc @param {Output} out @param {ResourceUrl} resourceUrl @returns {HTMLElement} */
function renderOutput(doc, out, resourceUrl) {
  if (out.kind === "figure") {
    const box = h(doc, "div", "llm-out llm-figure");
    const img = box.appendChild(/** @type {HTMLImageElement} */ (h(doc, "img")));
    img.alt = "figure";
    img.src = resourceUrl(out.src);
    return box;
  }
  if (out.kind === "html") {
    const box = h(doc, "div", "llm-out llm-html");
    box.appendChild(safeHtml(doc, out.html));
    return box;
  }
  if (out.kind === "error") {
    const box = h(doc, "div", "llm-out llm-error" + (out.expected ? " is-expected" : ""));
    const where = out.line ? ` at line ${out.line}` : "";
    box.appendChild(h(doc, "div", "llm-error-title",
      `${out.ename}${where}${out.expected ? " — raised on purpose, as the fence says" : ""}`));
    box.appendChild(pre(doc, "llm-error-trace", out.text));
    return box;
  }
  const kind = out.kind === "stream" ? (out.name === "stderr" ? "stderr" : "stdout") : "result";
  return pre(doc, `llm-out llm-${kind}`, out.text);
}

/** @param {Document} doc @param {string} cls @param {string} text */
function pre(doc, cls, text) {
  const el = h(doc, "pre", cls);
  el.appendChild(h(doc, "code", "", text.replace(/\n+$/, "")));
  return el;
}

/**
 * Reading view: add the badge and the outputs to one rendered section of the note (`el`, lines `lineStart`..
 * `lineEnd` of `text`, from MarkdownPostProcessorContext.getSectionInfo).
 * @param {HTMLElement} el
 * @param {{text: string, lineStart: number, lineEnd: number}} info
 * @param {string} notePath
 * @param {NoteOutputs | null} data
 * @param {ResourceUrl} resourceUrl
 * @param {boolean} canRun
 */
function decorateSection(el, info, notePath, data, resourceUrl, canRun) {
  const doc = el.ownerDocument;
  const views = cellViews(info.text, data);
  const top = firstBodyLine(info.text.split(/\r?\n/));
  if (views.length && info.lineStart <= top && top <= info.lineEnd && !el.querySelector(".llm-vault-run")) {
    const badge = renderBadge(doc, data, notePath, views, canRun);
    const title = el.querySelector("h1");
    if (title) title.after(badge);
    else el.prepend(badge);
  }
  const here = views.filter((v) => v.fence.open >= info.lineStart && v.fence.close <= info.lineEnd);
  const blocks = Array.from(el.querySelectorAll("pre")).filter((p) => !p.closest(".llm-vault-cell, .llm-vault-run")
    && p.querySelector(":scope > code[class*='language-python']"));
  here.forEach((view, i) => {
    const block = blocks[i];
    const rendered = block && renderCell(doc, view, data, resourceUrl);
    if (block && rendered) (block.parentElement && block.parentElement !== el ? block.parentElement : block).after(rendered);
  });
}

/** @type {{text: string, data: NoteOutputs | null, views: CellView[]} | null} */
let lastViews = null;

/** matchCells of the note's text, kept for the next call: Obsidian asks once per section, with the same text.
 * @param {string} text @param {NoteOutputs | null} data */
function cellViews(text, data) {
  if (!lastViews || lastViews.text !== text || lastViews.data !== data) {
    lastViews = { text, data, views: matchCells(data, findPythonCells(text)) };
  }
  return lastViews.views;
}

// ---- Live Preview: CodeMirror 6 block widgets

/** Dispatched to an editor when the outputs of a note were (re)loaded; the value is the note's path.
 * @type {import("@codemirror/state").StateEffectType<string>} */
const outputsChanged = StateEffect.define();

class RenderedWidget extends WidgetType {
  /** @param {string} key @param {(doc: Document) => HTMLElement | null} build */
  constructor(key, build) {
    super();
    this.key = key;
    this.build = build;
  }

  /** @param {WidgetType} other */
  eq(other) {
    return other instanceof RenderedWidget && other.key === this.key;
  }

  /** @param {EditorView} view */
  toDOM(view) {
    const doc = view.dom.ownerDocument;
    return this.build(doc) || h(doc, "div");
  }
}

/**
 * @typedef {{peek(path: string): NoteOutputs | null | undefined, version(path: string): number,
 *   request(path: string): void, resourceUrl: ResourceUrl, canRun: boolean}} OutputSource
 */

/**
 * The decorations of one editor: the badge at the top, the outputs under each cell, in Live Preview only.
 * @param {import("@codemirror/state").EditorState} state
 * @param {OutputSource} source
 */
function buildDecorations(state, source) {
  const info = state.field(obsidian.editorInfoField, false);
  const path = info && info.file ? info.file.path : null;
  if (!path || !path.endsWith(".md") || !state.field(obsidian.editorLivePreviewField, false)) return Decoration.none;
  const data = source.peek(path);
  if (data === undefined) {
    source.request(path); // loads, then dispatches outputsChanged
    return Decoration.none;
  }
  const text = state.doc.toString();
  const views = matchCells(data, findPythonCells(text));
  if (!views.length) return Decoration.none; // a note without code: no badge, as on the site
  const version = source.version(path);
  const ranges = [];
  const lines = text.split(/\r?\n/);
  const top = firstBodyLine(lines);
  const afterTitle = /^# /.test(lines[top] || "");
  const topLine = state.doc.line(top + 1);
  ranges.push(Decoration.widget({
    widget: new RenderedWidget(`badge:${version}:${views.map((v) => v.stale ? 1 : 0).join("")}:${views.length}`,
      (doc) => renderBadge(doc, data, path, views, source.canRun)),
    block: true, side: afterTitle ? 1 : -1,
  }).range(afterTitle ? topLine.to : topLine.from));
  views.forEach((view, i) => {
    const end = state.doc.line(view.fence.close + 1).to;
    ranges.push(Decoration.widget({
      widget: new RenderedWidget(`cell:${version}:${i}:${view.hash}:${view.stale}:${view.fence.info}`,
        (doc) => renderCell(doc, view, data, source.resourceUrl)),
      block: true, side: 1,
    }).range(end));
  });
  return Decoration.set(ranges, true);
}

/** Block widgets must come from a state field (CodeMirror refuses them from view plugins). @param {OutputSource} source */
function outputsField(source) {
  return StateField.define({
    create: (state) => buildDecorations(state, source),
    update(decorations, tr) {
      const modeChanged = tr.startState.field(obsidian.editorLivePreviewField, false)
        !== tr.state.field(obsidian.editorLivePreviewField, false);
      if (tr.docChanged || modeChanged || tr.effects.some((e) => e.is(outputsChanged))) {
        return buildDecorations(tr.state, source);
      }
      return decorations;
    },
    provide: (field) => EditorView.decorations.from(field),
  });
}

// ---- the plugin

/** The outputs the runner wrote, read through the vault adapter (desktop and mobile), cached per note. */
class OutputStore {
  /**
   * @param {obsidian.DataAdapter} adapter
   * @param {(path: string, reloaded: boolean) => void} changed  called once a note's file is read: the first time,
   *   or again after a run (`reloaded`)
   */
  constructor(adapter, changed) {
    this.adapter = adapter;
    this.changed = changed;
    /** @type {Map<string, {data: NoteOutputs | null, mtime: number, version: number}>} */
    this.loaded = new Map();
    /** @type {Map<string, Promise<NoteOutputs | null>>} */
    this.pending = new Map();
  }

  /** @param {string} notePath */
  fileOf(notePath) {
    return obsidian.normalizePath(`${OUTPUT_DIR}/notes/${notePath}.json`);
  }

  /** @param {string} src */
  resourceUrl(src) {
    return this.adapter.getResourcePath(obsidian.normalizePath(`${OUTPUT_DIR}/${src}`));
  }

  /** undefined: not loaded yet; null: the runner wrote nothing for this note. @param {string} notePath */
  peek(notePath) {
    const entry = this.loaded.get(notePath);
    return entry ? entry.data : undefined;
  }

  /** @param {string} notePath */
  version(notePath) {
    const entry = this.loaded.get(notePath);
    return entry ? entry.version : 0;
  }

  /** @param {string} notePath @param {boolean} [force] @returns {Promise<NoteOutputs | null>} */
  get(notePath, force = false) {
    const waiting = this.pending.get(notePath); // a reload under way: its data, not the old
    if (waiting) return waiting;
    const entry = this.loaded.get(notePath);
    if (entry && !force) return Promise.resolve(entry.data);
    const loading = this.read(notePath).then(({ data, mtime }) => {
      const before = this.loaded.get(notePath);
      this.loaded.set(notePath, { data, mtime, version: (before ? before.version : 0) + 1 });
      this.pending.delete(notePath);
      this.changed(notePath, before !== undefined);
      return data;
    });
    this.pending.set(notePath, loading);
    return loading;
  }

  /** Reload when the runner wrote the note's file again (a run from a terminal). @param {string} notePath */
  async revalidate(notePath) {
    const entry = this.loaded.get(notePath);
    if (!entry || this.pending.has(notePath)) return;
    try {
      const stat = await this.adapter.stat(this.fileOf(notePath));
      if ((stat ? stat.mtime : 0) !== entry.mtime) await this.get(notePath, true);
    } catch (err) {
      console.warn(`llm-vault-outputs: cannot check ${this.fileOf(notePath)}`, err);
    }
  }

  /** @param {string} notePath @returns {Promise<{data: NoteOutputs | null, mtime: number}>} */
  async read(notePath) {
    const file = this.fileOf(notePath);
    try {
      const stat = await this.adapter.stat(file);
      if (!stat) return { data: null, mtime: 0 };
      const data = JSON.parse(await this.adapter.read(file));
      if (!data || data.format !== FORMAT) {
        console.warn(`llm-vault-outputs: ${file} has format ${data && data.format}, expected ${FORMAT}; run the note again`);
        return { data: null, mtime: stat.mtime };
      }
      return { data, mtime: stat.mtime };
    } catch (err) {
      console.warn(`llm-vault-outputs: cannot read ${file}`, err);
      return { data: null, mtime: 0 };
    }
  }
}

/** @typedef {{runner: string, hideCompanions: boolean}} Settings */
/** @type {Settings} */
const DEFAULT_SETTINGS = { runner: "llm-vault", hideCompanions: true };

class LlmVaultOutputsPlugin extends obsidian.Plugin {
  /** @type {Settings} */
  settings = Object.assign({}, DEFAULT_SETTINGS);
  /** @type {Set<EditorView>} the open editors, to tell them when outputs change */
  editors = new Set();
  /** @type {Set<string>} notes being run */
  running = new Set();
  store = new OutputStore(this.app.vault.adapter, (path, reloaded) => this.refresh(path, reloaded));

  async onload() {
    Object.assign(this.settings, await this.loadData());
    const store = this.store;
    const canRun = obsidian.Platform.isDesktopApp;

    this.registerMarkdownPostProcessor(async (el, ctx) => {
      const data = await store.get(ctx.sourcePath);
      const info = ctx.getSectionInfo(el); // after the await: the section as it is now
      if (info) decorateSection(el, info, ctx.sourcePath, data, (src) => store.resourceUrl(src), canRun);
    });

    const editors = this.editors;
    this.registerEditorExtension([
      outputsField({
        peek: (path) => store.peek(path),
        version: (path) => store.version(path),
        request: (path) => { store.get(path); },
        resourceUrl: (src) => store.resourceUrl(src),
        canRun,
      }),
      ViewPlugin.define((view) => {
        editors.add(view);
        return { destroy: () => { editors.delete(view); } };
      }),
    ]);

    this.registerEvent(this.app.workspace.on("file-open", (file) => {
      if (file) store.revalidate(file.path);
    }));
    // Reading view redraws only the sections that changed; the badge's "code changed" needs the whole note
    this.registerEvent(this.app.vault.on("modify", (file) => {
      if (file instanceof obsidian.TFile && store.peek(file.path)) this.redrawReadingViews(file.path);
    }));
    // a run from a terminal (`llm-vault run`, `build`) rewrites the files: open notes pick it up within seconds
    this.registerInterval(window.setInterval(() => {
      for (const leaf of this.app.workspace.getLeavesOfType("markdown")) {
        const view = leaf.view;
        if (view instanceof obsidian.MarkdownView && view.file) store.revalidate(view.file.path);
      }
    }, 5000));
    document.body.toggleClass("llm-vault-hide-companions", this.settings.hideCompanions);

    if (canRun) {
      this.addCommand({
        id: "run-note",
        name: "Run this note",
        checkCallback: (checking) => {
          const file = this.app.workspace.getActiveFile();
          if (!file || file.extension !== "md") return false;
          if (!checking) this.runNote(file);
          return true;
        },
      });
      this.addRibbonIcon("play", "Run this note", () => {
        const file = this.app.workspace.getActiveFile();
        if (file && file.extension === "md") this.runNote(file);
        else new obsidian.Notice("Open a note first, then run it.");
      });
    }
    this.addSettingTab(new LlmVaultSettingTab(this.app, this));
  }

  onunload() {
    document.body.removeClass("llm-vault-hide-companions");
  }

  /**
   * Show the note's outputs in every open view of it: editors wait for the first read, Reading view awaits it in
   * the post-processor and needs drawing again only after a run.
   * @param {string} path @param {boolean} reloaded
   */
  refresh(path, reloaded) {
    for (const view of this.editors) view.dispatch({ effects: outputsChanged.of(path) });
    if (reloaded) this.redrawReadingViews(path);
  }

  /** @param {string} path */
  redrawReadingViews(path) {
    for (const leaf of this.app.workspace.getLeavesOfType("markdown")) {
      const view = leaf.view;
      if (view instanceof obsidian.MarkdownView && view.file && view.file.path === path && view.getMode() === "preview") {
        view.previewMode.rerender(true);
      }
    }
  }

  /**
   * `llm-vault --vault <vault> run "<note>"` in the project (the vault's parent folder); desktop only, and the
   * only place Node's modules are loaded, so the plugin still loads on mobile.
   * @param {obsidian.TFile} file
   */
  runNote(file) {
    const adapter = this.app.vault.adapter;
    if (!obsidian.Platform.isDesktopApp || !(adapter instanceof obsidian.FileSystemAdapter)) {
      new obsidian.Notice("Running notes needs Obsidian on a desktop computer.");
      return;
    }
    if (this.running.has(file.path)) {
      new obsidian.Notice(`${file.basename} is already running.`);
      return;
    }
    const childProcess = require("child_process");
    const nodePath = require("path");
    const vaultDir = adapter.getBasePath();
    const project = nodePath.dirname(vaultDir);
    // Obsidian started from a desktop launcher has a short PATH: add the usual places a pip install puts scripts
    const bins = [nodePath.join(project, ".venv", "bin"), nodePath.join(project, ".venv", "Scripts"),
      nodePath.join(require("os").homedir(), ".local", "bin"), "/opt/homebrew/bin", "/usr/local/bin"];
    const env = Object.assign({}, process.env, { PATH: [process.env.PATH || "", ...bins].join(nodePath.delimiter) });
    const started = Date.now();
    const notice = new obsidian.Notice(`Running ${file.basename}…`, 0);
    const tail = /** @type {string[]} */ ([]);
    this.running.add(file.path);
    const child = childProcess.spawn(this.settings.runner, ["--vault", vaultDir, "run", file.path, "--jobs", "1"],
      { cwd: project, env });
    const tick = window.setInterval(() => notice.setMessage(
      `Running ${file.basename}… ${Math.round((Date.now() - started) / 1000)} s\n${tail.slice(-1)[0] || ""}`), 1000);
    child.stderr.on("data", (chunk) => {
      tail.push(...String(chunk).split("\n").filter((l) => l.trim()));
      tail.splice(0, Math.max(0, tail.length - 20));
    });
    child.stdout.on("data", () => {}); // the final table: the badge shows the same
    let finished = false;
    /** @param {string} message @param {number} [ms] */
    const finish = (message, ms = 8000) => {
      if (finished) return; // a runner that cannot start reports both 'error' and 'close'
      finished = true;
      window.clearInterval(tick);
      this.running.delete(file.path);
      notice.hide();
      new obsidian.Notice(message, ms);
    };
    child.on("error", (/** @type {NodeJS.ErrnoException} */ err) => {
      finish(err.code === "ENOENT"
        ? `The runner “${this.settings.runner}” is not installed (or not on the PATH). In the project folder `
          + `${project}, run: pip install -e .  — or set the runner's full path in this plugin's settings.`
        : `Could not start the runner: ${err.message}`, 0);
    });
    child.on("close", (code) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      finish(code === 0 ? `${file.basename}: passed (${seconds} s)`
        : code === 1 ? `${file.basename}: failed. The badge at the top of the note says why.`
          : `${file.basename}: the runner stopped (exit ${code}):\n${tail.slice(-5).join("\n")}`, code === 0 ? 5000 : 0);
      this.store.get(file.path, true);
    });
  }
}

class LlmVaultSettingTab extends obsidian.PluginSettingTab {
  /** @param {obsidian.App} app @param {LlmVaultOutputsPlugin} plugin */
  constructor(app, plugin) {
    super(app, plugin);
    this.plugin = plugin;
  }

  display() {
    const { containerEl } = this;
    const plugin = this.plugin;
    containerEl.empty();
    if (obsidian.Platform.isDesktopApp) {
      new obsidian.Setting(containerEl)
        .setName("Runner")
        .setDesc("The llm-vault command “Run this note” starts: a name on the PATH or a full path.")
        .addText((text) => text.setValue(plugin.settings.runner).onChange(async (value) => {
          plugin.settings.runner = value.trim() || DEFAULT_SETTINGS.runner;
          await plugin.saveData(plugin.settings);
        }));
    }
    new obsidian.Setting(containerEl)
      .setName("Hide companions/ in the file explorer")
      .setDesc("The generated Python modules; they are also excluded from search and the graph.")
      .addToggle((toggle) => toggle.setValue(plugin.settings.hideCompanions).onChange(async (value) => {
        plugin.settings.hideCompanions = value;
        document.body.toggleClass("llm-vault-hide-companions", value);
        await plugin.saveData(plugin.settings);
      }));
  }
}

module.exports = {
  default: LlmVaultOutputsPlugin,
  // for the tests (tests/obsidian_plugin/), which run them in jsdom on what the runner wrote
  OUTPUT_DIR, FORMAT, canonicalSource, sourceHash, findPythonCells, fenceAttrs, matchCells, runCommand, safeHtml,
  renderBadge, renderCell, decorateSection, buildDecorations, outputsField, outputsChanged, OutputStore,
};
