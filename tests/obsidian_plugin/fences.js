// `node fences.js NOTE.md ...`: the ```python cells the plugin finds in each note, as JSON (for
// tests/test_obsidian_plugin.py, which compares them with what the runner's Markdown parser finds).
"use strict";
const fs = require("node:fs");
const { plugin } = require("./harness");

const out = {};
for (const file of process.argv.slice(2)) {
  out[file] = plugin.findPythonCells(fs.readFileSync(file, "utf8")).map((f) => ({
    line: f.open + 1, end_line: f.close + 1, hash: plugin.sourceHash(f.source), attrs: plugin.fenceAttrs(f.info),
  }));
}
process.stdout.write(JSON.stringify(out));
