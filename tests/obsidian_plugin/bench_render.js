// `node bench_render.js [VAULT]`: how long the plugin takes to render every note's outputs (default: the project's
// vault, after `llm-vault run` wrote them), in Reading view and as Live Preview widgets, and the plugin's size.
// Prints figures, asserts nothing: a measurement, not a test.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { plugin, globalDocument, reader, PLUGIN } = require("./harness");

const vault = path.resolve(process.argv[2] || path.join(__dirname, "../../vault"));
const { readingView, livePreview } = reader(vault);
const notesDir = path.join(vault, plugin.OUTPUT_DIR, "notes");
const rels = [];
(function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else if (entry.name.endsWith(".md.json")) rels.push(path.relative(notesDir, full).slice(0, -5).split(path.sep).join("/"));
  }
})(notesDir);
if (!rels.length) throw new Error(`no outputs under ${notesDir}: run \`llm-vault run\` first`);

const doc = globalDocument();
const REPEAT = 7;
/** The median of REPEAT timings, in ms: the machine may be busy. @param {() => void} fn */
const ms = (fn) => {
  const times = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    doc.body.textContent = "";
  }
  return times.sort((a, b) => a - b)[REPEAT >> 1];
};
for (const rel of rels) readingView(doc, rel); // warm up the JIT and jsdom
doc.body.textContent = "";
const rows = rels.map((rel) => {
  const bytes = fs.statSync(path.join(notesDir, `${rel}.json`)).size;
  const reading = ms(() => readingView(doc, rel));
  let widgets = 0;
  const live = ms(() => {
    const { view, widgets: draw } = livePreview(doc, rel);
    widgets = draw().length;
    view.destroy();
  });
  return { rel, lines: fs.readFileSync(path.join(vault, rel), "utf8").split("\n").length, bytes, reading, live, widgets };
});
rows.sort((a, b) => b.bytes - a.bytes);
const size = (/** @type {string} */ f) => fs.statSync(path.join(path.dirname(PLUGIN), f)).size;
console.log(`plugin: main.js ${size("main.js")} B + styles.css ${size("styles.css")} B = ${size("main.js") + size("styles.css")} B`);
console.log(`${rels.length} notes (median of ${REPEAT} renders each); the longest, by outputs and by lines:`);
const longest = rows.reduce((a, b) => (b.lines > a.lines ? b : a));
for (const r of [...rows.slice(0, 3), longest]) {
  console.log(`  ${r.rel}: ${r.lines} lines, outputs ${(r.bytes / 1024).toFixed(1)} KiB, Reading view ${r.reading.toFixed(1)} ms, `
    + `Live Preview (editor + ${r.widgets} widgets) ${r.live.toFixed(1)} ms`);
}
const slowest = rows.reduce((a, b) => (b.reading > a.reading ? b : a));
console.log(`slowest Reading view: ${slowest.rel} ${slowest.reading.toFixed(1)} ms; all notes: `
  + `${rows.reduce((s, r) => s + r.reading, 0).toFixed(0)} ms Reading view, ${rows.reduce((s, r) => s + r.live, 0).toFixed(0)} ms Live Preview`);
