// The plugin's pure parts, on hand-made input: fences, attributes, cell matching, the HTML allow-list.
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
