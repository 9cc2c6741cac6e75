// The plugin on real outputs: tests/test_obsidian_plugin.py runs a small vault through the runner, edits one cell,
// and points LLM_VAULT_TEST_VAULT at it; here the files the runner wrote are rendered the way Obsidian would ask
// for them (Reading view sections, a Live Preview editor) and the test reads what a reader would see.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { EditorState } = require("@codemirror/state");
const { plugin, host, globalDocument, newDocument, reader, resourceUrl } = require("./harness");

const VAULT = process.env.LLM_VAULT_TEST_VAULT || "";
const { note, readingView, livePreview } = reader(VAULT);
const skip = VAULT ? false : "set LLM_VAULT_TEST_VAULT (tests/test_obsidian_plugin.py does, after running a vault)";

/** The block under the n-th code block (null when the plugin added nothing). @param {Element} root @param {number} n */
function under(root, n) {
  const next = root.querySelectorAll("div.el-pre")[n].querySelector("pre + .llm-vault-cell");
  return next;
}

/** @param {Element | null} el */
const text = (el) => (el ? el.textContent || "" : "");

test("Reading view: text, stderr, table, figure, expected error, skip, export, stale, badge", { skip }, () => {
  const doc = newDocument();
  const root = readingView(doc, "Demo.md");
  const { data, lines } = note("Demo.md");

  const badge = root.querySelector(".llm-vault-run .llm-badge");
  assert.ok(badge && badge.classList.contains("llm-passed"));
  const facts = Array.from(badge.querySelectorAll(".llm-fact")).map((f) => f.textContent);
  assert.deepEqual(facts.slice(0, 5), ["passed", data.run.device, `${data.run.seconds.toFixed(1)} s`,
    data.run.date.slice(0, 10), data.run.key.slice(0, 8)]);
  assert.equal(facts[5], "code changed since this run"); // the test edited the last cell after the run
  assert.equal(root.querySelector("h1 + .llm-vault-run") !== null, true, "the badge sits under the title");

  assert.match(text(under(root, 0).querySelector(".llm-export")), /companions\/demo_mod\.py/);
  assert.equal(under(root, 0).querySelector(".llm-outputs"), null);
  assert.equal(text(under(root, 1).querySelector("pre.llm-stdout")), "doubled: 42");
  assert.equal(text(under(root, 1).querySelector("pre.llm-stderr")), "careful");

  const table = under(root, 2).querySelector(".llm-html table");
  assert.ok(table, "the HTML output is a table");
  assert.deepEqual(Array.from(table.querySelectorAll("th, td")).map((c) => c.textContent), ["name", "value", "answer", "42 & more"]);
  assert.equal(table.getAttribute("onclick"), null);
  assert.equal(root.querySelector("script"), null);

  const img = /** @type {HTMLImageElement} */ (under(root, 3).querySelector(".llm-figure img"));
  const src = data.cells[3].outputs[0].src;
  assert.equal(img.getAttribute("src"), resourceUrl(src));
  assert.ok(fs.statSync(path.join(VAULT, plugin.OUTPUT_DIR, src)).size > 100, "the figure file is there");

  const raises = under(root, 4);
  assert.equal(text(raises.querySelector(".llm-raises")), "raises KeyError (expected)");
  const line = lines.findIndex((l) => l.includes('{}["missing"]')) + 1;
  assert.match(text(raises.querySelector(".llm-error-title")), new RegExp(`^KeyError at line ${line} `));
  assert.match(text(raises.querySelector(".llm-error-trace")), new RegExp(`Demo\\.md:${line}\\b`));

  assert.equal(text(under(root, 5)), "Not run: needs 8 GPUs");

  const stale = under(root, 6);
  assert.match(text(stale.querySelector(".llm-stale")), /^stale · the code changed/);
  assert.equal(text(stale.querySelector("pre.llm-stdout")), "before the edit"); // the old output, marked stale
  assert.ok(stale.querySelector(".llm-outputs.is-stale"));
  assert.equal(root.querySelectorAll(".llm-stale").length, 2, "only the edited cell (and the badge) say stale");
});

test("Reading view: a failed note shows why, at the note's line, and which cells never ran", { skip }, () => {
  const doc = newDocument();
  const root = readingView(doc, "Broken.md");
  const { lines } = note("Broken.md");
  const line = lines.findIndex((l) => l.includes("y = x / 0")) + 1;
  assert.ok(root.querySelector(".llm-badge.llm-failed"));
  assert.equal(text(root.querySelector(".llm-report summary")), `Why it failed (line ${line})`);
  assert.match(text(root.querySelector(".llm-report pre")), new RegExp(`^Broken\\.md:${line}: ZeroDivisionError`));
  assert.equal(text(under(root, 0).querySelector("pre.llm-stdout")), "first cell ran");
  assert.equal(text(under(root, 1).querySelector(".llm-error-title")), `ZeroDivisionError at line ${line}`);
  assert.equal(text(under(root, 2)), "Not run: an earlier cell failed");
  assert.equal(root.querySelector(".llm-stale"), null);
});

test("Reading view: a note never run says how to run it", { skip }, () => {
  const root = readingView(newDocument(), "Never.md");
  assert.equal(text(root.querySelector(".llm-badge.llm-not-run")), "not run");
  assert.equal(text(root.querySelector(".llm-hint code")), 'llm-vault run "Never.md"');
  assert.equal(under(root, 0), null);
});

test("Live Preview: block widgets under each cell and the badge, from the same files", { skip }, () => {
  const doc = globalDocument();
  const { view, widgets } = livePreview(doc, "Demo.md");
  const { text: source } = note("Demo.md");
  const closing = plugin.findPythonCells(source).map((f) => f.close + 1);
  const drawn = widgets();
  const title = source.split("\n").indexOf("# Demo") + 1;
  assert.deepEqual(drawn.map((w) => w.line), [title, ...closing],
    "the badge under the title, then one widget after each closing fence");
  const [badge, exported, printed, table, figure, raises, skipped, stale] = drawn.map((w) => w.el);
  assert.ok(badge.querySelector(".llm-badge.llm-passed") && text(badge).includes("code changed since this run"));
  assert.match(text(exported.querySelector(".llm-export")), /companions\/demo_mod\.py/);
  assert.equal(text(printed.querySelector("pre.llm-stdout")), "doubled: 42");
  assert.deepEqual(Array.from(table.querySelectorAll("td")).map((c) => c.textContent), ["answer", "42 & more"]);
  assert.match(figure.querySelector("img")?.getAttribute("src") || "", /^app:\/\/vault\/\.llm-vault-outputs\/figures\/.+\.png$/);
  assert.match(text(raises), /raises KeyError \(expected\)/);
  assert.equal(text(skipped), "Not run: needs 8 GPUs");
  assert.ok(stale.querySelector(".llm-stale"));
  // CodeMirror put the first ones into the editor itself
  assert.ok(view.dom.querySelector(".cm-content .llm-vault-run .llm-badge.llm-passed"));
  assert.equal(text(view.dom.querySelector(".cm-content pre.llm-stdout")), "doubled: 42");

  // editing the cell back to the code that ran: no longer stale, without reloading anything
  const at = view.state.doc.toString().indexOf("after the edit");
  view.dispatch({ changes: { from: at, to: at + "after the edit".length, insert: "before the edit" } });
  assert.equal(widgets().filter((w) => w.el.querySelector(".llm-stale")).length, 0);
  view.destroy();

  const sourceMode = livePreview(doc, "Demo.md", false); // Source mode: the raw Markdown only
  assert.equal(sourceMode.widgets().length, 0);
  sourceMode.view.destroy();
});

test("Live Preview: the outputs appear once the store has read the note's file", { skip }, () => {
  const { text, data } = note("Demo.md");
  let loaded = false;
  const requested = /** @type {string[]} */ ([]);
  const field = plugin.outputsField({ peek: () => (loaded ? data : undefined), version: () => (loaded ? 1 : 0),
    request: (p) => { requested.push(p); }, resourceUrl, canRun: false });
  let state = EditorState.create({ doc: text, extensions: [host.editorInfoField.init(() => ({ file: { path: "Demo.md" } })),
    host.editorLivePreviewField.init(() => true), field] });
  assert.equal(state.field(field).size, 0);
  assert.deepEqual(requested, ["Demo.md"]);
  loaded = true;
  state = state.update({ effects: plugin.outputsChanged.of("Demo.md") }).state;
  assert.equal(state.field(field).size, 1 + plugin.findPythonCells(text).length);
});

test("time to render the longest note's outputs", { skip }, (t) => {
  const doc = newDocument();
  const started = process.hrtime.bigint();
  readingView(doc, "Demo.md");
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.diagnostic(`Demo.md: Reading view rendered in ${ms.toFixed(1)} ms`);
  assert.ok(doc.querySelectorAll(".llm-vault-cell").length > 0);
});
