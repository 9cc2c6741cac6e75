// "Run this note" outside Obsidian: the plugin's runNote, with the app's Notice and file-system adapter stood in
// for, starts the real runner (LLM_VAULT_RUNNER, the `llm-vault` script) on a note of the test vault that was
// never run, says how it went, and loads the outputs the runner wrote; a runner that is not installed is named.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { plugin, host, globalDocument } = require("./harness");

const VAULT = process.env.LLM_VAULT_TEST_VAULT || "";
const RUNNER = process.env.LLM_VAULT_RUNNER || "";
const skip = VAULT && RUNNER ? false : "set LLM_VAULT_TEST_VAULT and LLM_VAULT_RUNNER (tests/test_obsidian_plugin.py does)";

/** A plugin instance in a stand-in desktop app; resolves `finished` with the last notice once a run ends. */
function desktopPlugin(runner) {
  globalDocument(); // window.setInterval for the progress notice
  const notices = /** @type {string[]} */ ([]);
  let done = /** @type {(message: string) => void} */ (() => {});
  const finished = new Promise((resolve) => { done = resolve; });
  host.Platform.isDesktopApp = true;
  host.Notice = class {
    constructor(/** @type {string} */ message) { notices.push(message); if (!/^Running /.test(message)) done(message); }
    setMessage(/** @type {string} */ message) { notices.push(message); return this; }
    hide() {}
  };
  host.FileSystemAdapter = class {
    getBasePath() { return VAULT; }
    async stat(/** @type {string} */ p) {
      const full = path.join(VAULT, p);
      return fs.existsSync(full) ? { type: "file", mtime: fs.statSync(full).mtimeMs, ctime: 0, size: 0 } : null;
    }
    async read(/** @type {string} */ p) { return fs.readFileSync(path.join(VAULT, p), "utf8"); }
    getResourcePath(/** @type {string} */ p) { return `app://vault/${p}`; }
  };
  const app = { vault: { adapter: new host.FileSystemAdapter() }, workspace: { getLeavesOfType: () => [] } };
  const instance = new plugin.default(app);
  instance.settings.runner = runner;
  return { instance, notices, finished };
}

const file = /** @type {any} */ ({ path: "Later.md", basename: "Later", extension: "md" });

test("Run this note runs the runner on the note, then loads what it wrote", { skip, timeout: 120000 }, async () => {
  const { instance, notices, finished } = desktopPlugin(RUNNER);
  assert.equal(await instance.store.get("Later.md"), null, "not run yet");
  instance.runNote(file);
  assert.equal(notices[0], "Running Later…");
  const message = await finished;
  assert.match(message, /^Later: passed \(\d+\.\d s\)$/, notices.join("\n"));
  const data = await instance.store.get("Later.md");
  assert.equal(data && data.cells[0].outputs[0].text, "run from Obsidian\n");
  assert.equal(instance.running.size, 0);
});

test("a runner that is not installed gets a clear message", { skip }, async () => {
  const { instance, finished } = desktopPlugin(path.join(VAULT, "no-such-runner"));
  instance.runNote(file);
  assert.match(await finished, /^The runner “.*no-such-runner” is not installed .* pip install -e \./);
});
