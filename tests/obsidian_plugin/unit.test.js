// The plugin's parts on hand-made input: fences, attributes, cell matching, the HTML allow-list, the store.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { plugin, newDocument } = require("./harness");

const NOTE = [
  "---", "tags: [x]", "---", "# Title", "",
  "```python export", "def f():", "    return 1", "```", "",
  "````markdown", "```python", "not a cell", "```", "````", "",
  "> ```python", "> quoted()", "> ```", "",
  '```python skip="needs 8 GPUs"', "train()", "```",
].join("\n");

test("finds top-level python fences only, with 0-based lines and their code", () => {
  const cells = plugin.findPythonCells(NOTE);
  assert.deepEqual(cells.map((c) => [c.open, c.close, c.source]), [[5, 8, "def f():\n    return 1"], [20, 22, "train()"]]);
  assert.deepEqual(plugin.fenceAttrs(cells[1].info), { skip: "needs 8 GPUs" });
  assert.deepEqual(plugin.fenceAttrs("python export raises=ValueError timeout=30"), { export: true, raises: "ValueError" });
});

test("the hash ignores trailing spaces and surrounding blank lines, not edits", () => {
  const h = plugin.sourceHash;
  assert.equal(h("x = 1  \n\n"), h("\nx = 1"));
  assert.notEqual(h("x = 1"), h("x = 2"));
  assert.match(h("é"), /^2-[0-9a-f]{8}$/); // UTF-8 bytes, as the runner counts them
});

test("cells match by code: moved cells keep their output, edited ones are stale, new ones say so", () => {
  const rec = (hash, text) => ({ line: 1, hash, attrs: {}, executed: true, outputs: [{ kind: "stream", name: "stdout", text }] });
  const fence = (source) => ({ open: 0, close: 1, source, info: "python" });
  const data = { format: 1, note: "n.md", command: "", companion: null, run: /** @type {any} */ ({}),
    cells: [rec(plugin.sourceHash("a"), "A"), rec(plugin.sourceHash("b"), "B")] };
  const views = plugin.matchCells(data, [fence("b"), fence("a"), fence("c")]);
  assert.deepEqual(views.map((v) => [v.record && v.record.outputs[0].text, v.stale]), [["B", false], ["A", false], [null, true]]);
  const edited = plugin.matchCells(data, [fence("a2"), fence("b")]);
  assert.deepEqual(edited.map((v) => [v.record && v.record.outputs[0].text, v.stale]), [["A", true], ["B", false]]);
  assert.deepEqual(plugin.matchCells(null, [fence("a")]).map((v) => v.stale), [false]); // never run: not "stale"
});

test("HTML is rebuilt from the allow-list even if unsafe markup reached the file", () => {
  const doc = newDocument();
  const box = doc.createElement("div");
  box.appendChild(plugin.safeHtml(doc, '<table onclick="x()" class="t"><tr><td style="color:red">1<img src=x onerror="x()">'
    + '</td></tr></table><script>window.pwned = 1</script><a href="javascript:x()">link</a><iframe src="x"></iframe>'));
  assert.equal(box.innerHTML, '<table class="t"><tbody><tr><td>1</td></tr></tbody></table>link');
});

test("the store reads a note's file once, says when it changed, and reloads after a run", async () => {
  const files = new Map([[".llm-vault-outputs/notes/A/N.md.json", { mtime: 1, text: '{"format": 1, "cells": []}' }],
    [".llm-vault-outputs/notes/Old.md.json", { mtime: 1, text: '{"format": 0, "cells": []}' }]]);
  const adapter = /** @type {any} */ ({
    stat: async (/** @type {string} */ p) => (files.has(p) ? { type: "file", mtime: files.get(p)?.mtime, ctime: 0, size: 1 } : null),
    read: async (/** @type {string} */ p) => files.get(p)?.text,
    getResourcePath: (/** @type {string} */ p) => `app://x/${p}`,
  });
  const calls = /** @type {[string, boolean][]} */ ([]);
  const store = new plugin.OutputStore(adapter, (path, reloaded) => calls.push([path, reloaded]));
  assert.equal(store.peek("A/N.md"), undefined);
  assert.deepEqual(await store.get("A/N.md"), { format: 1, cells: [] });
  assert.deepEqual(await store.get("A/N.md"), { format: 1, cells: [] });
  assert.deepEqual(calls, [["A/N.md", false]], "read once");
  assert.equal(await store.get("Missing.md"), null); // never run
  assert.equal(await store.get("Old.md"), null); // a format this plugin does not know is not shown as current
  await store.revalidate("A/N.md");
  assert.equal(calls.length, 3, "unchanged file: not read again");
  files.set(".llm-vault-outputs/notes/A/N.md.json", { mtime: 2, text: '{"format": 1, "cells": [1]}' });
  await store.revalidate("A/N.md");
  assert.deepEqual(calls.at(-1), ["A/N.md", true]);
  assert.deepEqual(store.peek("A/N.md"), { format: 1, cells: [1] });
  assert.equal(store.resourceUrl("figures/f.png"), "app://x/.llm-vault-outputs/figures/f.png");
});

test("a note without code gets no badge; one with code never run says how to run it", () => {
  const doc = newDocument();
  const section = (/** @type {string} */ text) => {
    const el = doc.createElement("div");
    el.appendChild(doc.createElement("h1")).textContent = "T";
    plugin.decorateSection(el, { text, lineStart: 0, lineEnd: 0 }, "Dir/T.md", null, (s) => s, true);
    return el;
  };
  assert.equal(section("# T\n\nprose only\n\n```bash\nls\n```\n").querySelector(".llm-vault-run"), null);
  const hint = section("# T\n\n```python\nprint(1)\n```\n").querySelector(".llm-not-run + .llm-hint");
  assert.match(hint?.textContent || "", /“Run this note”.*llm-vault run "Dir\/T\.md"$/);
});
